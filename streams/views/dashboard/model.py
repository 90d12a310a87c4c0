"""What a dashboard page is asked for and what it shows: plain typed data, no I/O."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from streams.views.dashboard.brand_panels import BrandPanels
from streams.core.schemas import Alert, utcnow
from streams.views.trends import check_bucket, check_until, parse_duration

# Bucket widths the dashboard picks from when none is asked for: at most MAX_BARS bars per chart.
AUTO_BUCKETS = ("1m", "5m", "15m", "30m", "1h", "3h", "6h", "12h", "1d")
MAX_BARS = 96
WINDOWS = ("1h", "6h", "24h", "3d", "7d", "30d")
MAX_ALERTS = 200

# The default window (no ``since``) fits the data: its span before the window end, within these bounds.
FIT_MIN = dt.timedelta(hours=1)
FIT_MAX = dt.timedelta(days=7)
FIT_EMPTY = "6h"  # no data before the window end


class DashboardQuery(BaseModel):
    """What the page is asked for (query parameters ``brand``, ``since``, ``bucket``, ``until``, ``refresh``)."""

    brand: str | None = Field(default=None, max_length=128, description="One brand, or all brands together")
    since: str | None = Field(
        default=None, description="Window length, e.g. 90m, 6h, 7d (default: fitted to the data, at most 7 days)"
    )
    bucket: str | None = Field(default=None, description="Bucket width in whole minutes (default: chosen from the window)")
    until: str = Field(default="latest", description="Window end: latest (newest data), now, or an ISO time")
    refresh: int = Field(default=30, ge=0, le=3600, description="Auto-refresh period in seconds; 0 turns it off")

    @field_validator("brand", "since", "bucket", mode="before")
    @classmethod
    def _blank_is_none(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("since")
    @classmethod
    def _window(cls, v: str | None) -> str | None:
        if v is None:
            return None
        parse_duration(v)
        return v.strip()

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, v: str | None) -> str | None:
        if v is None:
            return None
        check_bucket(v)
        return v.strip()

    @field_validator("until")
    @classmethod
    def _until(cls, v: str) -> str:
        return check_until(v)

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> DashboardQuery:
        """Parse query parameters; raises ValueError with a message fit for the user."""
        known = {k: v for k, v in params.items() if k in cls.model_fields}
        try:
            return cls.model_validate(known)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors())
            raise ValueError(f"bad dashboard parameters ({problems})") from None

    def resolved_bucket(self, window: dt.timedelta | None = None) -> str:
        """The asked bucket, else the narrowest with at most MAX_BARS bars in ``window`` (default: ``since``)."""
        if self.bucket:
            return self.bucket
        window = window or parse_duration(self.since or FIT_EMPTY)
        for b in AUTO_BUCKETS:
            if window / parse_duration(b) <= MAX_BARS:
                return b
        return AUTO_BUCKETS[-1]


class Bucket(BaseModel):
    start: dt.datetime
    posts: int
    negative: int
    neutral: int
    positive: int
    negative_share: float  # expected share: mean calibrated p(negative)
    mean_confidence: float
    flagged_negative_share: float = 0.0  # share labelled negative by the (recall-tuned) alerting rule
    expected_share: dict[str, float] = Field(default_factory=dict)

    def expected(self, label: str) -> float:
        """Expected share of ``label``; the label counts' share when the bucket has no expected shares."""
        if label in self.expected_share:
            return self.expected_share[label]
        return getattr(self, label) / self.posts if self.posts else 0.0


class ModelSummary(BaseModel):
    """A served model and how it does on the human-labelled sample."""

    role: str
    version: str
    labelled: int = 0
    accuracy: float | None = None
    macro_f1: float | None = None
    negative_recall: float | None = None


class DashboardData(BaseModel):
    query: DashboardQuery
    brands: list[str]
    start: dt.datetime
    end: dt.datetime
    bucket: str
    buckets: list[Bucket]
    alerts: list[Alert]
    models: list[ModelSummary]
    label_queue: int
    newest: dt.datetime | None
    brand_panels: BrandPanels = Field(default_factory=BrandPanels)
    generated_at: dt.datetime = Field(default_factory=utcnow)
    source: str = "worker"


class DashboardUnavailable(RuntimeError):
    """The data source (worker or ClickHouse) cannot answer right now."""
