"""Champion vs challenger comparison and the promotion rule, on hand-checked inputs."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from drift.shadow import ShadowReport, compare, should_promote
from streams.core.schemas import HumanLabel, ScoredPost

NOW = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)


def row(post_id: str, label: str, version: str, role: str = "champion") -> ScoredPost:
    return ScoredPost(
        post_id=post_id, brand="United", platform="x", text=f"text {post_id}", created_at=NOW, ingested_at=NOW,
        label=label, probs={label: 0.9}, confidence=0.9, model_version=version, model_role=role,  # type: ignore[arg-type]
    )


def human(post_id: str, label: str) -> HumanLabel:
    return HumanLabel(post_id=post_id, label=label, annotator="ann")


def test_compare_counts_agreement_distribution_and_labelled_metrics() -> None:
    champ = [row("1", "negative", "v1"), row("2", "negative", "v1"), row("3", "positive", "v1"), row("4", "neutral", "v1")]
    shadow = [row(p, lab, "v2", "shadow") for p, lab in (("1", "negative"), ("2", "positive"), ("3", "positive"), ("9", "negative"))]
    labels = [human("1", "negative"), human("2", "positive"), human("4", "neutral")]

    report = compare(champ, shadow, labels)

    assert (report.champion_version, report.challenger_version) == ("v1", "v2")
    assert report.n_paired == 3  # post 4 only champion, post 9 only shadow
    assert report.agreement == pytest.approx(2 / 3)
    assert report.champion_distribution == pytest.approx({"negative": 2 / 3, "positive": 1 / 3})
    assert report.challenger_distribution == pytest.approx({"negative": 1 / 3, "positive": 2 / 3})
    # JS distance of (2/3, 1/3) vs (1/3, 2/3), base 2
    m = 0.5
    js = math.sqrt(0.5 * (2 / 3 * math.log2((2 / 3) / m) + 1 / 3 * math.log2((1 / 3) / m)) * 2)
    assert report.js_distance == pytest.approx(js)
    assert report.n_labels == 2  # posts 1 and 2 (post 4 was not shadow-scored)
    assert report.challenger_macro_f1 == pytest.approx(1.0)
    # champion: pred (neg, neg) vs human (neg, pos): F1 neg = 2/3, F1 pos = 0
    assert report.champion_macro_f1 == pytest.approx(1 / 3)
    assert report.champion_negative_recall == 1.0 and report.challenger_negative_recall == 1.0
    assert "agreement 66.7%" in report.summary()


def test_compare_keeps_the_last_verdict_and_last_label_of_a_post() -> None:
    champ = [row("1", "positive", "v1"), row("1", "negative", "v1")]
    shadow = [row("1", "negative", "v2", "shadow")]
    report = compare(champ, shadow, [human("1", "positive"), human("1", "negative")])
    assert report.agreement == 1.0 and report.n_paired == 1
    assert report.champion_macro_f1 == 1.0


def test_compare_rejects_mixed_versions_and_disjoint_rows() -> None:
    with pytest.raises(ValueError, match="several model versions"):
        compare([row("1", "negative", "v1"), row("2", "negative", "v0")], [row("1", "negative", "v2")], [])
    with pytest.raises(ValueError, match="share no scored posts"):
        compare([row("1", "negative", "v1")], [row("2", "negative", "v2")], [])
    with pytest.raises(ValueError, match="no shadow rows"):
        compare([row("1", "negative", "v1")], [], [])


def report(**overrides: object) -> ShadowReport:
    base = dict(
        champion_version="v1", challenger_version="v2", n_paired=1000, agreement=0.9, js_distance=0.05,
        champion_distribution={}, challenger_distribution={}, n_labels=300, champion_macro_f1=0.80,
        challenger_macro_f1=0.85, champion_negative_recall=0.85, challenger_negative_recall=0.86,
    )
    return ShadowReport.model_validate(base | overrides)


def test_should_promote_a_clear_winner() -> None:
    ok, why = should_promote(report())
    assert ok and "+0.050" in why


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"n_labels": 199}, "only 199 labelled posts"),
        ({"challenger_macro_f1": 0.81}, "gain +0.010 < 0.020"),
        ({"challenger_negative_recall": 0.80}, "recall 0.800 is below"),
        ({"challenger_negative_recall": 0.80, "champion_negative_f1": 0.8, "challenger_negative_f1": 0.8},
         "F1 is no better"),
        ({"champion_negative_recall": None, "challenger_negative_recall": None}, "cannot be checked"),
    ],
)
def test_should_promote_refuses_with_a_reason(overrides: dict, reason: str) -> None:
    ok, why = should_promote(report(**overrides))
    assert not ok and reason in why


def test_a_champion_that_flags_everything_negative_does_not_block_a_better_challenger() -> None:
    """Recall alone rewards flagging everything; a recall loss bought back in precision (better F1) is a win."""
    champion = [("negative", h) for h in ["negative"] * 60 + ["neutral"] * 25 + ["positive"] * 15]
    challenger = ([("negative", "negative")] * 52 + [("neutral", "negative")] * 8 + [("neutral", "neutral")] * 22
                  + [("negative", "neutral")] * 3 + [("positive", "positive")] * 15)
    rows = lambda pairs, v: [row(str(i), p, v) for i, (p, _) in enumerate(pairs)]  # noqa: E731
    labels = [HumanLabel(post_id=str(i), label=h, annotator="a") for i, (_, h) in enumerate(champion)]
    rep = compare(rows(champion, "v1"), rows(challenger, "v2"), labels)
    assert rep.champion_negative_recall == 1.0 and rep.challenger_negative_recall == pytest.approx(52 / 60)
    assert rep.challenger_negative_f1 > rep.champion_negative_f1  # type: ignore[operator]
    ok, why = should_promote(rep, min_labels=100)
    assert ok, why


def test_should_promote_margin_and_min_labels_are_tunable() -> None:
    assert should_promote(report(challenger_macro_f1=0.81), margin=0.0)[0]
    assert should_promote(report(n_labels=50), min_labels=50)[0]
    with pytest.raises(ValueError):
        should_promote(report(), margin=-0.1)
