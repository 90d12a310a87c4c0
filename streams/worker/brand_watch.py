"""The worker's watch over the brands: spike alerts with their "why", next to (not inside) model drift.

Fed every scored batch (registered as an observer in :mod:`streams.worker.runtime`). The pure logic is
:class:`drift.brand.monitor.BrandMonitor`; this module is its edge: it turns scored rows into
plain posts, brand events into :class:`~streams.core.schemas.Alert` rows (kinds ``brand_*``) stored in
the ``alerts`` table, published on the alerts topic (with the full "why" attached) and sent to
Slack as Block Kit — to the routes of the alert-rules file when there is one
(:mod:`streams.slack.routing`). Brand alerts never reach the retrain coalescer: a crisis is news about the
brand, not a sign the model is wrong. State lives in ``<data_dir>/brand/monitor.json``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from drift.brand.config import BrandWatchConfig
from drift.brand.monitor import BrandEvent, BrandMonitor
from drift.brand.post import BrandPost
from models.cpu_stages import stage
from models.files import atomic_write_text
from streams.slack.notifier import SlackNotifier
from streams.core import metrics
from streams.slack.routing import BrandAlertSender, load_rules
from streams.worker.refusals import write_or_dead_letter
from streams.worker.pipeline import BatchResult
from streams.core.schemas import Alert, ScoredPost, utcnow
from streams.core.settings import Settings
from streams.store.protocol import Store

log = logging.getLogger(__name__)

Send = Callable[[str, bytes | None, bytes], Awaitable[None]]
TICK_S = 30.0  # state saved and digests checked this often


def load_config(path: Path | None) -> BrandWatchConfig:
    """Thresholds from a JSON file (``BRANDPULSE_BRAND_ALERT_CONFIG``), defaults otherwise."""
    if path is None:
        return BrandWatchConfig()
    try:
        return BrandWatchConfig.model_validate_json(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read brand alert settings from {path}: {exc}") from exc


def to_brand_post(row: ScoredPost) -> BrandPost:
    return BrandPost(post_id=row.post_id, brand=row.brand, text=row.text, created_at=row.created_at,
                     label=row.label, confidence=row.confidence, author=row.author, reposts=row.reposts,
                     followers=row.followers)


def to_alert(event: BrandEvent, model_version: str) -> Alert:
    lead = min(event.signals, key=lambda s: s.p_value)
    return Alert(
        alert_id=event.event_id, kind=event.alert_kind,  # type: ignore[arg-type]
        detector=lead.detector, statistic=lead.observed, threshold=lead.expected, brand=event.brand,
        window=lead.window_min, model_version=model_version,
        example_post_ids=[ex.post_id for ex in event.why.examples] if event.why else [],
        message=event.message, detected_at=event.at, since=event.started_at,
    )


class BrandWatcher:
    def __init__(
        self, settings: Settings, store: Store, send: Send, notifier: SlackNotifier,
        groups: dict[str, list[str]] | None = None, autosave: bool = True,
    ) -> None:
        # autosave=False: the owner saves the state together with what it acknowledges (streams.worker.runtime).
        self.autosave = autosave
        self.store = store
        self.send = send
        self.alerts_topic = settings.topic("alerts")
        self.sender = BrandAlertSender(notifier, load_rules(settings.alert_routes), groups or {})
        self.path = settings.state_dir / "brand" / "monitor.json"
        config = load_config(settings.brand_alert_config)
        try:
            self.monitor = BrandMonitor.from_state(json.loads(self.path.read_text()), config)
        except FileNotFoundError:
            self.monitor = BrandMonitor(config)
        except (ValueError, KeyError, TypeError) as exc:
            # An old or damaged state costs the brands their baselines (they re-learn in 12 h), not the worker.
            log.error("brand monitor state %s unusable (%s); starting brand baselines afresh", self.path, exc)
            self.monitor = BrandMonitor(config)
        self.alerts_raised = 0
        self.busy_s = 0.0
        self.posts = 0
        self._ticker: asyncio.Task[None] | None = None
        self._lock = threading.Lock()  # the monitor is updated in one thread and saved from another

    async def observe_batch(self, result: BatchResult) -> None:
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick_forever(), name="brand-watch-tick")
        with stage("brand detectors"):
            rows = [r for r in result.scored if r.brand != "unknown"]
            posts = [to_brand_post(r) for r in rows]
        if not rows:
            return
        # In a thread: an alert's "why" tokenises a few thousand posts, too long for the event loop.
        events = await asyncio.to_thread(self._observe, posts)
        self.posts += len(rows)
        if events:
            await self.raise_events(events, rows[0].model_version)

    def _observe(self, posts: list[BrandPost]) -> list[BrandEvent]:
        with self._lock, stage("brand detectors"):
            started = time.perf_counter()
            events = self.monitor.observe(posts, now=utcnow())
            self.busy_s += time.perf_counter() - started
        return events

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                self.sender.tick(utcnow())
                if self.autosave:
                    await asyncio.to_thread(self.save)
            except Exception:  # noqa: BLE001 - the next tick tries again; scoring is never affected
                log.exception("brand watch tick failed")

    async def raise_events(self, events: Sequence[BrandEvent], model_version: str) -> None:
        alerts = [to_alert(e, model_version) for e in events]
        await asyncio.to_thread(write_or_dead_letter, self.store, self.store.insert_alerts, alerts,
                                topic=self.alerts_topic, what="brand alert")
        metrics.record_alerts(alerts)
        for event, alert in zip(events, alerts):
            log.warning("BRAND ALERT %s brand=%s: %s", alert.kind, alert.brand, alert.message)
            record = {**alert.model_dump(mode="json"), "why": event.why.model_dump(mode="json") if event.why else None}
            await self.send("alerts", alert.alert_id.encode(), json.dumps(record).encode())
            self.sender.send(event, alert, utcnow())
        self.alerts_raised += len(alerts)

    def save(self) -> None:
        with self._lock:
            state = json.dumps(self.monitor.to_state())
        atomic_write_text(self.path, state)

    async def aclose(self) -> None:
        """Stop the ticker, save the state, drain the routes' Slack queues."""
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        await asyncio.to_thread(self.save)
        await self.sender.aclose()

    def stats(self) -> dict[str, float | int]:
        return {
            "brand_alerts": self.alerts_raised, "posts": self.posts, "late_posts": self.monitor.late,
            "feed_outages": self.monitor.outages, "busy_s": round(self.busy_s, 3),
            "slack_now": self.sender.sent_now, "digests": self.sender.digests_sent,
            "us_per_post": round(1e6 * self.busy_s / self.posts, 1) if self.posts else 0.0,
        }
