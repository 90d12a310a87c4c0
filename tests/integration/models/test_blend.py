"""Blending a warm-started model with its start (WiSE-FT): the test model and its airline-tuned successor."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from models.blend import blend_checkpoint
from models.checkpoint import read_meta
from models.data import LabelledData
from models.scoring.factory import make_scorer
from models.train import TrainConfig
from tests.support.airline import airline_model, split_rows

HEAD = "classifier.weight"


@pytest.fixture(scope="module")
def tuned(trained_model: Path) -> Path:
    return airline_model(trained_model)


@pytest.fixture(scope="module")
def valid() -> LabelledData:
    _, rows = split_rows()
    return LabelledData([r["text"] for r in rows[:200]], [r["airline_sentiment"] for r in rows[:200]], "3class", "airline")


@pytest.fixture(scope="module")
def blended(trained_model: Path, tuned: Path, valid: LabelledData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = TrainConfig(max_length=64, version="test-blend/1")
    return blend_checkpoint(trained_model, tuned, tmp_path_factory.mktemp("blend"), 0.25, valid, config).model_dir


def _weights(model_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(model_dir / "model.safetensors"))


def test_a_blend_holds_the_weighted_average_of_the_two_models(trained_model: Path, tuned: Path, blended: Path) -> None:
    start, end, mix = _weights(trained_model), _weights(tuned), _weights(blended)
    assert torch.allclose(mix[HEAD], 0.75 * start[HEAD] + 0.25 * end[HEAD], atol=1e-6)


def test_a_blend_is_a_calibrated_checkpoint_the_scorers_load(blended: Path) -> None:
    meta = read_meta(blended)
    labels = [p.label for p in make_scorer(blended, "torch", threads=2).score(["@united lost my bag again", "thanks!"])]
    assert (meta.version, meta.temperature > 0, "0.25 tuned" in meta.trained_on, len(labels)) == ("test-blend/1", True, True, 2)


def test_a_share_outside_zero_to_one_is_refused(trained_model: Path, valid: LabelledData, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="tuned_share"):
        blend_checkpoint(trained_model, trained_model, tmp_path, 1.5, valid, TrainConfig(max_length=64))
