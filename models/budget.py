"""Fit a training run into a time budget: a learning-rate schedule that ends when the budget does.

A schedule sized for the whole epoch but stopped by the clock ends at a high learning rate with
the decay never run, so a budget-cut run keeps the noisy weights of mid-training. After a few
steps the callback measures the pace; when the planned steps do not fit, it re-plans the schedule
(same shape, same warm-up ratio) to end at the number of steps that does, and stops there. The
clock still stops the run at the budget whatever the pace does afterwards (another job starting on
the machine, a slow evaluation).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

# Steps timed before the pace is trusted: the first steps include allocator and thread warm-up.
PROBE_STEPS = 20
# Share of the budget the re-planned steps may use; the rest is for evaluations and the final pass.
BUDGET_USE = 0.85
# Schedules whose end matters (constant_with_warmup has no decay to fit).
DECAYING = ("cosine", "linear")


def fitted_steps(planned: int, done: int, elapsed_s: float, budget_s: float) -> int | None:
    """The steps that fit the budget at the pace so far, or None when the plan already fits."""
    if done <= 0 or elapsed_s <= 0:
        return None
    fits = int(budget_s * BUDGET_USE / (elapsed_s / done))
    return None if fits >= planned else max(fits, done + 1)


def replan_schedule(lr_scheduler: Any, name: str, total_steps: int, warmup_ratio: float) -> None:
    """Give a running ``LambdaLR`` the schedule ``name`` over ``total_steps`` from where it is now."""
    from transformers import get_scheduler

    optimizer = lr_scheduler.optimizer
    fresh = get_scheduler(
        name, optimizer, num_warmup_steps=math.ceil(total_steps * warmup_ratio), num_training_steps=total_steps
    )
    lr_scheduler.lr_lambdas = fresh.lr_lambdas
    # Building ``fresh`` set every group's rate to its step-0 value; put back the rate of this step.
    step = lr_scheduler.last_epoch
    for group, base, rate in zip(optimizer.param_groups, lr_scheduler.base_lrs, lr_scheduler.lr_lambdas):
        group["lr"] = base * rate(step)


def time_budget_callback(
    budget_s: float, scheduler: str, planned_steps: int, warmup_ratio: float, clock: Callable[[], float] = time.perf_counter
) -> Any:
    from transformers import TrainerCallback

    class TimeBudget(TrainerCallback):
        """Re-plans the schedule to fit ``budget_s`` after ``PROBE_STEPS`` steps; stops at the budget."""

        def __init__(self) -> None:
            self.started = clock()
            self.probed = False
            self.fitted: int | None = None

        def on_train_begin(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
            self.started = clock()
            return control

        def on_step_end(self, args, state, control, lr_scheduler=None, **kwargs):  # type: ignore[no-untyped-def]
            elapsed = clock() - self.started
            if not self.probed and state.global_step >= PROBE_STEPS:
                self.probed = True
                fits = fitted_steps(planned_steps, state.global_step, elapsed, budget_s)
                if fits is not None and scheduler in DECAYING and lr_scheduler is not None:
                    replan_schedule(lr_scheduler, scheduler, fits, warmup_ratio)
                    self.fitted = fits
                    state.max_steps = fits  # what progress displays show as the end; the Trainer stops via control
            if elapsed >= budget_s or (self.fitted is not None and state.global_step >= self.fitted):
                control.should_training_stop = True
            return control

    return TimeBudget()
