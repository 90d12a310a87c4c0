"""The "why" of a brand alert: what the window's posts talk about that the baseline's do not.

:func:`explain` takes the window's posts and a sample of the baseline's (plain :class:`BrandPost`
objects — the worker passes what it kept in memory, ``brandpulse why`` what it read from
ClickHouse) and returns

- the **terms, hashtags and @handles** that distinguish the window (log-odds ratio with an
  informative Dirichlet prior, :mod:`drift.brand.terms`), counted once per *voice* so a retweet
  flood cannot write the explanation on its own; for a sentiment spike both sides are narrowed to
  that sentiment when the baseline has enough of it ("what are the *new* complaints about");
- the **share of reposts** (retweets, copies of a text already in the window, posts the source
  marked as reposts) and the reach (repost counts the source reported);
- **3–5 representative posts**: the most reposted texts first, then the most confident posts of
  the alert's sentiment that use the top terms.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence

from pydantic import BaseModel, Field

from drift.brand.config import WhyConfig
from drift.brand.post import BrandPost
from drift.brand.terms import Tokens, count, log_odds, tokenize
from drift.brand.voices import fingerprint, is_retweet

LABELS = ("negative", "neutral", "positive")


class Term(BaseModel):
    token: str
    z: float
    window: int = Field(description="window voices using it")
    baseline: int = Field(description="baseline voices using it")


class Example(BaseModel):
    post_id: str
    text: str
    label: str
    confidence: float
    copies: int = Field(description="posts with this text in the window")
    reposts: int = Field(description="repost count the source reported")
    reason: str


class Why(BaseModel):
    brand: str
    start: dt.datetime
    end: dt.datetime
    focus: str | None = Field(default=None, description="sentiment the terms were narrowed to")
    posts: int
    voices: int = Field(description="distinct normalised texts (reposts and copies count once)")
    authors: int = Field(description="distinct authors among posts that name one")
    repost_share: float
    reach: int
    sentiment: dict[str, float]
    baseline_posts: int
    baseline_sentiment: dict[str, float]
    terms: list[Term]
    hashtags: list[Term]
    handles: list[Term]
    examples: list[Example]

    def headline(self, limit: int = 5) -> str:
        """'lost bag, luggage, #fail, @united' — the first words of an alert message."""
        picks = [t.token for t in self.terms[:limit]]
        picks += [t.token for t in self.hashtags[:2]] + [t.token for t in self.handles[:2]]
        return ", ".join(picks)


def _mix(posts: Sequence[BrandPost]) -> dict[str, float]:
    c = Counter(p.label for p in posts)
    n = len(posts) or 1
    return {label: c.get(label, 0) / n for label in LABELS}


def _voices(posts: Sequence[BrandPost]) -> tuple[list[BrandPost], Counter[int], int]:
    """First post of each text, copies per text, and how many posts were reposts or copies."""
    copies: Counter[int] = Counter()
    first: dict[int, BrandPost] = {}
    reposts = 0
    for p in posts:
        fp = fingerprint(p.text)
        copies[fp] += 1
        if fp in first or p.is_repost or is_retweet(p.text):
            reposts += 1
        first.setdefault(fp, p)
    return list(first.values()), copies, reposts


def _distinctive(window: Counter[str], baseline: Counter[str], cfg: WhyConfig, top: int) -> list[Term]:
    out: list[Term] = []
    for d in log_odds(window, baseline, cfg.prior_mass):
        if d.z < cfg.min_z:
            break
        if d.window_count >= cfg.min_term_voices:
            out.append(Term(token=d.token, z=round(d.z, 2), window=d.window_count, baseline=d.baseline_count))
    # "lost bag" already says "lost" and "bag": drop unigrams that a higher-ranked bigram contains.
    bigram_words = set()
    kept: list[Term] = []
    for t in out:
        if " " in t.token:
            bigram_words.update(t.token.split())
        elif t.token in bigram_words:
            continue
        kept.append(t)
        if len(kept) == top:
            break
    return kept


def explain(
    brand: str,
    window: Sequence[BrandPost],
    baseline: Sequence[BrandPost],
    *,
    start: dt.datetime,
    end: dt.datetime,
    focus: str | None = None,
    config: WhyConfig | None = None,
) -> Why:
    cfg = config or WhyConfig()
    w_voices, copies, reposts = _voices(window)
    b_voices, _, _ = _voices(baseline)
    w_focus = [p for p in w_voices if focus is None or p.label == focus]
    b_focus = [p for p in b_voices if focus is None or p.label == focus]
    if len(b_focus) < 30:  # too few baseline posts of that sentiment to compare against: use all
        b_focus = b_voices
    w_tok: dict[str, Tokens] = {p.post_id: tokenize(p.text) for p in w_focus}
    b_tok = [tokenize(p.text) for p in b_focus]
    terms = _distinctive(count(t.terms for t in w_tok.values()), count(t.terms for t in b_tok), cfg, cfg.top_terms)
    tags = _distinctive(count(t.hashtags for t in w_tok.values()), count(t.hashtags for t in b_tok), cfg, cfg.top_tags)
    handles = _distinctive(count(t.handles for t in w_tok.values()), count(t.handles for t in b_tok), cfg, cfg.top_tags)
    return Why(
        brand=brand, start=start, end=end, focus=focus, posts=len(window), voices=len(w_voices),
        authors=len({p.author for p in window if p.author}),
        repost_share=reposts / len(window) if window else 0.0, reach=sum(p.reposts for p in window),
        sentiment=_mix(window), baseline_posts=len(baseline), baseline_sentiment=_mix(baseline),
        terms=terms, hashtags=tags, handles=handles,
        examples=_examples(w_voices, w_focus, w_tok, copies, {t.token for t in terms[:5]}, cfg.examples),
    )


def _examples(
    voices: list[BrandPost], focus: list[BrandPost], tokens: dict[str, Tokens], copies: Counter[int],
    top_terms: set[str], limit: int,
) -> list[Example]:
    picked: list[Example] = []
    seen: set[int] = set()

    def take(p: BrandPost, reason: str) -> None:
        fp = fingerprint(p.text)
        if fp not in seen and len(picked) < limit:
            seen.add(fp)
            picked.append(Example(post_id=p.post_id, text=p.text, label=p.label, confidence=round(p.confidence, 3),
                                  copies=copies[fp], reposts=p.reposts, reason=reason))

    spread = sorted(voices, key=lambda p: -(copies[fingerprint(p.text)] + p.reposts))
    for p in spread[:2]:
        if copies[fingerprint(p.text)] > 1 or p.reposts > 0:
            take(p, "most reposted")
    on_topic = [p for p in focus if not top_terms or top_terms & set(tokens[p.post_id].terms)]
    for p in sorted(on_topic or focus, key=lambda p: -p.confidence):
        take(p, "most confident")
    return picked
