"""The dashboard's brand panels: distinct voices vs raw mentions, the language mix, share of voice.

Data comes from :mod:`streams.views.brand_queries` (the same SQL as ``/voices`` and ``/share``); rendering
is pure HTML with inline bars, so the page still fetches nothing from elsewhere.
"""

from __future__ import annotations

from html import escape
from typing import Any

from pydantic import BaseModel

from streams.views.brand_queries import share_report, voices_report
from streams.store.protocol import Store

MAX_LANGUAGES = 6


class VoicesTotals(BaseModel):
    posts: int
    distinct_texts: int
    authors: int
    languages: dict[str, int]
    buckets: list[dict[str, Any]]


class ShareRow(BaseModel):
    brand: str
    posts: int
    negative: int
    share: float
    negative_share_of_group: float


class BrandPanels(BaseModel):
    voices: VoicesTotals | None = None
    group: str | None = None
    share: list[ShareRow] = []


def group_of(brand: str, groups: dict[str, list[str]]) -> str | None:
    return next((g for g, members in sorted(groups.items()) if brand in members), None)


def gather_brand_panels(
    store: Store, *, brand: str | None, groups: dict[str, list[str]], since: str, bucket: str, until: str
) -> BrandPanels:
    """Voices and languages for one brand, share of voice in its group (or the first group for all brands)."""
    panels = BrandPanels()
    if brand:
        v = voices_report(store, brand=brand, since=since, bucket=bucket, until=until)
        langs: dict[str, int] = {}
        for b in v["buckets"]:
            for lang, n in b["languages"].items():
                langs[lang] = langs.get(lang, 0) + n
        panels.voices = VoicesTotals(
            posts=sum(b["posts"] for b in v["buckets"]), distinct_texts=sum(b["distinct_texts"] for b in v["buckets"]),
            authors=sum(b["authors"] for b in v["buckets"]), languages=dict(sorted(langs.items(), key=lambda kv: -kv[1])),
            buckets=v["buckets"],
        )
    group = group_of(brand, groups) if brand else next(iter(sorted(groups)), None)
    if group:
        report = share_report(store, groups, group=group, since=since, bucket=bucket, until=until)
        totals: dict[str, list[int]] = {b: [0, 0] for b in report["brands"]}
        for bucket_row in report["buckets"]:
            for s in bucket_row["brands"]:
                totals[s["brand"]][0] += s["posts"]
                totals[s["brand"]][1] += s["negative"]
        all_posts = sum(p for p, _ in totals.values())
        all_negative = sum(n for _, n in totals.values())
        panels.group = group
        panels.share = sorted(
            (ShareRow(brand=b, posts=p, negative=n, share=p / all_posts if all_posts else 0.0,
                      negative_share_of_group=n / all_negative if all_negative else 0.0) for b, (p, n) in totals.items()),
            key=lambda r: -r.posts,
        )
    return panels


def _bar(fraction: float, css: str) -> str:
    return f'<span class="hbar {css}" style="width:{max(fraction, 0.0) * 100:.1f}%"></span>'


def voices_section(panels: BrandPanels, brand: str | None) -> str:
    if panels.voices is None:
        return '<p class="muted">Pick a brand to see its distinct voices and languages.</p>'
    v = panels.voices
    if not v.posts:
        return '<p class="muted">No posts for this brand in the window.</p>'
    rows = [
        ("raw mentions", v.posts, 1.0),
        ("distinct texts (reposts and copies count once)", v.distinct_texts, v.distinct_texts / v.posts),
        ("distinct authors", v.authors, v.authors / v.posts),
    ]
    voices = "".join(
        f'<tr class="voices-{i}"><td>{escape(name)}</td><td class="num">{n:,}</td><td class="barcell">{_bar(frac, "hbar-voices")}</td></tr>'
        for i, (name, n, frac) in enumerate(rows)
    )
    top = list(v.languages.items())[:MAX_LANGUAGES]
    other = v.posts - sum(n for _, n in top)
    if other > 0:
        top.append(("other", other))
    langs = "".join(
        f'<tr class="lang"><td>{escape("not given" if lang == "?" else lang)}</td><td class="num">{n:,}</td><td class="num">{n / v.posts:.1%}</td>'
        f'<td class="barcell">{_bar(n / v.posts, "hbar-lang")}</td></tr>'
        for lang, n in top
    )
    return (
        '<div class="panels">'
        f'<table id="voices"><caption>Voices · {escape(brand or "")} (sums over buckets)</caption><tbody>{voices}</tbody></table>'
        f'<table id="languages"><caption>Language mix of scored posts</caption>'
        f"<thead><tr><th>lang</th><th class=num>posts</th><th class=num>share</th><th></th></tr></thead><tbody>{langs}</tbody></table>"
        "</div>"
    )


def share_section(panels: BrandPanels, brand: str | None) -> str:
    if not panels.group:
        return '<p class="muted">No brand groups in the brand rules.</p>'
    if not any(r.posts for r in panels.share):
        return f'<p class="muted">No posts for {escape(panels.group)} in the window.</p>'
    rows = "".join(
        f'<tr class="share-row{" selected" if r.brand == brand else ""}"><td>{escape(r.brand)}</td><td class="num">{r.posts:,}</td>'
        f'<td class="num">{r.share:.1%}</td><td class="barcell">{_bar(r.share, "hbar-share")}</td>'
        f'<td class="num">{r.negative_share_of_group:.1%}</td><td class="barcell">{_bar(r.negative_share_of_group, "hbar-negative")}</td></tr>'
        for r in panels.share
    )
    head = "<tr><th>brand</th><th class=num>mentions</th><th class=num>share of voice</th><th></th><th class=num>share of negative</th><th></th></tr>"
    return f'<table id="share-of-voice"><caption>{escape(panels.group)}</caption><thead>{head}</thead><tbody>{rows}</tbody></table>'


PANEL_CSS = (
    ".panels{display:flex;gap:28px;flex-wrap:wrap}.panels table{flex:1;min-width:320px}"
    "caption{text-align:left;font-weight:600;padding:0 0 6px}.barcell{width:32%}"
    ".hbar{display:inline-block;height:10px;border-radius:3px;vertical-align:middle}"
    ".hbar-voices{background:#486581}.hbar-lang{background:#829ab1}.hbar-share{background:#5b21b6}"
    ".hbar-negative{background:#d64545}tr.selected td{font-weight:650}"
)
