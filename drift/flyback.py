"""Which scored posts go to human labelling ("flyback").

Two streams of label requests, both cheap and decided inline per batch:

- **Flyback sample** — a uniform ~1 % of posts chosen by a hash of ``post_id``. Uniform, so the
  labelled-performance metrics (:mod:`drift.performance`) are unbiased estimates of live accuracy.
  Hash-based (SHA-256, not Python's salted ``hash()``), so every worker, replica and replay picks
  the same posts: a re-delivered post is never labelled twice and the sample is reproducible.
- **Uncertain share** — active learning: the least confident posts of each batch, which teach a
  retrained model the most. They are biased by construction, so they feed training, never the
  performance estimate (``LabelRequest.reason`` tells them apart).

Only champion verdicts are sampled by default: a shadow model scores the same posts, and
labelling a post once serves both.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Sequence

from streams.schemas import LabelRequest, ScoredPost

_SCALE = float(2**64)


def _unit(key: str) -> float:
    """Deterministic uniform number in [0, 1) from a string, identical in every process."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def in_flyback(post_id: str, rate: float = 0.01) -> bool:
    """True for a stable ``rate`` share of post ids (same answer in every process, forever)."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"flyback rate must be within [0, 1], got {rate}")
    return _unit(f"flyback:{post_id}") < rate


def _request(post: ScoredPost, reason: str) -> LabelRequest:
    return LabelRequest(
        post_id=post.post_id,
        brand=post.brand,
        text=post.text,
        predicted_label=post.label,
        confidence=post.confidence,
        model_version=post.model_version,
        reason=reason,  # type: ignore[arg-type]
    )


def select_for_labelling(
    batch: Sequence[ScoredPost],
    rate: float = 0.01,
    uncertain_share: float = 0.005,
    roles: Collection[str] = ("champion",),
) -> list[LabelRequest]:
    """Label requests for one scored batch: the flyback sample plus the least confident posts.

    ``uncertain_share`` is a fraction of the batch. Its fractional part is rounded up or down by a
    hash of the batch's first post id, so small batches still get their fair share on average
    while the choice stays deterministic.
    """
    if not 0.0 <= uncertain_share <= 1.0:
        raise ValueError(f"uncertain_share must be within [0, 1], got {uncertain_share}")
    seen: set[str] = set()
    eligible: list[ScoredPost] = []
    for post in batch:
        if post.model_role in roles and post.post_id not in seen:
            seen.add(post.post_id)
            eligible.append(post)
    requests = [_request(p, "flyback") for p in eligible if in_flyback(p.post_id, rate)]
    if not eligible or uncertain_share == 0:
        return requests
    chosen = {r.post_id for r in requests}
    want = uncertain_share * len(eligible)
    k = math.floor(want) + (1 if _unit(f"share:{eligible[0].post_id}") < want - math.floor(want) else 0)
    rest = sorted((p for p in eligible if p.post_id not in chosen), key=lambda p: (p.confidence, p.post_id))
    requests.extend(_request(p, "uncertain") for p in rest[:k])
    return requests
