"""How a training run shows its progress, in place of the Hugging Face Trainer's console output.

The Trainer's own output prints every log entry as a raw dict (``{'loss': '0.98', 'grad_norm': ...}``)
and opens a second, nested bar for every evaluation; a person watching a run wants to know how far
it is, how long it has taken and how long it will still take. Two forms: one tqdm bar for a terminal,
or for logs and the demo's console a line at every tenth of the run (and at least once a minute)
with an estimate from the pace so far. Training runs a fixed number of steps whatever the pace, so
a slow or busy machine shows up here as a later estimate, never as a shorter run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

# True: one tqdm bar (a terminal); a callable: progress lines handed to it (logs, the demo's console); False: silent.
Progress = bool | Callable[[str], None]
# A line at every tenth of the steps; a run slower than that still gives a sign of life this often.
LINE_SHARE = 0.1
LINE_EVERY_S = 60.0
LINE_GAP_S = 15.0  # a tenth's line this soon after the last line would repeat it


def duration(seconds: float) -> str:
    """'45s', '6m 05s', '1h 02m': short enough for a progress line."""
    s = max(int(round(seconds)), 0)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


def progress_line(done: int, total: int, elapsed_s: float) -> str:
    """'step 125/523 (24%), 2m 10s elapsed, about 6m 54s left', the estimate from the pace so far."""
    share = done / total if total else 1.0
    head = f"step {done}/{total} ({share:.0%}), {duration(elapsed_s)} elapsed"
    if done <= 0 or done >= total:
        return head
    return f"{head}, about {duration(elapsed_s / done * (total - done))} left"


@dataclass
class LinePacer:
    """Decides when the next progress line is due: at each tenth of the run, or a minute after the last line
    (a tenth reached within ``LINE_GAP_S`` of a minute's line prints nothing more)."""

    total: int
    last_step: int = 0
    last_at_s: float = 0.0
    last_was_minute: bool = False

    def due(self, step: int, elapsed_s: float) -> bool:
        tenth = max(int(self.total * LINE_SHARE), 1)
        crossed = step // tenth > self.last_step // tenth
        gap = elapsed_s - self.last_at_s
        if crossed and self.last_was_minute and gap < LINE_GAP_S and step < self.total:
            self.last_step = step  # the minute's line just before stands for this tenth too
            return False
        if crossed or step >= self.total or gap >= LINE_EVERY_S:
            self.last_was_minute = not crossed and step < self.total
            self.last_step, self.last_at_s = step, elapsed_s
            return True
        return False


def progress_lines_callback(description: str, say: Callable[[str], None], clock: Callable[[], float] = time.perf_counter) -> Any:
    """A ``TrainerCallback`` handing ``say`` a progress line with an estimate now and then; it never alters the run."""
    from transformers import TrainerCallback

    class _Lines(TrainerCallback):
        def __init__(self) -> None:
            self.started = clock()
            self.pacer = LinePacer(total=1)
            self.f1: float | None = None

        def on_train_begin(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def, override]
            self.started = clock()
            self.pacer = LinePacer(total=state.max_steps)
            say(f"{description}: {state.max_steps} steps")

        def on_step_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def, override]
            elapsed = clock() - self.started
            if self.pacer.due(state.global_step, elapsed):
                line = progress_line(state.global_step, state.max_steps, elapsed)
                say(line if self.f1 is None else f"{line}; valid macro-F1 {self.f1:.3f}")

        def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def, override]
            if logs and "eval_macro_f1" in logs:
                self.f1 = float(logs["eval_macro_f1"])

        def on_train_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def, override]
            say(f"trained {state.global_step} steps in {duration(clock() - self.started)}")

    return _Lines()


def progress_callback(description: str) -> Any:
    """A ``TrainerCallback`` drawing one tqdm bar over the optimiser steps, with loss and macro-F1 after it."""
    from tqdm.auto import tqdm
    from transformers import TrainerCallback

    class _OneBar(TrainerCallback):
        def __init__(self) -> None:
            self.bar: Any = None
            self.postfix: dict[str, str] = {}

        def on_train_begin(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def, override]
            self.bar = tqdm(total=state.max_steps, desc=description, unit="step", dynamic_ncols=True)

        def on_step_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def, override]
            if self.bar is not None:
                self.bar.update(state.global_step - self.bar.n)

        def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def, override]
            logs = logs or {}
            if "loss" in logs:
                self.postfix["loss"] = f"{float(logs['loss']):.3f}"
            if "eval_macro_f1" in logs:
                self.postfix["valid macro-F1"] = f"{float(logs['eval_macro_f1']):.3f}"
            if self.bar is not None and self.postfix:
                self.bar.set_postfix(self.postfix, refresh=False)

        def on_train_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def, override]
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    return _OneBar()


@contextmanager
def no_hub_bars() -> Iterator[None]:
    """Hide transformers' own bars ("Loading weights", "Writing model shards") around a load or save."""
    from transformers.utils import logging as hf_logging

    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()
