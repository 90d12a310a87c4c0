"""The plain input of brand monitoring: one scored post, as ``streams`` hands it over."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BrandPost:
    post_id: str
    brand: str
    text: str
    created_at: dt.datetime
    label: str
    confidence: float
    author: str | None = None
    reposts: int = 0
    followers: int = 0
    is_repost: bool = False

    @property
    def minute(self) -> int:
        return int(self.created_at.timestamp()) // 60
