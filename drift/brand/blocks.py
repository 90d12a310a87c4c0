"""Slack Block Kit for brand events, laid out for a phone: one column, short lines, posts as quotes.

Header (what moved, which brand), one sentence with the numbers, "mostly about" terms, hashtags
and @handles, voices vs raw posts and the share of reposts, then 3–5 representative posts as
block quotes, and a footer saying this is a brand alert (no retrain is requested).
"""

from __future__ import annotations

from typing import Any

from drift.brand.monitor import BrandEvent

_TITLES = {
    "brand_volume_spike": ("📈", "mention spike"),
    "brand_negative_spike": ("🔻", "negative spike"),
    "brand_positive_surge": ("💚", "positive surge"),
}


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def event_title(event: BrandEvent) -> str:
    emoji, what = _TITLES[event.kind]
    if event.phase == "resolve":
        return f"✅ {event.brand}: {what} resolved"
    if event.phase == "escalate":
        return f"⏫ {event.brand}: {what} still growing"
    return f"{emoji} {event.brand}: {what}"


def event_text(event: BrandEvent) -> str:
    """Notification fallback / stdout line."""
    return f"[brandpulse] {event_title(event)} — {event.message}"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def event_blocks(event: BrandEvent) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": event_title(event)[:150], "emoji": True}},
        _section(_esc(event.message)),
    ]
    why = event.why
    if why is not None:
        about = [f"`{_esc(t.token)}`" for t in why.terms[:6]] + [_esc(t.token) for t in why.hashtags[:3] + why.handles[:3]]
        if about:
            blocks.append(_section("*Mostly about*\n" + " · ".join(about)))
        blocks.append(_section(
            f"*Voices* {why.voices:,} of {why.posts:,} posts"
            + (f" · *authors* {why.authors:,}" if why.authors else "")
            + f" · *reposts* {why.repost_share:.0%}"
            + (f" · *reach* {why.reach:,} reposts" if why.reach else "")
            + f"\n*Negative* {why.sentiment['negative']:.0%} (usually {why.baseline_sentiment['negative']:.0%})"
        ))
        if why.examples:
            quotes = "\n".join(
                f">{_esc(ex.text[:280]).replace(chr(10), ' ')}\n_{ex.reason}"
                + (f", {ex.copies} copies" if ex.copies > 1 else "") + f", {ex.label} {ex.confidence:.2f}_"
                for ex in why.examples
            )
            blocks.append(_section("*Typical posts*\n" + quotes))
    epoch = int(event.at.timestamp())
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
        f"Brand alert (no retrain requested) · since <!date^{int(event.started_at.timestamp())}^{{time}}|"
        f"{event.started_at:%H:%M}> · <!date^{epoch}^{{date_short_pretty}} {{time}}|{event.at.isoformat(timespec='minutes')}>"
        f" · `{event.event_id}`")}]})
    return blocks


def digest_blocks(route: str, events: list[BrandEvent]) -> list[dict[str, Any]]:
    """One message for the alerts a route held back (quiet hours or a digest-only route)."""
    lines = []
    for e in events[:40]:
        lines.append(f"• <!date^{int(e.at.timestamp())}^{{time}}|{e.at:%H:%M}> *{_esc(event_title(e))}* — {_esc(e.message)[:300]}")
    more = f"\n…and {len(events) - 40} more" if len(events) > 40 else ""
    return [
        {"type": "header", "text": {"type": "plain_text", "text": f"🗞 brandpulse digest: {len(events)} brand alert(s)"[:150], "emoji": True}},
        _section("\n".join(lines) + more),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"route `{_esc(route)}` · brand alerts held for this digest"}]},
    ]
