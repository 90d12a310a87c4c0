"""The on-disk contract of a brandpulse sentiment checkpoint.

A checkpoint is a Hugging Face ``save_pretrained`` directory (model + tokenizer) plus
``brandpulse.json`` holding what serving needs beyond the weights: label order, calibration
calibration (temperature and per-class bias), the tuned negative-class decision rule and the reference label distribution that
drift detection compares the live stream against.
"""

from __future__ import annotations

import hashlib

import json
from pathlib import Path

from pydantic import BaseModel, Field

META_FILE = "brandpulse.json"


class CheckpointMeta(BaseModel):
    version: str = Field(description="Human-readable model version, e.g. 'brandpulse-sentiment/3'")
    labels: list[str] = Field(description="Class names in logit order, e.g. ['negative','neutral','positive']")
    base_model: str = ""
    max_length: int = 128
    # Tweets were normalised for training (handles → @user, links → http): scoring must do the same,
    # or the live stream is a different input distribution from the one the model learned.
    normalise_input: bool = Field(default=False, description="Mask @handles and links before tokenising")
    temperature: float = Field(default=1.0, gt=0, description="Calibration temperature applied to logits")
    # Older checkpoints have no bias (temperature scaling only); see models/calibration.py.
    class_bias: list[float] | None = Field(
        default=None, description="Per-class bias added to logits / temperature (bias-corrected temperature scaling)"
    )
    negative_label: str | None = Field(default="negative", description="Class watched for crisis detection")
    negative_threshold: float | None = Field(
        default=None, description="Flag negative when p(negative) >= this; None = argmax"
    )
    # Share of each label on the validation set, recorded at registration: drift compares against it.
    reference_distribution: dict[str, float] = Field(default_factory=dict)
    # Validation confidences (a sample) so confidence drift has a reference too.
    reference_confidence: list[float] = Field(default_factory=list)
    # A sample of the validation texts (as the model saw them): model-health monitoring scores them
    # with the served model to get its reference for estimated performance and input drift.
    reference_texts: list[str] = Field(default_factory=list)
    metrics: dict[str, float] = Field(default_factory=dict)
    trained_on: str = ""
    distilled_from: str | None = Field(default=None, description="Teacher version when trained by distillation")


def write_meta(model_dir: Path, meta: CheckpointMeta) -> None:
    (Path(model_dir) / META_FILE).write_text(meta.model_dump_json(indent=2))


def read_meta(model_dir: Path) -> CheckpointMeta:
    path = Path(model_dir) / META_FILE
    if not path.exists():
        raise FileNotFoundError(
            f"{model_dir} is not a brandpulse checkpoint (no {META_FILE}); "
            "train one with `brandpulse models train` or `brandpulse models bootstrap`"
        )
    return CheckpointMeta.model_validate(json.loads(path.read_text()))


WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "config.json")


def weights_digest(model_dir: Path, seed: str, files: tuple[str, ...] = WEIGHT_FILES) -> str:
    """A short key for ``seed`` plus the size and mtime of a checkpoint's files: caches built from the
    weights (exports, backend timings) are rebuilt when the checkpoint is overwritten."""
    h = hashlib.sha256(seed.encode())
    for name in files:
        path = model_dir / name
        if path.exists():
            st = path.stat()
            h.update(f"{name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]
