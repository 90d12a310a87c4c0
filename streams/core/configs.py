"""The lower layers' typed configs, each built from the one :class:`streams.core.settings.Settings`.

``models`` and ``drift`` never read the process settings: they take these small configs (River
style), so they run and test without Kafka, ClickHouse or the environment. One function per config.
"""

from __future__ import annotations

from pathlib import Path

from drift.retraining.config import RetrainPlaces
from models.registry import RegistryConfig
from streams.core.settings import Settings


def registry_config(settings: Settings) -> RegistryConfig:
    return RegistryConfig(
        state_dir=settings.state_dir, tracking_uri=settings.tracking_uri, registered_model=settings.registered_model
    )


def encoders_dir(settings: Settings) -> Path:
    """Where base encoders are extracted once and reused by every training run."""
    return settings.state_dir / "encoders"


def retrain_places(settings: Settings) -> RetrainPlaces:
    return RetrainPlaces(
        registry=registry_config(settings),
        work_dir=settings.state_dir / "trainer",
        encoders=encoders_dir(settings),
        eval_batch_size=settings.scorer_batch_size,
        eval_threads=settings.threads,
    )
