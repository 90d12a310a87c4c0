"""Every Slack message brandpulse sends, rendered here and only here, with slack_sdk's block models.

Model alerts (with the retrain they opened or joined), the end of a model alert's episode, brand alerts
(laid out for a phone: one column, short lines, posts as quotes), digests of held-back brand alerts,
retrain outcomes (registered, rejected, skipped, failed) and promotions.
Pure functions from records to :class:`SlackMessage`; :mod:`streams.slack.notifier` only sends them.

Every string that comes from outside — brands and post texts from the feed, model versions from the
registry, detector and error messages that quote them, ids off a topic — passes through
:mod:`streams.slack.text` (cleaned, cut, escaped), in the blocks and in the notification ``text``
alike. Slack's limits hold by construction: header 150 characters, section text 3,000, a field
2,000, context 10 elements, 50 blocks, message text 40,000 (the fallback here stays under 1,000).
A digest says how many alerts it holds and lists every one: past :data:`DIGEST_PAGE` alerts it
becomes several messages, each saying which part of the whole it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, MarkdownTextObject, PlainTextObject, SectionBlock

from drift.brand.monitor import BrandEvent
from drift.records import Alert, RetrainAlert, RetrainStatus
from streams.slack.text import clean, code, escape_mrkdwn, escape_plain, fit

TEXT_MAX = 40_000
SECTION_MAX = 3_000
FIELD_MAX = 2_000
HEADER_MAX = 150
BLOCKS_MAX = 50
CONTEXT_MAX = 10
FALLBACK_MAX = 1_000  # the notification line: a phone shows its first words only
DIGEST_PAGE = 20  # brand alerts per digest message
EXAMPLES_SHOWN = 5  # typical posts quoted in a brand alert
POST_IDS_SHOWN = 10  # sample post ids in a model alert


@dataclass(frozen=True)
class SlackMessage:
    """One webhook post: the notification ``text`` and the blocks, both already safe to send."""

    key: str  # names the message in logs (an alert id, a digest part); cleaned, never the content
    text: str
    blocks: tuple[Block, ...]

    def payload(self) -> dict[str, Any]:
        """The JSON body for the webhook (slack_sdk validates each block on the way)."""
        return {"text": self.text, "blocks": [b.to_dict() for b in self.blocks]}


@dataclass(frozen=True)
class Kind:
    emoji: str
    title: str
    next: str  # what happens next, in one or two sentences


_MODEL_RETRAINS = "A retrain request is opened for this model version (one at a time; further alerts join it)."
_BRAND = "Brand alert (no retrain requested): about the brand, not the model."
# One entry per alert kind (drift.records.AlertKind); tests check none is missing.
KINDS: dict[str, Kind] = {
    "confidence_drift": Kind("🟠", "Confidence drift", (
        "If overall confidence fell, a retrain request is opened for this model version (one at a time; "
        "further alerts join it); a brand's confidence moving, or confidence rising, does not retrain. "
        "Flyback labelling keeps sampling, so labelled accuracy will confirm or clear this. "
        "Check the sample posts for a new topic, language or spam wave.")),
    "label_drift": Kind("🔴", "Label-distribution drift", (
        f"{_MODEL_RETRAINS} If the sample posts are correctly labelled this is a real change in sentiment, "
        "not model failure — check the brand dashboard before retraining.")),
    "sentiment_shift": Kind("📣", "Sentiment shift", (
        "No retraining: the model's estimated accuracy and input look as validated, so this is what people "
        "say about the brand. Check the brand dashboard and the sample posts; flyback labels keep checking the model.")),
    "estimated_performance": Kind("🔴", "Estimated accuracy fell", (
        f"{_MODEL_RETRAINS} Flyback labels will confirm the drop; check the sample posts (the least confident ones).")),
    "input_drift": Kind("🟠", "Input drift", (
        "A retrain request is opened for this model version: the model reads a different kind of text than it "
        "was validated on. Check the sample posts for a new source, language or spam wave.")),
    "labelled_performance": Kind("🔴", "Live accuracy dropped", (
        "Retraining is requested with the newest human labels; the challenger runs in shadow and is "
        "promoted only if it beats this version on the held-out set.")),
    "retrain": Kind("🔁", "Retrain finished", "See the trainer's report for this run."),
    "promotion": Kind("🚀", "Model promoted", (
        "The new champion is live in every worker; drift detectors restart with its reference distribution.")),
    "brand_volume_spike": Kind("📈", "Mention spike", _BRAND),
    "brand_negative_spike": Kind("🔻", "Negative spike", _BRAND),
    "brand_positive_surge": Kind("💚", "Positive surge", _BRAND),
    "brand_spike_escalated": Kind("⏫", "Brand spike still growing", _BRAND),
    "brand_spike_resolved": Kind("✅", "Brand spike resolved", _BRAND),
}
_RESOLVED_NEXT = {
    "quiet": "Nothing to do. A new alert of this kind opens a new episode once the cool-down is over.",
    "replaced": "Nothing to do: the model version these alerts were about no longer serves.",
}
RETRAIN: dict[RetrainStatus, Kind] = {
    "registered": Kind("🧪", "Challenger registered", (
        "The challenger is scored in shadow next to the champion and promoted only if it beats it "
        "on the flyback sample's human labels.")),
    "rejected": Kind("🚫", "Retrained model rejected", (
        "It stays in the registry with its reports; the champion keeps serving. "
        "The next model-health alert may ask for another retrain.")),
    "skipped": Kind("⏭️", "Retrain skipped", (
        "Nothing was trained (usually too few human labels); the next model-health alert may ask again.")),
    "failed": Kind("💥", "Retrain failed", (
        "Nothing was registered; the trainer's log has the traceback. The next model-health alert may ask again.")),
}


# ------------------------------------------------------------------ blocks


def _header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=text, emoji=True))


def _mrkdwn(text: str) -> MarkdownTextObject:
    # verbatim: Slack must not turn bare URLs, #channels or names in the user's text into links or mentions.
    return MarkdownTextObject(text=text, verbatim=True)


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=_mrkdwn(text))


def _fields(fields: Sequence[str]) -> SectionBlock:
    return SectionBlock(fields=[_mrkdwn(f) for f in fields])


def _context(*texts: str) -> ContextBlock:
    return ContextBlock(elements=[_mrkdwn(t) for t in texts])


def _when(ts: dt.datetime, style: str = "{date_short_pretty} {time}") -> str:
    """A date Slack shows in the reader's time zone (our own text: a timestamp and ISO fallback)."""
    return f"<!date^{int(ts.timestamp())}^{style}|{ts.isoformat(timespec='minutes')}>"


