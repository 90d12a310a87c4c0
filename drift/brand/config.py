"""Typed configuration of brand alerts. Defaults are tuned on the airline corpus (see docs/monitoring.md "Brand alerts")."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class BaselineConfig(BaseModel):
    """Where the expected count of a window comes from."""

    trailing_min: int = Field(default=720, ge=60, description="trailing window (minutes) before the tested window")
    local_min: int = Field(default=120, ge=10, description="the recent level: minutes just before the tested window")
    min_history_min: int = Field(default=720, ge=10, description="trailing minutes needed before any alert")
    min_baseline_count: int = Field(default=30, ge=1, description="posts in the trailing window needed before any alert")
    min_active_hours: int = Field(default=6, ge=0, description="trailing hours with posts needed (a brand that just appeared has no level yet)")
    profile_weeks: int = Field(default=2, ge=1, description="observed hours of an hour-of-week cell before it is used")
    profile_days: int = Field(default=3, ge=1, description="observed hours of an hour-of-day cell before it is used")
    profile_memory_weeks: int = Field(default=8, ge=2, description="profile sums halve when a cell has seen this many weeks")
    floor_rate: float = Field(default=0.02, ge=0, description="expected posts per minute never below this")


class SpikeConfig(BaseModel):
    """When a detector fires, escalates and resolves."""

    windows_min: tuple[int, ...] = Field(default=(10, 60), description="tested windows, minutes ending now")
    alpha: float = Field(default=1e-7, gt=0, lt=1, description="tail probability below which a window is a spike")
    alpha_resolve: float = Field(default=1e-3, gt=0, lt=1, description="the spike is over once every window's p ≥ this")
    min_count: int = Field(default=20, ge=1, description="counted posts a window needs to fire")
    min_dispersion: float = Field(
        default=0.1, ge=0, description="floor of the negative-binomial φ: social counts swing ±30 % hour to hour on their own"
    )
    cold_start_count: int = Field(
        default=100, ge=1, description="a brand watched 12 h but (nearly) silent alerts only on this many voices in the shortest window"
    )
    min_ratio: float = Field(default=2.0, ge=1, description="observed / expected a volume window needs to fire")
    min_ratio_unseasoned: float = Field(default=8.0, ge=1, description="observed / expected needed while no time-of-day profile confirms")
    min_shift: float = Field(default=0.15, ge=0, description="share increase a sentiment window needs to fire")
    resolve_after_min: int = Field(default=15, ge=1, description="calm minutes in a row before 'resolved'")
    cooldown_min: int = Field(default=60, ge=0, description="after 'resolved', minutes before this detector starts again")
    escalate_factor: float = Field(default=2.0, gt=1, description="escalate when the window count grew by this factor")
    absorb_after_min: int = Field(default=180, ge=0, description="episode minutes excluded from the baseline, then it adapts")
    count: Literal["voices", "raw"] = Field(default="voices", description="distinct voices (default) or raw mentions")


class VoiceConfig(BaseModel):
    """What counts as one voice."""

    dedupe_min: int = Field(default=360, ge=1, description="a text seen again within this many minutes is a copy")
    author_cap: int = Field(default=3, ge=1, description="voices one author can add per dedupe window")
    max_texts: int = Field(default=200_000, ge=100, description="texts remembered per brand; past it the older half is forgotten")


class WhyConfig(BaseModel):
    prior_mass: float = Field(default=500.0, gt=0, description="α₀ of the informative Dirichlet prior (in tokens)")
    min_z: float = Field(default=2.0, ge=0, description="z-score a term needs to be reported as distinctive")
    min_term_voices: int = Field(default=3, ge=1, description="window voices a term needs to be reported")
    top_terms: int = Field(default=8, ge=1)
    top_tags: int = Field(default=5, ge=1)
    examples: int = Field(default=4, ge=1, le=5)
    baseline_hours: int = Field(default=24, ge=1, description="hours of baseline posts sampled for the comparison")
    sample_per_hour: int = Field(default=150, ge=10, description="baseline posts kept per brand and hour (reservoir)")


class BrandWatchConfig(BaseModel):
    baseline: BaselineConfig = Field(default_factory=BaselineConfig)
    volume: SpikeConfig = Field(default_factory=SpikeConfig)
    negative: SpikeConfig = Field(default_factory=SpikeConfig)
    positive: SpikeConfig = Field(default_factory=SpikeConfig)
    voices: VoiceConfig = Field(default_factory=VoiceConfig)
    why: WhyConfig = Field(default_factory=WhyConfig)
    escalate_every_min: int = Field(default=10, ge=0, description="at most one 'still growing' message per brand per this many minutes")
    lateness_min: int = Field(default=2, ge=0, description="a minute closes this long after the newest post's minute")
    max_gap_min: int = Field(default=180, ge=1, description="a silence of the whole feed longer than this is an outage, not zeros")
    max_recent_posts: int = Field(default=5_000, ge=100, description="window posts kept per brand for the 'why'")
