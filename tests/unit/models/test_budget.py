"""A time budget shortens the learning-rate schedule instead of cutting it at a high rate."""

from __future__ import annotations

import pytest
import torch
from transformers import TrainerControl, TrainerState, TrainingArguments, get_scheduler

from models.budget import PROBE_STEPS, fitted_steps, time_budget_callback


def test_fitted_steps() -> None:
    assert fitted_steps(planned=1000, done=20, elapsed_s=20.0, budget_s=100.0) == 85
    assert fitted_steps(planned=50, done=20, elapsed_s=20.0, budget_s=100.0) is None  # the plan fits
    assert fitted_steps(planned=1000, done=20, elapsed_s=200.0, budget_s=100.0) == 21  # already over: stop next step
    assert fitted_steps(planned=1000, done=0, elapsed_s=0.0, budget_s=100.0) is None


def run(  # type: ignore[no-untyped-def]
    scheduler: str, seconds_per_step: float, budget_s: float, planned: int, tmp_path, state: TrainerState | None = None
) -> tuple[int, list[float]]:
    """Drive the callback like the Trainer does (optimizer step, scheduler step, on_step_end)."""
    now = [0.0]
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.1)
    lr_scheduler = get_scheduler(scheduler, optimizer, num_warmup_steps=6, num_training_steps=planned)
    callback = time_budget_callback(budget_s, scheduler, planned, 0.06, clock=lambda: now[0])
    args = TrainingArguments(output_dir=str(tmp_path), report_to=[])
    state, control = state or TrainerState(max_steps=planned), TrainerControl()
    callback.on_train_begin(args, state, control)
    rates = []
    for step in range(1, planned + 1):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        lr_scheduler.step()
        now[0] += seconds_per_step
        state.global_step = step
        callback.on_step_end(args, state, control, lr_scheduler=lr_scheduler)
        if control.should_training_stop:
            return step, rates
    return planned, rates


@pytest.mark.parametrize("scheduler", ["cosine", "linear"])
def test_a_slow_run_gets_a_schedule_that_ends_with_the_budget(scheduler: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    state = TrainerState(max_steps=1000)
    steps, rates = run(scheduler, seconds_per_step=1.0, budget_s=100.0, planned=1000, tmp_path=tmp_path, state=state)
    assert steps == 85  # 85 % of 100 s at 1 s a step
    assert state.max_steps == 85  # progress bars show the re-planned end
    assert rates[-1] < 0.02 * 0.1  # decayed to (almost) nothing by the end
    assert max(rates[PROBE_STEPS:]) <= 0.1 + 1e-9
    assert all(b <= a + 1e-12 for a, b in zip(rates[PROBE_STEPS:], rates[PROBE_STEPS + 1:]))  # no jump back to warm-up


def test_a_run_that_fits_keeps_its_schedule(tmp_path) -> None:  # type: ignore[no-untyped-def]
    steps, rates = run("cosine", seconds_per_step=0.1, budget_s=100.0, planned=200, tmp_path=tmp_path)
    assert steps == 200
    reference = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    plain = get_scheduler("cosine", reference, num_warmup_steps=6, num_training_steps=200)
    expected = []
    for _ in range(200):
        expected.append(reference.param_groups[0]["lr"])
        reference.step()
        plain.step()
    assert rates == pytest.approx(expected)


def test_the_clock_still_stops_a_run_that_slows_down(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # constant_with_warmup has nothing to re-plan: only the clock stops it.
    steps, _ = run("constant_with_warmup", seconds_per_step=1.0, budget_s=50.0, planned=1000, tmp_path=tmp_path)
    assert steps == 50