def _key(text: str) -> str:
    return clean(text)[:80]


def _fallback(text: str) -> str:
    # Every user part is fitted to its own budget, so this holds by construction (cutting here could split an entity).
    assert len(text) <= FALLBACK_MAX, len(text)
    return text


def _more(shown: int, total: int, what: str) -> str:
    return f" …and {total - shown:,} more {what}" if total > shown else ""


def _footer(alert: Alert) -> ContextBlock:
    return _context(f"alert {code(alert.alert_id, 100)} · detected {_when(alert.detected_at)}")


# ------------------------------------------------------------------ model alerts


def alert_message(alert: Alert) -> SlackMessage:
    """Any alert: retrain outcomes and promotions get their own layout, every other kind this one —
    what drifted, how much, since when, sample posts, what happens next."""
    if alert.kind == "retrain":
        return retrain_message(alert)
    if alert.kind == "promotion":
        return promotion_message(alert)
    if alert.resolution is not None:
        return resolved_message(alert)
    kind = KINDS[alert.kind]
    scope = f"brand {code(alert.brand, 200)}" if alert.brand else "all brands"
    ids = alert.example_post_ids
    samples = ", ".join(code(pid, 64) for pid in ids[:POST_IDS_SHOWN]) + _more(POST_IDS_SHOWN, len(ids), "posts")
    blocks = (
        _header(f"{kind.emoji} {kind.title}"),
        _section(fit(alert.message or kind.title, SECTION_MAX, multiline=True)),
        _fields([
            f"*Model version*\n{code(alert.model_version, 200)}",
            f"*Scope*\n{scope}",
            f"*Statistic*\n{alert.statistic:.4g} (threshold {alert.threshold:.4g})",
            f"*Detector*\n{code(alert.detector, 200)}",
            f"*Window*\n{alert.window:,} posts",
            f"*Since*\n{_when(alert.since) if alert.since else 'unknown'}",
            *([f"*Retrain*\n{_retrain(alert)}"] if alert.retrain_id else []),
        ]),
        _section(f"*Sample posts*\n{samples or 'none'}"),
        _context(f"*What happens next:* {kind.next}"),
        _footer(alert),
    )
    where = f"brand {fit(alert.brand, 100)}" if alert.brand else "all brands"
    retrain = f"; {_retrain(alert, fit(alert.retrain_id, 100))}" if alert.retrain_id else ""
    text = _fallback(
        f"[brandpulse] {kind.title} — {fit(alert.model_version, 100)}, {where}: {fit(alert.message, 500)} "
        f"({fit(alert.detector, 100)}: {alert.statistic:.4g} vs threshold {alert.threshold:.4g}{retrain})"
    )
    return SlackMessage(_key(alert.alert_id), text, blocks)


