"""A default model below the quality floor is never registered: the bootstrap stops and says why."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.bootstrap import DEFAULT_CONFIG, current_champion, train_default
from models.quality_floor import BelowQualityFloor
from models.registry import RegistryConfig, list_models
from tests.support.models import cache_root

pytestmark = pytest.mark.long  # real fine-tunes: make test-long


@pytest.mark.timeout(300)  # two optimiser steps, then one pass over the 2,000 validation tweets
def test_a_model_below_the_floor_stops_the_bootstrap_unregistered(tmp_path: Path) -> None:
    registry = RegistryConfig(state_dir=tmp_path / "state", tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    # The default recipe cut to two steps: the kind of model a clock-fitted run once served as champion.
    cut = DEFAULT_CONFIG.model_copy(update={"max_steps": 2, "eval_steps": None, "patience": None})
    with pytest.raises(BelowQualityFloor, match=r"below the quality floor of 0\.65 \(after 2 training steps\)"):
        train_default(registry, cache_root() / "encoders", progress=False, config=cut)
    assert current_champion(registry) is None and list_models(registry=registry) == []
