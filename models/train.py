"""Fine-tune a sentence encoder into a brandpulse sentiment checkpoint.

One call does the whole job serving needs: train with the Hugging Face ``Trainer`` (class-weighted
or focal loss against imbalance, cosine schedule, early stopping on validation macro-F1), then on the
validation set fit the calibration temperature, tune the negative-class threshold, record the
reference label distribution and confidences for drift detection, and write a checkpoint that
:class:`models.scoring.scorer.Scorer` loads.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field, model_validator

from models.calibration import Calibration, apply_temperature, fit_calibration
from models.checkpoint import CheckpointMeta, write_meta
from models.data import (
    DataError,
    LabelledData,
    assert_no_leakage,
    normalise_tweet,
    train_test_split,
    validate_for_training,
)
from models.encoders import display_name, resolve_encoder
from models.losses import loss_trainer_class
from models.progress import Progress, no_hub_bars, progress_callback, progress_lines_callback
from models.classification_metrics import classification_metrics, headline
from models.scoring.scorer import decide
from models.thresholds import ThresholdResult, tune_negative_threshold


Imbalance = Literal["weighted-ce", "focal", "oversample", "none"]
REFERENCE_CONFIDENCE_SAMPLE = 2000
REFERENCE_TEXT_SAMPLE = 400


class TrainConfig(BaseModel):
    """Hyper-parameters of one fine-tuning run (defaults suit MiniLM on CPU)."""

    base_model: str = Field(default="minilm", description="'minilm', 'mpnet', a local model dir or a hub id")
    lr: float = Field(default=2e-5, gt=0, le=1e-2)
    epochs: float = Field(default=3.0, gt=0)
    batch_size: int = Field(default=32, ge=1)
    eval_batch_size: int = Field(default=64, ge=1)
    max_length: int = Field(default=128, ge=8, le=512, description="64-128 keeps CPU training fast")
    warmup_ratio: float = Field(default=0.06, ge=0, lt=1)
    weight_decay: float = Field(default=0.01, ge=0)
    scheduler: Literal["cosine", "linear", "constant_with_warmup"] = "cosine"
    patience: int | None = Field(default=2, ge=1, description="Evaluations without macro-F1 gain before stopping")
    imbalance: Imbalance = "weighted-ce"
    focal_gamma: float = Field(default=2.0, ge=0)
    seed: int = 42
    max_steps: int | None = Field(default=None, ge=1, description="Stop after this many optimiser steps")
    eval_steps: int | None = Field(default=None, ge=1, description="Evaluate every N steps (default: each epoch)")
    valid_fraction: float = Field(default=0.1, gt=0, lt=0.5, description="Held out when no validation set is given")
    target_recall: float | None = Field(
        default=None, gt=0, le=1, description="Tune the negative threshold for this recall instead of best F1"
    )
    threshold_objective: Literal["negative_f1", "macro_f1", "none"] = Field(
        default="negative_f1",
        description=(
            "What the tuned negative threshold maximises on validation: negative-class F1, or macro-F1 of the "
            "rule; 'none' tunes no threshold (argmax decides)"
        ),
    )
    threads: int | None = Field(default=None, ge=1, description="torch CPU threads (default: all cores)")
    precision: Literal["auto", "fp32", "bf16"] = Field(
        default="auto",
        description=(
            "Arithmetic of the training steps: bf16 autocast (fp32 master weights) where the hardware computes bf16 "
            "natively (a CUDA GPU that supports it, or a CPU with AVX512-BF16 or AMX), fp32 elsewhere. Validation "
            "logits, calibration and thresholds are always computed in fp32, as serving reads the model"
        ),
    )
    normalise: bool = Field(
        default=True, description="Mask @handles and links in every text (training, validation and, via the checkpoint, serving)"
    )
    group_by_length: bool = Field(
        default=False, description="Batch texts of similar length together (less padding: faster, slightly less random)"
    )
    kd_alpha: float = Field(
        default=0.5, ge=0, le=1, description="With a teacher: weight of the distillation loss (1 - alpha for the labels)"
    )
    kd_temperature: float = Field(default=2.0, gt=0, description="With a teacher: softmax temperature of the soft targets")
    version: str = Field(default="", description="Version written into brandpulse.json (the registry overwrites it)")

    @model_validator(mode="after")
    def _eval_needs_steps(self) -> TrainConfig:
        if self.eval_steps is not None and self.max_steps is not None and self.eval_steps > self.max_steps:
            raise ValueError(f"eval_steps ({self.eval_steps}) > max_steps ({self.max_steps}): no evaluation would run")
        return self


@dataclass
class TrainResult:
    model_dir: Path
    meta: CheckpointMeta
    metrics: dict[str, Any] = field(repr=False)
    threshold: ThresholdResult | None = field(repr=False)
    history: list[dict[str, float]] = field(default_factory=list, repr=False)  # one entry per evaluation
    train_loss: list[dict[str, float]] = field(default_factory=list, repr=False)
    train_seconds: float = 0.0
    steps: int = 0
    valid: LabelledData | None = field(default=None, repr=False)
    valid_probs: np.ndarray | None = field(default=None, repr=False)


# ------------------------------------------------------------------ pure pieces


def class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Inverse-frequency weights n / (k * count_c), so a balanced set gets all-ones."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    counts[counts == 0] = 1.0
    return len(y) / (n_classes * counts)


def oversample_indices(y: np.ndarray, seed: int) -> np.ndarray:
    """Indices that repeat minority-class rows (sampled with replacement) up to the majority count."""
    rng = np.random.default_rng(seed)
    counts = np.bincount(y)
    target = counts.max()
    out = [np.arange(len(y))]
    for c, k in enumerate(counts):
        if 0 < k < target:
            out.append(rng.choice(np.flatnonzero(y == c), size=target - k, replace=True))
    idx = np.concatenate(out)
    rng.shuffle(idx)
    return idx


def reference_confidence(probs: np.ndarray, seed: int, limit: int = REFERENCE_CONFIDENCE_SAMPLE) -> list[float]:
    conf = probs.max(axis=1)
    if len(conf) > limit:
        conf = np.random.default_rng(seed).choice(conf, size=limit, replace=False)
    return [round(float(c), 6) for c in conf]


def reference_texts(texts: list[str], seed: int, limit: int = REFERENCE_TEXT_SAMPLE) -> list[str]:
    """A seeded sample of validation texts, kept in the checkpoint as the input reference."""
    if len(texts) <= limit:
        return list(texts)
    idx = np.sort(np.random.default_rng(seed).choice(len(texts), size=limit, replace=False))
    return [texts[i] for i in idx]


def predicted_distribution(pred: np.ndarray, labels: list[str]) -> dict[str, float]:
    """Share of each predicted label: what the live stream is compared against (it has no true labels)."""
    counts = np.bincount(pred, minlength=len(labels))
    return {lab: float(counts[i] / max(len(pred), 1)) for i, lab in enumerate(labels)}


def planned_steps(rows: int, config: TrainConfig) -> int:
    """The optimiser steps a run takes: its recipe's alone (rows, batch size, epochs or max_steps), never the clock's.

    A run stopped by a wall-clock budget trained a busy machine's default model for 88 of 523 steps
    (macro-F1 0.312 on TweetEval validation against 0.548); a slow machine now takes longer instead.
    Early stopping on validation macro-F1 may still end a run sooner, as it would on any machine.
    """
    return config.max_steps or math.ceil(math.ceil(rows / config.batch_size) * config.epochs)


def warmup_steps(total_steps: int, ratio: float) -> int:
    return int(math.ceil(total_steps * ratio))


def checkpoint_metrics(metrics: dict, threshold: ThresholdResult | None, negative_label: str | None) -> dict[str, float]:
    """The flat floats stored in ``CheckpointMeta.metrics`` and logged to MLflow."""
    flat = headline(metrics)
    if negative_label and negative_label in metrics["per_class"]:
        for k in ("precision", "recall", "f1"):
            flat[f"negative_{k}"] = float(metrics["per_class"][negative_label][k])
    if threshold is not None:
        flat["negative_threshold"] = float(threshold.threshold)
    return flat


# ------------------------------------------------------------------ torch / Trainer glue


class _Encoded:
    """A map-style dataset of tokenised texts (unpadded: the collator pads each batch to its own max).

    With ``teacher_logits`` each row also carries its teacher's logits, the soft targets of distillation.
    """

    def __init__(
        self, tokenizer: Any, texts: list[str], y: np.ndarray, max_length: int, teacher_logits: np.ndarray | None = None
    ) -> None:
        enc = tokenizer(texts, truncation=True, max_length=max_length)
        self._rows = [
            {**{k: enc[k][i] for k in enc.keys()}, "labels": int(y[i])} for i in range(len(texts))
        ]
        if teacher_logits is not None:  # fine_tune checked its shape against the texts and labels
            for row, soft in zip(self._rows, teacher_logits.tolist()):
                row["teacher_logits"] = soft

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self._rows[i]


def _best_model_callback(patience: int | None) -> Any:
    from transformers import TrainerCallback

    class _KeepBest(TrainerCallback):
        """Keeps the best-macro-F1 weights in memory and stops after ``patience`` evaluations without gain.

        Holding the state dict in RAM avoids writing a full checkpoint to disk on every evaluation.
        """

        def __init__(self) -> None:
            self.best_f1 = -1.0
            self.best_step = -1
            self.best_state: dict[str, Any] | None = None
            self.stale = 0
            self.history: list[dict[str, float]] = []

        def record(self, step: int, epoch: float, metrics: dict[str, Any], model: Any) -> bool:
            """Log one evaluation; True when it is the best so far (its weights are kept)."""
            f1 = float(metrics.get("eval_macro_f1", -1.0))
            self.history.append(
                {"step": float(step), "epoch": float(epoch)}
                | {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}
            )
            if f1 <= self.best_f1 + 1e-4:
                self.stale += 1
                return False
            self.best_f1, self.best_step, self.stale = f1, step, 0
            self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            return True

        def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):  # type: ignore[override]
            improved = self.record(state.global_step, state.epoch or 0.0, metrics or {}, model)
            if not improved and patience is not None and self.stale >= patience:
                control.should_training_stop = True
            return control

    return _KeepBest()


@dataclass
class _EvalPrediction:
    predictions: np.ndarray
    label_ids: np.ndarray


def _macro_f1_metric(eval_pred: Any) -> dict[str, float]:
    from sklearn.metrics import f1_score

    logits, y = eval_pred.predictions, eval_pred.label_ids
    return {"macro_f1": float(f1_score(y, np.asarray(logits).argmax(axis=1), average="macro", zero_division=0))}


def predict_logits(
    model: Any, tokenizer: Any, texts: list[str], max_length: int, batch_size: int, *, bf16: bool = False
) -> np.ndarray:
    """Logits over ``texts`` (shortest first, so batches pad little); ``bf16`` runs the passes under autocast."""
    import torch

    device = next(model.parameters()).device
    out = np.empty((len(texts), model.config.num_labels), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    model.eval()
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            enc = tokenizer(
                [texts[i] for i in idx], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
            ).to(device)
            out[idx] = model(**enc).logits.float().cpu().numpy()
    return out


def load_untrained(base_model: str, labels: list[str], cache_dir: Path) -> tuple[Any, Any]:
    """(tokenizer, model) with a freshly initialised classification head — also the baseline to beat."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    source = resolve_encoder(base_model, cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(source)
    # A sentence-transformers dir has no classifier head; the "newly initialised" warning is expected.
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        with no_hub_bars():
            model = AutoModelForSequenceClassification.from_pretrained(
                source,
                num_labels=len(labels),
                id2label=dict(enumerate(labels)),
                label2id={lab: i for i, lab in enumerate(labels)},
            )
    finally:
        hf_logging.set_verbosity(verbosity)
    return tokenizer, model