def _retrain(alert: Alert, shown: str | None = None) -> str:
    """'opened retrain `<id>`' or 'joined retrain `<id>`'."""
    return f"{'opened' if alert.retrain_opened else 'joined'} retrain {shown or code(alert.retrain_id or '', 100)}"


def resolved_message(alert: Alert) -> SlackMessage:
    """The end of a model alert's episode: how long it lasted, how many repeats it held back, why it ended."""
    kind = KINDS[alert.kind]
    scope = f"brand {code(alert.brand, 200)}" if alert.brand else "all brands"
    title = f"✅ {kind.title} resolved"
    blocks = (
        _header(title),
        _section(fit(alert.message or title, SECTION_MAX, multiline=True)),
        _fields([
            f"*Model version*\n{code(alert.model_version, 200)}",
            f"*Scope*\n{scope}",
            f"*Open since*\n{_when(alert.since) if alert.since else 'unknown'}",
            f"*Opened by*\n{code(alert.resolves, 100) if alert.resolves else 'unknown'}",
        ]),
        _context(f"*What happens next:* {_RESOLVED_NEXT[alert.resolution or 'quiet']}"),
        _footer(alert),
    )
    where = f"brand {fit(alert.brand, 100)}" if alert.brand else "all brands"
    text = _fallback(f"[brandpulse] {kind.title} resolved — {fit(alert.model_version, 100)}, {where}: {fit(alert.message, 600)}")
    return SlackMessage(_key(alert.alert_id), text, blocks)


# ------------------------------------------------------------------ retrain outcomes and promotions


def retrain_message(alert: Alert) -> SlackMessage:
    """A retrain's outcome: a challenger registered, or why there is none (rejected, skipped, failed)."""
    status = alert.status if isinstance(alert, RetrainAlert) else None
    kind = RETRAIN[status] if status is not None else KINDS["retrain"]
    fields = []
    if isinstance(alert, RetrainAlert):
        fields.append(f"*Requested for*\n{code(alert.requested_for, 200)}")
    if status in (None, "registered", "rejected"):
        fields += [
            f"*New model*\n{code(alert.model_version, 200)}",
            f"*Held-out macro-F1*\n{alert.statistic:.3f} (champion {alert.threshold:.3f})",
            f"*Held-out labels*\n{alert.window:,}",
        ]
    blocks = [_header(f"{kind.emoji} {kind.title}"), _section(fit(alert.message or kind.title, SECTION_MAX, multiline=True))]
    if fields:
        blocks.append(_fields(fields))
    blocks += [_context(f"*What happens next:* {kind.next}"), _footer(alert)]
    text = _fallback(f"[brandpulse] {kind.title}: {fit(alert.message, 600)}")
    return SlackMessage(_key(alert.alert_id), text, tuple(blocks))


def promotion_message(alert: Alert) -> SlackMessage:
    """A new champion (promoted by the shadow comparison or by a person)."""
    kind = KINDS["promotion"]
    decided = "the shadow comparison" if alert.detector == "shadow_comparison" else code(alert.detector, 200)
    fields = [f"*New champion*\n{code(alert.model_version, 200)}", f"*Decided by*\n{decided}"]
    if alert.window:
        fields += [f"*Macro-F1 on human labels*\n{alert.statistic:.3f} (champion {alert.threshold:.3f})",
                   f"*Human labels*\n{alert.window:,}"]
    blocks = (
        _header(f"{kind.emoji} {kind.title}"),
        _section(fit(alert.message or kind.title, SECTION_MAX, multiline=True)),
        _fields(fields),
        _context(f"*What happens next:* {kind.next}"),
        _footer(alert),
    )
    text = _fallback(f"[brandpulse] {kind.title}: {fit(alert.model_version, 100)} — {fit(alert.message, 600)}")
    return SlackMessage(_key(alert.alert_id), text, blocks)


# ------------------------------------------------------------------ brand alerts and digests


