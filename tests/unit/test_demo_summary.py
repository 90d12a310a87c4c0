"""The demo's closing summary: printed once, true to what happened, and saying what the loop does next."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from rich.console import Console

from streams.core.settings import Settings
from streams.services import demo
from streams.services.demo import LoopResult, print_loop_summary
from streams.services.trainer import LabelCounts, OutcomeRecord, TrainerStatus

NOW = dt.datetime(2026, 12, 1, 12, tzinfo=dt.timezone.utc)
SHADOW = {
    "champion_version": "bp/v1", "challenger_version": "bp/v2", "n_paired": 5000, "agreement": 0.8, "js_distance": 0.05,
    "champion_distribution": {}, "challenger_distribution": {}, "n_labels": 250, "champion_macro_f1": 0.65,
    "challenger_macro_f1": 0.73, "champion_negative_recall": 0.68, "challenger_negative_recall": 0.86,
}


@pytest.fixture
def printed(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    out = io.StringIO()
    monkeypatch.setattr(demo, "console", Console(file=out, width=1000, color_system=None))
    return out


def status(**backoff: dict) -> TrainerStatus:  # type: ignore[type-arg]
    return TrainerStatus(state="idle", running=None, pending=[], coalesced={}, holds=[], backoff=backoff,
                         last_outcome=None, outcomes=[], labels=LabelCounts(on_file=300, usable=300, rejected={},
                         unreadable_lines=0, dead_lettered=0), problems=[], started_at=NOW)


def test_a_failed_retrain_is_reported_as_failed_with_its_reason_report_and_what_comes_next(printed: io.StringIO) -> None:
    outcome = OutcomeRecord(request_id="r1", requested_for="bp/v1", status="failed", report_dir="/data/trainer/runs/r1/report",
                            message="retrain for bp/v1 failed: DataError: 2 evaluation texts also occur in the training data")
    result = LoopResult(champion_before="bp/v1", stats={"champion": "bp/v1"}, alerts=[], answered=300, outcome=outcome,
                        trainer=status(**{"bp/v1": {"failures": 1, "retry_at": "2026-12-01T12:05:00+00:00",
                                                    "retry_after_labels": 50}}))
    print_loop_summary(result, Settings())
    text = printed.getvalue()
    assert (result.failed, "✗ the retrain failed: retrain for bp/v1 failed: DataError: 2 evaluation texts also occur in "
            "the training data (report: /data/trainer/runs/r1/report)" in text, "did not win" in text,
            "until 50 more human labels arrive or 2026-12-01T12:05:00 UTC" in text) == (True, True, False, True)


def test_a_promotion_prints_the_closing_table_once_and_exits_zero(printed: io.StringIO) -> None:
    outcome = OutcomeRecord(request_id="r1", requested_for="bp/v1", status="registered", version="bp/v2", message="ok")
    result = LoopResult(champion_before="bp/v1", stats={"champion": "bp/v2", "challenger": None, "shadow_report": SHADOW},
                        alerts=[], answered=300, outcome=outcome, trainer=status())
    print_loop_summary(result, Settings())
    text = printed.getvalue()
    assert (result.failed, text.count("Closed loop:"), "✓ promoted bp/v2 replaced bp/v1" in text) == (False, 1, True)


def test_a_challenger_left_in_shadow_says_why_and_when_it_would_be_promoted(printed: io.StringIO) -> None:
    outcome = OutcomeRecord(request_id="r1", requested_for="bp/v1", status="registered", version="bp/v2", message="ok")
    few = {**SHADOW, "n_labels": 120}
    result = LoopResult(champion_before="bp/v1", stats={"champion": "bp/v1", "challenger": "bp/v2", "shadow_report": few},
                        alerts=[], answered=120, outcome=outcome, trainer=status())
    print_loop_summary(result, Settings())
    text = printed.getvalue()
    assert ("challenger bp/v2 stayed in shadow: only 120 labelled posts scored by both models (need 200)" in text,
            "next: bp/v2 stays in shadow and is promoted once it beats bp/v1 by 0.02 macro-F1" in text) == (True, True)


def test_a_trainer_that_stopped_fails_the_demo(printed: io.StringIO) -> None:
    result = LoopResult(champion_before="bp/v1", stats={"champion": "bp/v1"}, alerts=[], answered=0,
                        error="the trainer exited with code 1 (log: trainer.log)")
    print_loop_summary(result, Settings())
    assert (result.failed, "✗ the loop stopped: the trainer exited with code 1" in printed.getvalue()) == (True, True)