def evaluate_logits(
    logits: np.ndarray, y: np.ndarray, labels: list[str], target_recall: float | None = None,
    objective: Literal["negative_f1", "macro_f1", "none"] = "negative_f1", calibration: Calibration | None = None,
) -> tuple[Calibration, np.ndarray, ThresholdResult | None, dict]:
    """Calibration (fitted on these logits unless given), calibrated probs, tuned negative threshold and
    metrics of the tuned rule."""
    calibration = calibration or fit_calibration(logits, y)
    probs = calibration.probs(logits)
    # The rule is tuned on the probabilities decisions are taken on (without the class bias; see decide).
    threshold = (
        tune_negative_threshold(y, apply_temperature(logits, calibration.temperature), labels, "negative",
                                target_recall=target_recall, objective=objective)
        if "negative" in labels and objective != "none"
        else None
    )
    cut = None if threshold is None or threshold.is_argmax else threshold.threshold
    pred = decide(probs, labels, "negative", cut, calibration.class_bias)
    return calibration, probs, threshold, classification_metrics(y, probs, labels, y_pred=pred)


def normalised_texts(data: LabelledData) -> LabelledData:
    """The same labelled texts with @handles and links masked (:func:`models.data.normalise_tweet`), as training sees them."""
    return LabelledData([normalise_tweet(t) for t in data.texts], data.labels, data.scheme, data.source)


