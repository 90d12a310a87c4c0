"""Which scored posts go to human labelling ("flyback").

Two streams of label requests, both cheap and decided inline per batch:

- **Flyback sample** — a uniform ~1 % of posts chosen by a hash of ``post_id``. Uniform, so the
  labelled-performance metrics (:mod:`drift.performance`) are unbiased estimates of live accuracy.
  Hash-based (SHA-256, not Python's salted ``hash()``), so every worker, replica and replay picks
  the same posts: a re-delivered post is never labelled twice and the sample is reproducible.
- **Active selection** (:mod:`drift.labels.active`, optional) — uncertain, diverse posts balanced across
  brands within a labelling budget per hour, which teach a retrained model the most. They are biased
  by construction, so they feed training, never the performance estimate or promotion
  (``LabelRequest.reason`` is ``uncertain``; the worker also re-derives flyback membership from the
  post id, so an imported label cannot slip into the evaluation sample).

Only champion verdicts are sampled by default: a shadow model scores the same posts, and
labelling a post once serves both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence

from drift.labels.active import ActiveSelector
from drift.records import LabelRequest, ScoredPost

_SCALE = float(2**64)


def stable_unit(key: str) -> float:
    """Deterministic uniform number in [0, 1) from a string, identical in every process."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def in_flyback(post_id: str, rate: float = 0.01) -> bool:
    """True for a stable ``rate`` share of post ids (same answer in every process, forever)."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"flyback rate must be within [0, 1], got {rate}")
    return stable_unit(f"flyback:{post_id}") < rate


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
    roles: Collection[str] = ("champion",),
    active: ActiveSelector | None = None,
    now: float = 0.0,
) -> list[LabelRequest]:
    """Label requests for one scored batch: the flyback sample, plus what ``active`` selects at time ``now``."""
    seen: set[str] = set()
    eligible: list[ScoredPost] = []
    for post in batch:
        if post.model_role in roles and post.post_id not in seen:
            seen.add(post.post_id)
            eligible.append(post)
    requests = [_request(p, "flyback") for p in eligible if in_flyback(p.post_id, rate)]
    if active is not None:
        chosen = {r.post_id for r in requests}
        requests += [_request(p, "uncertain") for p in active.select(eligible, now, exclude=chosen)]
    return requests
