"""A training run takes the steps of its recipe on any machine; a slow one only shows a later estimate."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from transformers import TrainerControl, TrainerState, TrainingArguments

from models.bootstrap import DEFAULT_CONFIG
from models.progress import LinePacer, duration, progress_line, progress_lines_callback
from models.quality_floor import DEFAULT_FLOOR, BelowQualityFloor, check_floor
from models.train import TrainConfig, planned_steps


def test_planned_steps_come_from_the_recipe_alone() -> None:
    assert planned_steps(19_715, DEFAULT_CONFIG) == 617  # the default's one epoch of 19,715 tweets at batch 32
    assert planned_steps(1_000, TrainConfig(batch_size=32, epochs=3.0)) == 96
    assert planned_steps(1_000, TrainConfig(batch_size=32, epochs=3.0, max_steps=10)) == 10
    assert not {"time_budget_s"} & TrainConfig.model_fields.keys()


def drive(seconds_per_step: float, steps: int, tmp_path: Path) -> tuple[list[str], list[bool], int]:
    """Run the progress-lines callback the way the Trainer does, at a given pace; returns its lines and controls."""
    now = [0.0]
    lines: list[str] = []
    callback = progress_lines_callback("fine-tuning on 100 texts", lines.append, clock=lambda: now[0])
    args = TrainingArguments(output_dir=str(tmp_path), report_to=[])
    state, control = TrainerState(max_steps=steps), TrainerControl()
    callback.on_train_begin(args, state, control)
    stops = []
    for step in range(1, steps + 1):
        now[0] += seconds_per_step
        state.global_step = step
        callback.on_step_end(args, state, control)
        stops.append(control.should_training_stop)
    callback.on_train_end(args, state, control)
    return lines, stops, state.max_steps


@pytest.mark.parametrize("seconds_per_step", [0.5, 100.0])
def test_a_slow_machine_trains_every_step_and_only_reports_a_later_estimate(seconds_per_step: float, tmp_path: Path) -> None:
    lines, stops, max_steps = drive(seconds_per_step, 50, tmp_path)
    assert not any(stops) and max_steps == 50
    assert lines[0] == "fine-tuning on 100 texts: 50 steps"
    assert lines[-1] == f"trained 50 steps in {duration(50 * seconds_per_step)}"
    assert f"step 25/50 (50%), {duration(25 * seconds_per_step)} elapsed, about {duration(25 * seconds_per_step)} left" in lines


def test_progress_line_estimates_the_time_left_from_the_pace_so_far() -> None:
    assert progress_line(125, 523, 130.0) == "step 125/523 (24%), 2m 10s elapsed, about 6m 54s left"
    assert progress_line(0, 523, 3.0) == "step 0/523 (0%), 3s elapsed"  # no pace yet, no estimate
    assert progress_line(523, 523, 500.0) == "step 523/523 (100%), 8m 20s elapsed"
    assert progress_line(10, 100, 4000.0) == "step 10/100 (10%), 1h 06m elapsed, about 10h 00m left"


def test_lines_come_at_each_tenth_of_the_run_and_at_least_once_a_minute() -> None:
    quick = LinePacer(total=100)
    assert [s for s in range(1, 101) if quick.due(s, s * 0.1)] == list(range(10, 101, 10))
    slow = LinePacer(total=1000)
    assert [s for s in range(1, 301) if slow.due(s, s * 30.0)] == list(range(2, 301, 2))  # a line a minute


def test_a_tenth_reached_just_after_a_minutes_line_prints_no_second_line() -> None:
    pacer = LinePacer(total=581)  # the default recipe: ~1 s a step and a 12 s evaluation after step 125
    at = {s: s + (12.0 if s > 125 else 0.0) for s in range(1, 582)}
    steps = [s for s in range(1, 582) if pacer.due(s, at[s])]
    assert (steps[:4], min(at[b] - at[a] for a, b in zip(steps, steps[1:-1])) >= 15) == ([58, 116, 164, 224], True), steps


def test_the_quality_floor_blocks_a_weak_model_and_passes_a_normal_one() -> None:
    check_floor(0.728, DEFAULT_FLOOR, steps=523, valid_texts=2000)  # a full run of the default recipe
    check_floor(DEFAULT_FLOOR, DEFAULT_FLOOR, steps=523, valid_texts=2000)
    with pytest.raises(BelowQualityFloor, match=r"macro-F1 0\.629 on 2,000 held-out tweets, below the quality floor of 0\.65 \(after 88"):
        check_floor(0.629, DEFAULT_FLOOR, steps=88, valid_texts=2000)  # the busy machine's cut run
    with pytest.raises(BelowQualityFloor):
        check_floor(math.nan, DEFAULT_FLOOR, steps=1, valid_texts=2000)