def prepare_splits(
    train: LabelledData, valid: LabelledData | None, config: TrainConfig
) -> tuple[LabelledData, LabelledData]:
    """The train and validation sets a run uses: ``valid`` or a held-out split, normalised and checked."""
    if valid is None:
        train, valid = train_test_split(train, config.valid_fraction, seed=config.seed)
    elif valid.scheme != train.scheme:
        raise DataError(f"train uses the {train.scheme} scheme but valid uses {valid.scheme}; convert one of them")
    if config.normalise:  # idempotent, so corpora loaded already normalised are unchanged
        train, valid = normalised_texts(train), normalised_texts(valid)
    validate_for_training(train)
    assert_no_leakage(train, valid)
    return train, valid


def _training_rows(
    train: LabelledData, config: TrainConfig, teacher: Callable[[list[str]], np.ndarray] | None
) -> tuple[list[str], np.ndarray, np.ndarray | None]:
    """Texts, labels and (with a teacher) soft targets of the rows the Trainer sees, oversampled if asked."""
    y_train = train.y
    if config.imbalance == "oversample":
        idx = oversample_indices(y_train, config.seed)
        train_texts, y_train = [train.texts[i] for i in idx], y_train[idx]
    else:
        train_texts = list(train.texts)
    soft_targets = None
    if teacher is not None:
        n_labels = len(train.label_names)
        soft_targets = np.asarray(teacher(list(train_texts)), dtype=np.float32)
        if soft_targets.shape != (len(train_texts), n_labels):
            raise ValueError(f"teacher returned logits of shape {soft_targets.shape}; expected ({len(train_texts)}, {n_labels})")
    return train_texts, y_train, soft_targets


