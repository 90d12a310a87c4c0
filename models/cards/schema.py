"""The typed model card, as written next to every registered version (``card/card.json``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SourceData(BaseModel):
    """The rows one data source gave a split, by class."""

    source: str
    rows: int
    classes: dict[str, int]
    note: str = Field(default="", description="How the rows were used, e.g. 'repeated ×3'")


class DataRecord(BaseModel):
    """What a run trained and validated on, source by source; recorded by the code that built the sets."""

    train: list[SourceData]
    validation: list[SourceData]
    # Texts only the calibration was fitted on (with the validation set), never trained on.
    calibration: list[SourceData] = Field(default_factory=list)
    note: str = ""


class ClassMetrics(BaseModel):
    precision: float
    recall: float
    f1: float
    support: int


class ReliabilityBin(BaseModel):
    """One equal-width top-label confidence bin."""

    lower: float
    upper: float
    count: int
    accuracy: float
    confidence: float


class SetMetrics(BaseModel):
    """A model's decisions and calibrated probabilities scored on one labelled set."""

    name: str
    n: int
    labels: list[str]
    accuracy: float
    macro_f1: float
    macro_recall: float | None = None
    per_class: dict[str, ClassMetrics] = Field(default_factory=dict)
    confusion_matrix: list[list[int]] = Field(default_factory=list, description="rows = true, columns = predicted")
    ece: float | None = None
    ece_per_class: dict[str, float] = Field(default_factory=dict)
    reliability: list[ReliabilityBin] = Field(default_factory=list)
    note: str = ""


class Calibration(BaseModel):
    """How the checkpoint turns logits into probabilities and decisions, and what it was fitted on."""

    temperature: float
    class_bias: list[float] | None = None
    negative_threshold: float | None = None
    fitted_on: str = ""


class ModelCard(BaseModel):
    version: str
    base_model: str
    labels: list[str]
    trained_on: str
    recipe: dict[str, str] = Field(default_factory=dict, description="Training parameters as the registry logged them")
    data: DataRecord | None = Field(default=None, description="None when the registering code recorded no sources")
    licences: dict[str, str] = Field(default_factory=dict, description="source → what is known of its terms")
    calibration: Calibration
    validation: SetMetrics | None = None
    shared: list[SetMetrics] = Field(default_factory=list, description="The shared evaluation sets, when scored")
    weaknesses: list[str] = Field(default_factory=list)
