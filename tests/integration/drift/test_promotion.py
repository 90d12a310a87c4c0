"""Promotion moves the registry aliases and announces the change on the real broker."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from streams.kafka.announcer import promote_and_announce
from drift.shadow import ShadowReport
from streams.core.schemas import Alert, ModelEvent
from streams.core.settings import Settings
from streams.core.configs import registry_config


def consume(settings: Settings, key: str, timeout_s: float = 20.0) -> list[bytes]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        settings.topic(key), bootstrap_servers=settings.kafka_bootstrap, group_id=None,
        auto_offset_reset="earliest", consumer_timeout_ms=1000,
    )
    out: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    while not out and time.monotonic() < deadline:
        out += [m.value for m in consumer]
    consumer.close()
    return out


def test_promote_and_announce(kafka_bootstrap: str, trained_model: Path, tmp_path: Path) -> None:
    from models.registry import CHALLENGER, CHAMPION, PREVIOUS, alias_version, log_and_register
    from streams.kafka.topics import create_topics

    tag = uuid.uuid4().hex[:8]
    settings = Settings(
        kafka_url=f"kafka://{kafka_bootstrap}", topic_prefix=f"pr{tag}", app_id=f"bp-pr-{tag}",
        data_dir=tmp_path / "state",
    )
    create_topics(settings)
    old = log_and_register(trained_model, registry=registry_config(settings), params={}, metrics={}, alias=CHAMPION)
    new = log_and_register(trained_model, registry=registry_config(settings), params={}, metrics={}, alias=CHALLENGER)
    report = ShadowReport(
        champion_version=old, challenger_version=new, n_paired=900, agreement=0.88, js_distance=0.04,
        champion_distribution={}, challenger_distribution={}, n_labels=240, champion_macro_f1=0.71,
        challenger_macro_f1=0.78, champion_negative_recall=0.80, challenger_negative_recall=0.84,
    )

    event = promote_and_announce(settings, reason="shadow win", report=report)

    assert (event.role, event.model_ref, event.version) == ("champion", "champion", new)
    assert alias_version(CHAMPION, registry=registry_config(settings)) == new
    assert alias_version(PREVIOUS, registry=registry_config(settings)) == old
    assert alias_version(CHALLENGER, registry=registry_config(settings)) is None  # its shadow run is over
    published = [ModelEvent.model_validate_json(v) for v in consume(settings, "model-events")]
    assert [(e.role, e.model_ref, e.version) for e in published] == [("champion", "champion", new)]
    alerts = [Alert.model_validate_json(v) for v in consume(settings, "alerts")]
    assert [a.kind for a in alerts] == ["promotion"]
    assert f"Promoted {new} to champion (was {old}). shadow win" in alerts[0].message
    assert alerts[0].statistic == 0.78 and alerts[0].window == 240