def trains_in_bf16(precision: Literal["auto", "fp32", "bf16"]) -> bool:
    """Whether training steps run under bf16 autocast: asked for, or native here (3.2x fp32 for mpnet on an
    AVX512-BF16 CPU without AMX; emulated bf16 would be slower than fp32, so auto never picks it there)."""
    import torch

    if precision != "auto":
        return precision == "bf16"
    if torch.cuda.is_available():
        return bool(torch.cuda.is_bf16_supported())
    from models.scoring.backend_choice import cpu_flags

    return bool({"avx512_bf16", "amx_bf16"} & set(cpu_flags()))


def _training_arguments(config: TrainConfig, scratch: str, total: int) -> Any:
    """The Hugging Face TrainingArguments of a run: schedule, evaluation cadence, device, no checkpoints on disk."""
    import torch
    from transformers import TrainingArguments

    use_cuda = torch.cuda.is_available()
    return TrainingArguments(
        output_dir=scratch,
        learning_rate=config.lr,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        weight_decay=config.weight_decay,
        lr_scheduler_type=config.scheduler,
        warmup_steps=warmup_steps(total, config.warmup_ratio),
        eval_strategy="steps" if config.eval_steps else "epoch",
        eval_steps=config.eval_steps,
        save_strategy="no",
        logging_strategy="steps",
        logging_steps=max(1, min(50, total // 10)),
        report_to="none",
        # One bar of our own (models.progress) instead of the Trainer's log dicts and nested evaluation bars.
        disable_tqdm=True,
        seed=config.seed,
        data_seed=config.seed,
        use_cpu=not use_cuda,
        bf16=trains_in_bf16(config.precision),
        dataloader_pin_memory=use_cuda,
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        # The Trainer would otherwise drop every key the model's forward() does not take, and with
        # it the teacher's logits; the datasets here hold nothing else to drop.
        remove_unused_columns=False,
    )


@dataclass
class _Trained:
    model: Any
    history: list[dict[str, float]]
    train_loss: list[dict[str, float]]
    steps: int
    seconds: float
    valid_logits: np.ndarray


def _train(
    model: Any, tokenizer: Any, train: LabelledData, valid: LabelledData, config: TrainConfig, progress: Progress,
    teacher: Callable[[list[str]], np.ndarray] | None,
) -> _Trained:
    """Run the Hugging Face Trainer; returns the best weights (by validation macro-F1) and their logits."""
    import torch
    from transformers import DataCollatorWithPadding

    labels = train.label_names
    train_texts, y_train, soft_targets = _training_rows(train, config, teacher)
    train_ds = _Encoded(tokenizer, train_texts, y_train, config.max_length, soft_targets)
    valid_ds = _Encoded(tokenizer, valid.texts, valid.y, config.max_length)
    weights = (
        torch.tensor(class_weights(train.y, len(labels)), dtype=torch.float32)
        if config.imbalance in ("weighted-ce", "focal")
        else None
    )

    total = planned_steps(len(train_ds), config)
    keeper = _best_model_callback(config.patience)
    with tempfile.TemporaryDirectory(prefix="brandpulse-train-") as scratch:
        args = _training_arguments(config, scratch, total)
        trainer_cls = loss_trainer_class(
            weights, config.imbalance, config.focal_gamma, config.kd_alpha, config.kd_temperature
        )
        trainer = trainer_cls(
            model=model,
            args=args,
            train_dataset=train_ds,
            eval_dataset=valid_ds,
            data_collator=DataCollatorWithPadding(tokenizer),
            compute_metrics=_macro_f1_metric,
            callbacks=[keeper],
        )
        from transformers.trainer_callback import PrinterCallback

        # With its bar off the Trainer prints every log dict instead.
        trainer.remove_callback(PrinterCallback)
        description = f"fine-tuning on {len(train_ds):,} texts"
        if callable(progress):
            trainer.add_callback(progress_lines_callback(description, progress))
        elif progress:
            trainer.add_callback(progress_callback(description))
        started = time.perf_counter()
        trainer.train()
        steps = int(trainer.state.global_step)
        train_loss = [
            {"step": float(e["step"]), "loss": float(e["loss"])} for e in trainer.state.log_history if "loss" in e
        ]

    model = trainer.model
    logits: np.ndarray | None = None
    if not keeper.history or keeper.history[-1]["step"] != steps:
        # Runs that stop between evaluations (a max_steps off the evaluation grid) must still have their final weights scored;
        # these logits are reused below when the final weights turn out best (one validation pass, not two).
        logits = predict_logits(model, tokenizer, valid.texts, config.max_length, config.eval_batch_size)
        final_f1 = _macro_f1_metric(_EvalPrediction(logits, valid.y))["macro_f1"]
        keeper.record(steps, float(trainer.state.epoch or 0.0), {"eval_macro_f1": final_f1}, model)
    seconds = time.perf_counter() - started
    if logits is None or keeper.best_step != steps:
        if keeper.best_state is not None:
            model.load_state_dict(keeper.best_state)
        logits = predict_logits(model, tokenizer, valid.texts, config.max_length, config.eval_batch_size)
    return _Trained(model, keeper.history, train_loss, steps, seconds, logits)


def fine_tune(
    train: LabelledData,
    out_dir: Path,
    config: TrainConfig,
    valid: LabelledData | None = None,
    progress: Progress = True,
    *,
    cache_dir: Path,
    teacher: Callable[[list[str]], np.ndarray] | None = None,
    calibrate_also_on: LabelledData | None = None,
) -> TrainResult:
    """Train, calibrate, tune the negative threshold and write a complete checkpoint to ``out_dir``.

    ``calibrate_also_on``: labelled texts of other kinds (never trained on) the calibration is fitted on
    together with the validation set, so the probabilities stay honest beyond the training mix; the
    negative threshold and the validation metrics still come from the validation set alone.

    Without ``valid``, ``config.valid_fraction`` of ``train`` is held out (stratified, de-duplicated).
    ``cache_dir`` holds extracted encoders (the CLI passes ``<data_dir>/encoders``). ``teacher`` maps the
    final training texts (after the split, normalisation and oversampling) to a teacher's logits in
    the same label order; with it the loss mixes in distillation (``config.kd_alpha``,
    ``config.kd_temperature``) — see :mod:`models.distill`. ``progress``: a bar (True), progress lines with
    an estimate handed to a callable (logs, the demo), or nothing (False); it never changes the steps run.
    """
    import torch
    from transformers import set_seed

    train, valid = prepare_splits(train, valid, config)
    if calibrate_also_on is not None and calibrate_also_on.scheme != train.scheme:  # as for valid: y in the same labels
        raise DataError(f"train uses the {train.scheme} scheme but the calibration texts use {calibrate_also_on.scheme}")
    if config.threads:
        torch.set_num_threads(config.threads)
    set_seed(config.seed)
    labels = train.label_names
    tokenizer, model = load_untrained(config.base_model, labels, cache_dir)
    trained = _train(model, tokenizer, train, valid, config, progress, teacher)

    calibration = None
    if calibrate_also_on is not None and len(calibrate_also_on):
        extra = normalised_texts(calibrate_also_on) if config.normalise else calibrate_also_on
        assert_no_leakage(train, extra)
        extra_logits = predict_logits(trained.model, tokenizer, list(extra.texts), config.max_length, config.eval_batch_size)
        calibration = fit_calibration(np.vstack([trained.valid_logits, extra_logits]), np.concatenate([valid.y, extra.y]))
    result = write_checkpoint(
        out_dir, trained.model, tokenizer, valid, trained.valid_logits, config,
        trained_on=f"{train.source} ({len(train)} texts; valid {len(valid)})", calibration=calibration,
    )
    result.history, result.train_loss = trained.history, trained.train_loss
    result.train_seconds, result.steps = trained.seconds, trained.steps
    return result


def write_checkpoint(
    out_dir: Path,
    model: Any,
    tokenizer: Any,
    valid: LabelledData,
    valid_logits: np.ndarray,
    config: TrainConfig,
    *,
    trained_on: str,
    calibration: Calibration | None = None,
) -> TrainResult:
    """Calibrate (on ``valid`` unless ``calibration`` is given), tune the negative threshold and save a
    complete checkpoint: weights, tokenizer and the metadata every scorer reads.

    ``valid`` is as the model reads it (normalised when ``config.normalise``); ``valid_logits`` are the model's on it.
    """
    labels = valid.label_names
    calibration, probs, threshold, metrics = evaluate_logits(
        valid_logits, valid.y, labels, config.target_recall, config.threshold_objective, calibration
    )
    cut = None if threshold is None or threshold.is_argmax else threshold.threshold
    pred = decide(probs, labels, "negative", cut, calibration.class_bias)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with no_hub_bars():
        model.to("cpu").save_pretrained(out)
        tokenizer.save_pretrained(out)
    meta = CheckpointMeta(
        version=config.version or f"local/{out.name}",
        labels=labels,
        base_model=display_name(config.base_model),
        max_length=config.max_length,
        normalise_input=config.normalise,
        temperature=calibration.temperature,
        class_bias=None if calibration.class_bias is None else list(calibration.class_bias),
        negative_label="negative" if "negative" in labels else None,
        negative_threshold=cut,
        reference_distribution=predicted_distribution(pred, labels),
        reference_confidence=reference_confidence(probs, config.seed),
        reference_texts=reference_texts(valid.texts, config.seed),
        metrics=checkpoint_metrics(metrics, threshold, "negative"),
        trained_on=trained_on,
    )
    write_meta(out, meta)
    return TrainResult(model_dir=out, meta=meta, metrics=metrics, threshold=threshold, valid=valid, valid_probs=probs)