def _brand_title(event: BrandEvent, budget: int, escape: Callable[[str], str] = escape_mrkdwn) -> str:
    """'📈 United: mention spike' (or '… still growing', '… resolved'), the brand cut to fit ``budget``."""
    kind = KINDS[event.kind]
    what = kind.title.lower()
    before, after = {
        "start": (f"{kind.emoji} ", f": {what}"),
        "escalate": ("⏫ ", f": {what} still growing"),
        "resolve": ("✅ ", f": {what} resolved"),
    }[event.phase]
    brand = fit(event.brand, budget - len(before) - len(after), escape=escape)
    return f"{before}{brand}{after}"


def _pct(shares: dict[str, float], label: str) -> str:
    return f"{shares.get(label, 0.0):.0%}"


def brand_message(event: BrandEvent) -> SlackMessage:
    """A brand alert: header, the numbers, what the posts are mostly about, who posts, typical posts."""
    blocks: list[Block] = [
        _header(_brand_title(event, HEADER_MAX, escape_plain)),
        _section(fit(event.message, SECTION_MAX, multiline=True)),
    ]
    why = event.why
    if why is not None:
        about = [code(t.token, 40) for t in why.terms[:6] + why.hashtags[:3] + why.handles[:3]]
        if about:
            blocks.append(_section("*Mostly about*\n" + " · ".join(about)))
        blocks.append(_section(
            f"*Voices* {why.voices:,} of {why.posts:,} posts"
            + (f" · *authors* {why.authors:,}" if why.authors else "")
            + f" · *reposts* {why.repost_share:.0%}"
            + (f" · *reach* {why.reach:,} reposts" if why.reach else "")
            + f"\n*Negative* {_pct(why.sentiment, 'negative')} (usually {_pct(why.baseline_sentiment, 'negative')})"
        ))
        if why.examples:
            quotes = "\n".join(
                f">{fit(ex.text, 280)}\n_{fit(ex.reason, 60)}"
                + (f", {ex.copies:,} copies" if ex.copies > 1 else "") + f", {fit(ex.label, 20)} {ex.confidence:.2f}_"
                for ex in why.examples[:EXAMPLES_SHOWN]
            )
            blocks.append(_section("*Typical posts*\n" + quotes + _more(EXAMPLES_SHOWN, len(why.examples), "posts")))
    blocks.append(_context(
        f"{_BRAND} · since {_when(event.started_at, '{time}')} · {_when(event.at)} · {code(event.event_id, 100)}"
    ))
    text = _fallback(f"[brandpulse] {_brand_title(event, 200)} — {fit(event.message, 600)}")
    return SlackMessage(_key(event.event_id), text, tuple(blocks))


def _pack(lines: Sequence[str], limit: int = SECTION_MAX) -> list[str]:
    """Lines joined into as few texts of at most ``limit`` characters as they fit in (none is cut)."""
    texts: list[str] = []
    for line in lines:
        if texts and len(texts[-1]) + 1 + len(line) <= limit:
            texts[-1] += "\n" + line
        else:
            texts.append(line)
    return texts


def digest_messages(route: str, events: Sequence[BrandEvent]) -> list[SlackMessage]:
    """The brand alerts a route held back (quiet hours, or a digest-only route), every one of them:
    :data:`DIGEST_PAGE` per message, each message saying how many there are and which ones it lists."""
    n = len(events)
    pages = [events[i:i + DIGEST_PAGE] for i in range(0, n, DIGEST_PAGE)]
    noun = "brand alert" if n == 1 else "brand alerts"
    messages = []
    for p, page in enumerate(pages, start=1):
        first, last = (p - 1) * DIGEST_PAGE + 1, (p - 1) * DIGEST_PAGE + len(page)
        part = f" · part {p} of {len(pages)}" if len(pages) > 1 else ""
        lines = [f"• {_when(e.at, '{time}')} *{_brand_title(e, 80)}* — {fit(e.message, 240)}" for e in page]
        blocks = (
            _header(f"🗞 brandpulse digest: {n:,} {noun}{part}"),
            *(_section(t) for t in _pack(lines)),
            _context(f"route {code(route, 100)} · alerts {first:,}–{last:,} of {n:,} · held for this digest"),
        )
        text = _fallback(f"[brandpulse] digest: {n:,} {noun}{part} (alerts {first:,}–{last:,}) · route {fit(route, 100)}")
        messages.append(SlackMessage(_key(f"digest {p}/{len(pages)} of route {route}"), text, blocks))
    return messages
