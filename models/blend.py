"""Weight-space blends of a fine-tuned checkpoint with the one it started from (WiSE-FT).

Continued fine-tuning on a new domain moves every weight, and the model forgets part of what it
knew. Averaging the tuned weights with the starting ones keeps most of the new domain's gain and
much of the old behaviour (Wortsman et al., "Robust fine-tuning of zero-shot models", CVPR 2022),
without training again: one blend costs a load, an average and a validation pass. The blend is
calibrated and its negative threshold tuned on the validation set like any trained checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.checkpoint import read_meta
from models.data import DataError, LabelledData
from models.progress import no_hub_bars
from models.train import TrainConfig, TrainResult, normalised_texts, predict_logits, write_checkpoint


def blend_checkpoint(
    start_dir: Path, tuned_dir: Path, out_dir: Path, tuned_share: float, valid: LabelledData, config: TrainConfig
) -> TrainResult:
    """``tuned_share`` × the tuned weights + the rest × the starting ones, calibrated on ``valid``, saved to ``out_dir``.

    ``valid`` as given to :func:`models.train.fine_tune` (normalised here when ``config.normalise``);
    ``config`` the tuned run's (version, threshold objective, seed). Both checkpoints must predict the
    same labels with the same architecture: a warm start of one from the other.
    """
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if not 0.0 < tuned_share <= 1.0:
        raise ValueError(f"tuned_share must be in (0, 1]; got {tuned_share}")
    start_meta, tuned_meta = read_meta(start_dir), read_meta(tuned_dir)
    if start_meta.labels != tuned_meta.labels:
        raise DataError(f"cannot blend a model predicting {tuned_meta.labels} with one predicting {start_meta.labels}")
    with no_hub_bars():
        tokenizer = AutoTokenizer.from_pretrained(tuned_dir)
        model = AutoModelForSequenceClassification.from_pretrained(tuned_dir)
        start = AutoModelForSequenceClassification.from_pretrained(start_dir).state_dict()
    tuned = model.state_dict()
    if start.keys() != tuned.keys() or any(start[k].shape != tuned[k].shape for k in tuned):
        raise DataError(f"{start_dir} and {tuned_dir} do not share an architecture; only a warm start can be blended")
    with torch.no_grad():
        model.load_state_dict({
            k: torch.lerp(start[k], v, tuned_share) if v.is_floating_point() else v for k, v in tuned.items()
        })
    model.eval()
    valid = normalised_texts(valid) if config.normalise else valid
    logits = predict_logits(model, tokenizer, list(valid.texts), config.max_length, config.eval_batch_size)
    return write_checkpoint(
        out_dir, model, tokenizer, valid, np.asarray(logits), config,
        trained_on=f"{tuned_meta.trained_on}; weights {tuned_share:.2f} tuned + {1 - tuned_share:.2f} of {start_meta.version}",
    )
