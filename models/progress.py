"""One progress bar for a training run, in place of the Hugging Face Trainer's console output.

The Trainer's own output prints every log entry as a raw dict (``{'loss': '0.98', 'grad_norm': ...}``)
and opens a second, nested bar for every evaluation; a person watching a run wants one line: how
far, how long, the latest loss and validation macro-F1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


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
                # A budget re-plan shortens the run: the bar follows the new end.
                if state.max_steps and self.bar.total != state.max_steps:
                    self.bar.total = state.max_steps
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
