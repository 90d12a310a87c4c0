"""Sentence vectors on the scored topic: packed small, read back leniently, sampled only at the right width."""

from __future__ import annotations

import base64

import numpy as np

from drift.health import HealthConfig, HealthMonitor, HealthReport, build_reference
from streams.core.schemas import ScoredRecord, carries_vector, pack_vector, unpack_vectors
from tests.support.drift import LABELS, scored


def record(post_id: str, vector: str | None) -> ScoredRecord:
    return ScoredRecord(**scored(0, "positive", 0.8).model_dump() | {"post_id": post_id}, vector=vector)


def monitor_with_8_wide_reference(rng: np.random.Generator) -> HealthMonitor:
    texts = [f"reference tweet number {i} about flights" for i in range(60)]
    probs = rng.dirichlet([4, 2, 2], size=len(texts))
    ref = build_reference(texts, probs, [LABELS[i] for i in probs.argmax(axis=1)], LABELS,
                          embeddings=rng.normal(size=(len(texts), 8)).astype(np.float32))
    mon = HealthMonitor(HealthConfig(window=60, every=60, min_vectors=10, embedding_sample=256))
    mon.set_reference("m/1", ref)
    return mon


def test_a_vector_comes_back_within_float16_precision() -> None:
    v = np.random.default_rng(0).normal(size=384).astype(np.float32)
    back = unpack_vectors([record("p", pack_vector(v))])["p"]
    assert (back.dtype, back.shape, bool(np.allclose(back, v, rtol=1e-3, atol=1e-3))) == (np.float32, (384,), True)


def test_a_damaged_vector_comes_back_empty_and_a_missing_one_not_at_all() -> None:
    good = pack_vector(np.ones(4))
    rows = [record("ok", good), record("not-base64", "%%%"), record("odd-bytes", base64.b64encode(b"abc").decode()),
            record("none", None), record("empty", "")]
    assert {k: len(v) for k, v in unpack_vectors(rows).items()} == {"ok": 4, "not-base64": 0, "odd-bytes": 0}


def test_the_share_of_posts_with_a_vector_is_stable_and_as_configured() -> None:
    ids = [f"post-{i}" for i in range(20_000)]
    quarter = [carries_vector(p, 0.25) for p in ids]
    assert (quarter == [carries_vector(p, 0.25) for p in ids], round(sum(quarter) / len(ids), 2),
            all(carries_vector(p, 1.0) for p in ids[:100]), any(carries_vector(p, 0.0) for p in ids)) == (True, 0.25, True, False)


def test_the_health_sample_takes_only_vectors_as_wide_as_the_reference() -> None:
    rng = np.random.default_rng(1)
    mon = monitor_with_8_wide_reference(rng)
    posts = [scored(i, LABELS[i % 3], 0.7, text=f"live tweet {i}") for i in range(60)]
    vectors = {p.post_id: rng.normal(size=8 if i % 2 else 5).astype(np.float32) for i, p in enumerate(posts)}
    due = mon.add(posts, vectors, now=0.0)
    report = mon.check(due[0])
    assert isinstance(report, HealthReport) and report.status.embedding_sample == 30, report


def test_the_health_monitor_counts_the_vectors_it_could_not_use() -> None:
    rng = np.random.default_rng(2)
    mon = monitor_with_8_wide_reference(rng)
    posts = [scored(i, LABELS[i % 3], 0.7, text=f"live tweet {i}") for i in range(9)]
    widths = [8, 8, 5, 0, 8, 0, 5, 8, 8]  # 0: damaged on the way (see unpack_vectors)
    mon.add(posts, {p.post_id: rng.normal(size=w).astype(np.float32) for p, w in zip(posts, widths)}, now=0.0)
    assert mon.counts["vectors_unusable"] == 4
