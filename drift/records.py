"""Records that cross a Kafka topic or a ClickHouse table and that drift's logic reads or writes.

Defined here, in the lower layer, so drift and streams import the one definition without a cycle;
:mod:`streams.core.schemas` re-exports them next to the edge-only records (``Post``, ``DeadLetter``).
All records serialise to JSON with ``model_dump_json``.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# "champion": the served model's row. "shadow": the challenger's row, scored next to the champion
# but never served (see drift.shadow for the words). "unscored": stored with its language, never
# scored (a language the model does not read).
ModelRole = Literal["champion", "shadow", "unscored"]


class ScoredPost(BaseModel):
    """One model's verdict on one post: the row written to ClickHouse and the scored topic."""

    post_id: str
    brand: str
    platform: str
    author: str | None = None
    lang: str | None = None
    text: str
    created_at: dt.datetime
    ingested_at: dt.datetime
    label: str
    probs: dict[str, float]
    confidence: float
    model_version: str
    model_role: ModelRole = "champion"
    # Reach from the post's metadata when the source reports it, so trends can be reach-weighted.
    reposts: int = 0
    followers: int = 0


class ModelEvent(BaseModel):
    """Tells workers to (re)load a model for a role without restarting, or that a retrain ended.

    ``retrain-closed`` carries no model: the retrain asked for ``retrain_for`` was rejected, skipped
    or failed, so workers may ask again at the next alert instead of waiting for the request to expire.
    """

    action: Literal["load", "unload", "retrain-closed"] = "load"
    role: Literal["champion", "challenger"]
    model_ref: str = Field(default="", description="registry alias, models:/ URI or checkpoint dir")
    version: str | None = None
    retrain_for: str | None = Field(default=None, description="Model version whose retrain request this event closes")
    reason: str = ""
    at: dt.datetime = Field(default_factory=utcnow)


# label_drift: the predicted label mix moved (older records; new ones are sentiment_shift).
# sentiment_shift: the mix moved — a fact about the brand, not by itself a model problem.
# estimated_performance / input_drift: label-free model-health signals (drift/health.py).
AlertKind = Literal[
    "confidence_drift", "label_drift", "sentiment_shift", "estimated_performance", "input_drift",
    "labelled_performance", "retrain", "promotion",
    # brand alerts (streams.worker.brand_watch): about the brand, never about the model
    "brand_volume_spike", "brand_negative_spike", "brand_positive_surge", "brand_spike_escalated", "brand_spike_resolved",
]


# How an episode of alerts ended (drift.episodes): no alert of its key for the quiet period, or its
# model version stopped being the champion.
Resolution = Literal["quiet", "replaced"]


class Alert(BaseModel):
    alert_id: str
    kind: AlertKind
    detector: str
    statistic: float
    threshold: float
    brand: str | None = None
    window: int = 0
    model_version: str
    example_post_ids: list[str] = Field(default_factory=list)
    message: str = ""
    detected_at: dt.datetime = Field(default_factory=utcnow)
    since: dt.datetime | None = None
    # Set on the one alert that says an episode is over (drift.episodes); ``resolves`` names the alert that opened it.
    resolution: Resolution | None = None
    resolves: str | None = None
    # The retrain request this model alert opened (``retrain_opened``) or joined while it was in flight.
    retrain_id: str | None = None
    retrain_opened: bool = False


RetrainStatus = Literal["registered", "rejected", "skipped", "failed"]


class RetrainAlert(Alert):
    """A retrain's outcome as the trainer publishes it on the alerts topic: an :class:`Alert` plus how it ended.

    The store reads the record as a plain :class:`Alert` (these two fields are not columns); the worker
    reads them to tell Slack whether a challenger came of the retrain. Never insert one as it is.
    """

    kind: Literal["retrain"] = "retrain"
    status: RetrainStatus
    requested_for: str = Field(description="the model version whose alerts asked for the retrain")


class LabelRequest(BaseModel):
    post_id: str
    brand: str
    text: str
    predicted_label: str
    confidence: float
    model_version: str
    reason: Literal["flyback", "uncertain"]
    requested_at: dt.datetime = Field(default_factory=utcnow)


class HumanLabel(BaseModel):
    post_id: str
    label: str
    annotator: str
    labelled_at: dt.datetime = Field(default_factory=utcnow)
    text: str | None = None


class RetrainRequest(BaseModel):
    request_id: str
    model_version: str
    reason: str
    alert_id: str | None = None
    requested_at: dt.datetime = Field(default_factory=utcnow)
