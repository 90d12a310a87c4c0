"""The worker's watch over its own output: drift detectors, flyback sampling, labelled performance.

Fed after every stored batch (``observe_batch``; ``observe_verdicts`` with its shadow rows too) and
every batch of human labels (``observe_labels``). Labelled performance and the shadow comparison
behind promotion come from the verdict ledger (:mod:`drift.labels.verdicts`), which joins the
random sample's verdicts with their human labels: the watcher reads nothing back from ClickHouse, so
a watch-only process judges and promotes exactly as the one-process worker does. Model-health
checks run in the background, in a thread, at most one per model version at a time, so a check
never holds up the batch that made it due. Whatever fires becomes an
:class:`~streams.core.schemas.Alert`, offered to the retrain coalescer (which publishes at most one
retrain request per model version in flight; the alert names the request it opened or joined) and to
the alert episodes (:mod:`drift.episodes`: the first alert per kind, model version and brand is raised,
repeats are suppressed until the episode resolves, which is raised once too). A raised alert is
stored in ClickHouse, published on the alerts topic and sent to Slack (in the background, never
blocking scoring). Retrain outcomes and promotions,
which the trainer and whoever promotes publish on the alerts topic, reach Slack through
:meth:`Watcher.announce_outcome`, routed like model alerts. All detector state lives in
``<data_dir>/drift/`` and survives restarts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from drift.labels.active import ActiveConfig, ActiveSelector
from drift.labels.flyback import in_flyback, select_for_labelling
from drift.labels.verdicts import ChampionPair, VerdictLedger
from drift.health import HealthCheck, HealthConfig, HealthMonitor, NotEnoughData, build_reference
from drift.detectors.monitor import DriftMonitor, MonitorConfig
from drift.episodes import AlertEpisodes, EpisodeConfig
from drift.performance import PerformanceMonitor
from drift.retraining.requests import RetrainCoalescer
from drift.shadow import ShadowReport, compare, should_promote
from streams.core import metrics
from streams.slack.messages import alert_message
from streams.slack.notifier import SlackNotifier
from streams.worker.refusals import write_or_dead_letter
from streams.worker.pipeline import BatchResult
from models.cpu_stages import stage
from models.files import atomic_write_text
from models.scoring.scorer import decide
from models.scoring.factory import SentimentScorer
from streams.core.schemas import Alert, HumanLabel, RetrainAlert, RetrainRequest, ScoredPost, utcnow
from streams.core.model_slots import Serving
from streams.core.settings import Settings
from streams.store.protocol import Store

log = logging.getLogger(__name__)
T = TypeVar("T")

Send = Callable[[str, bytes | None, bytes], Awaitable[None]]  # (topic key, record key, value)

OUTCOME_KINDS = frozenset({"retrain", "promotion"})
# Older than this when first read, an outcome is history (a consumer group reading the topic from
# its start), not news: it stays in the topic and the table, and is not sent to Slack.
OUTCOME_MAX_AGE = dt.timedelta(hours=6)


def read_outcome(value: bytes | None) -> Alert | None:
    """The retrain outcome or promotion an alerts-topic record holds; None for any other alert.

    A retrain outcome is read with its status (:class:`RetrainAlert`) when the trainer sent one."""
    try:
        data = json.loads(value or b"")
        if not isinstance(data, dict) or data.get("kind") not in OUTCOME_KINDS:
            return None
        return (RetrainAlert if data["kind"] == "retrain" and "status" in data else Alert).model_validate(data)
    except ValueError as exc:
        # Not the record's text: it may be anything a producer wrote.
        detail = ("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_input=False))
                  if isinstance(exc, ValidationError) else type(exc).__name__)
        log.error("unreadable record on the alerts topic, not sent to Slack: %s", detail)
        return None


def in_data_time(alert: Alert, at: dt.datetime | None) -> Alert:
    """The alert in the stream's own time, as brand alerts are: detected at ``at`` (the newest post seen),
    since its drift began (its detection, when the detector cannot tell). A replayed corpus then shows
    its model alerts inside the data's window on the dashboard, and the retrain they open carries that time."""
    if at is None:
        return alert
    return alert.model_copy(update={"detected_at": at, "since": min(alert.since or at, at)})


class Watcher:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        send: Send,
        notifier: SlackNotifier,
        serving: Callable[[], Serving],
    ) -> None:
        self.settings = settings
        self.state_dir = settings.state_dir / "drift"
        self.store = store
        self.send = send
        self.notifier = notifier
        self.serving = serving
        self.flyback_rate = settings.flyback_rate
        self.active = ActiveSelector(ActiveConfig(budget_per_hour=settings.label_budget_per_hour), time.monotonic())
        state_dir = self.state_dir
        self.monitor = DriftMonitor.load_or_create(
            state_dir / "monitor.json", MonitorConfig(min_brand_posts=settings.drift_min_brand_posts)
        )
        self.health = HealthMonitor(HealthConfig(
            window=settings.health_window, every=settings.health_window // 2,
            min_interval_s=settings.health_min_interval_s, embedding_sample=settings.health_embedding_sample,
        ))
        self._checks: dict[str, asyncio.Task[None]] = {}  # the health check in flight per model version
        extra = self._load_extra()
        self.performance = self._restore(PerformanceMonitor, extra.get("performance"))
        self.coalescer = self._restore(RetrainCoalescer, extra.get("coalescer"))
        self.ledger = self._restore(VerdictLedger, extra.get("ledger"))
        self._retained_for: frozenset[str] = frozenset()  # the versions served when the ledger last forgot others
        self.episodes = self._restore_episodes(extra.get("episodes"), EpisodeConfig(
            resolve_after_min=settings.alert_resolve_after_min, cooldown_min=settings.alert_cooldown_min))
        self.alerts_raised = 0
        self.label_requests = 0
        self.shadow_report: ShadowReport | None = None
        self._promoted: set[str] = set()
        self._judged: set[str] = set()  # challengers that lost on enough labels (their champion was re-armed once)
        # created_at of the newest post observed: the stream's own clock, kept across restarts so the
        # alerts raised before the first batch (labels come first) and episodes stay in data time.
        self.data_time: dt.datetime | None = dt.datetime.fromisoformat(extra["data_time"]) if extra.get("data_time") else None

    @staticmethod
    def _restore(cls: type[T], state: dict | None) -> T:
        """Saved detector state, or a fresh one when there is none or it has an older format."""
        if state is None:
            return cls()
        try:
            return cls.from_state(state)  # type: ignore[attr-defined]
        except (ValueError, KeyError) as exc:
            log.warning("%s state not restored (%s); starting it afresh", cls.__name__, exc)
            return cls()

    @staticmethod
    def _restore_episodes(state: dict | None, config: EpisodeConfig) -> AlertEpisodes:
        """Saved alert episodes under today's settings; none when there is no (usable) state."""
        if state is None:
            return AlertEpisodes(config)
        try:
            return AlertEpisodes.from_state(state, config)
        except (ValueError, KeyError) as exc:
            log.warning("alert episodes not restored (%s); the next alert of each kind opens a new one", exc)
            return AlertEpisodes(config)

    # ---- model lifecycle hooks -----------------------------------------------------------
    async def model_loaded(self, scorer: SentimentScorer) -> None:
        """Give every detector the reference of a model now served (its label mix, quality, texts)."""
        version, meta = scorer.version, scorer.meta
        reference = meta.reference_distribution
        if reference and version not in {k[0] for k in self.monitor.keys}:
            self.monitor.set_reference(version, reference)
        validated = meta.metrics.get("macro_f1")
        if validated and self.performance.baseline(version) is None:
            self.performance.set_baseline(version, validated)
        if self.health.has_reference(version):
            return
        if len(meta.reference_texts) < 20:
            log.warning("%s has no reference texts (trained before they were recorded): no estimated-accuracy "
                        "or input-drift checks for it", version)
            return
        texts = meta.reference_texts
        # One forward pass of the served model gives the reference's probabilities and sentence vectors.
        probs, vectors = await asyncio.to_thread(scorer.predict_proba_and_vectors, texts)
        decided = decide(probs, scorer.labels, meta.negative_label, meta.negative_threshold, meta.class_bias)
        embeddings = vectors if self.health.config.embedding_sample else None
        ref = await asyncio.to_thread(build_reference, texts, probs, [scorer.labels[i] for i in decided], scorer.labels,
                                      meta.normalise_input, embeddings)
        self.health.set_reference(version, ref)
        log.info("model health reference for %s: estimated accuracy %.3f on %d reference texts%s",
                 version, ref.accuracy, len(texts), " (and their sentence vectors)" if embeddings is not None else "")

    def retire_versions(self, served: set[str]) -> list[str]:
        """Forget the detector and model-health state of every version no longer served (a replaced
        champion, a challenger that lost). A health reference holds the reference vectors and its domain
        tests' factors, tens of MB a model: a worker that retrains for months must not keep them all.
        Alert episodes, labelled performance and the verdict ledger stay (small, and still read)."""
        retired = sorted((self.monitor.versions | self.health.versions) - served)
        for version in retired:
            self.monitor.drop_version(version)
            self.health.drop_version(version)
        if retired:
            log.info("dropped the drift and model-health state of %s: no longer served", ", ".join(retired))
        return retired

    def is_random_sample(self, post_id: str) -> bool:
        """Whether a labelled post belongs to the uniform flyback sample (the only unbiased evidence)."""
        return in_flyback(post_id, self.flyback_rate)

    def champion_version(self) -> str | None:
        try:
            return self.serving().champion.version
        except RuntimeError:
            return None

    # ---- per batch -----------------------------------------------------------------------
    async def observe_verdicts(self, rows: Sequence[ScoredPost]) -> None:
        """Champion and shadow verdicts on the random sample into the ledger; a label that was waiting
        for its verdict is judged now (labelled performance, then the challenger)."""
        with stage("drift monitors and flyback"):
            sample = [r for r in rows if self.is_random_sample(r.post_id)]
            joined = self.ledger.add_verdicts(sample)
            # A shadow verdict that met a waiting label changes the comparison even when no champion pair came.
            shadow_joined = any(r.model_role == "shadow" and self.ledger.is_labelled(r.post_id) for r in sample)
        if joined or shadow_joined:
            await self._judge(joined)

    async def observe_batch(self, result: BatchResult) -> None:
        if not result.scored:
            return
        newest = max(p.created_at for p in result.scored)
        self.data_time = newest if self.data_time is None else max(self.data_time, newest)
        # Data time moved on: episodes of a replaced champion, and those quiet long enough, end here.
        await self._publish(self.episodes.follow_champion(self.champion_version(), self.data_time)
                            + self.episodes.resolve(self.data_time))
        with stage("drift monitors and flyback"):
            alerts = self.monitor.observe(result.scored)
            requests = select_for_labelling(result.scored, rate=self.flyback_rate, active=self.active, now=time.monotonic())
        champion = [p for p in result.scored if p.model_role == "champion"]
        # Only posts that came with a vector are sampled for the input-drift test: nothing is embedded twice.
        with stage("model health"):
            due = self.health.add(champion, result.vectors)
        for version in due:
            self._start_health_check(version)
        if requests:
            await asyncio.to_thread(write_or_dead_letter, self.store, self.store.insert_label_requests, requests,
                                    topic=self.settings.topic("label-requests"), what="label request")
            for req in requests:
                await self.send("label-requests", req.post_id.encode(), req.model_dump_json().encode())
            self.label_requests += len(requests)
        await self.raise_alerts(alerts)

    def _start_health_check(self, version: str) -> None:
        running = self._checks.get(version)
        if running is not None and not running.done():
            return  # the previous check is still running; the posts since wait for the next one
        self._checks[version] = asyncio.create_task(self._health_check(version), name=f"health check {version}")

    async def _health_check(self, version: str) -> None:
        try:
            before = self.health.last_check(version)
            outcome = await asyncio.to_thread(self._check_health, version)
            if isinstance(outcome, NotEnoughData) and getattr(before, "reason", None) != outcome.reason:
                log.info("model health of %s: not enough data (%s)", version, outcome.detail)
            await self.raise_alerts([Alert(alert_id=uuid.uuid4().hex, **sig.model_dump()) for sig in outcome.signals])
        except Exception:  # noqa: BLE001 - monitoring must never stop scoring
            log.exception("model-health check of %s failed", version)

    def _check_health(self, version: str) -> HealthCheck:
        with stage("model health"):
            return self.health.check(version)

    def stop_health_checks(self) -> None:
        """Cancel checks in flight (shutdown): the next start checks the window again."""
        for task in self._checks.values():
            task.cancel()

    async def observe_labels(self, labels: Sequence[HumanLabel]) -> None:
        """Store human labels; score the champion's verdicts on the random-sample ones against them.

        Actively selected labels are stored (the trainer learns from them) but never scored here: they
        are biased towards hard posts. A shadow challenger is judged by the promotion rule only.
        """
        if not labels:
            return
        await asyncio.to_thread(write_or_dead_letter, self.store, self.store.insert_human_labels, labels,
                                topic=self.settings.topic("labels"), what="human label")
        await self._judge(self.ledger.add_labels([lab for lab in labels if self.is_random_sample(lab.post_id)]))

    async def _judge(self, joined: Sequence[ChampionPair]) -> None:
        """Champion verdicts that met their label → labelled performance per version; then the challenger."""
        pairs: dict[str, list[tuple[str, str]]] = {}
        ids: dict[str, list[str]] = {}
        for p in joined:
            pairs.setdefault(p.model_version, []).append((p.predicted, p.human))
            ids.setdefault(p.model_version, []).append(p.post_id)
        alerts = [a for v in pairs if (a := self.performance.observe_many(v, pairs[v], ids[v])) is not None]
        await self.raise_alerts(alerts)
        await self.review_challenger()

    # ---- shadow deployment -----------------------------------------------------------------
    def shadow_comparison(self, champion: str, challenger: str) -> ShadowReport | None:
        """Champion vs challenger on the random-sample posts both scored, and on those with human labels."""
        rows = self.ledger.shadow_rows(champion, challenger)
        if not rows.champion or not rows.challenger:
            return None
        return compare(rows.champion, rows.challenger, rows.human)

    async def review_challenger(self) -> None:
        """Promote the shadowed challenger once it beats the champion on enough human labels."""
        serving = self.serving()
        served = frozenset(s.version for s in (serving.champion, serving.challenger) if s is not None)
        if served != self._retained_for:  # a model came or went: the joined verdicts of the others are history
            self.ledger.retain(served)
            self._retained_for = served
        if serving.challenger is None:
            return
        champion, challenger = serving.champion.version, serving.challenger.version
        report = self.shadow_comparison(champion, challenger)
        if report is None:
            return
        self.shadow_report = report
        promote, why = should_promote(report, self.settings.promotion_margin, self.settings.promotion_min_labels)
        if not promote and report.n_labels >= self.settings.promotion_min_labels and challenger not in self._judged:
            # Judged on enough labels and not better: the champion may ask for the next retrain, which trains on
            # these labels too. The challenger stays in shadow until that one replaces it (or it wins after all).
            self._judged.add(challenger)
            log.warning("challenger %s does not beat %s on %d labels (%s): %s's model alerts are armed again",
                        challenger, champion, report.n_labels, why, champion)
            self.rearm(champion)
        if not promote or not self.settings.auto_promote or challenger in self._promoted:
            return
        from streams.kafka.announcer import promote_and_announce

        self._promoted.add(challenger)
        log.warning("promoting %s over %s: %s", challenger, champion, why)
        try:
            await asyncio.to_thread(promote_and_announce, self.settings, challenger, reason=why, report=report,
                                    at=self.data_time)
        except Exception:  # noqa: BLE001 - keep serving; a person can promote with `brandpulse models promote`
            self._promoted.discard(challenger)
            log.exception("automatic promotion of %s failed", challenger)

    async def raise_alerts(self, alerts: Sequence[Alert]) -> None:
        """Each alert names the retrain it opened or joined; those that open an episode (or a retrain)
        are published, repeats within an episode are counted and dropped, then the retrains are asked for."""
        if not alerts:
            return
        champion = self.champion_version()
        raised: list[Alert] = []
        requests: list[RetrainRequest] = []
        # Before any post was ever seen (labels come first) the data's time is not known: wall clock then.
        for alert in (in_data_time(a, self.data_time) for a in alerts):
            request, opened = self._retrain_for(alert, champion)
            if request is not None:
                alert = alert.model_copy(update={"retrain_id": request.request_id, "retrain_opened": opened})
            if not self.episodes.admit(alert, news=opened):
                log.info("alert %s %s brand=%s suppressed: its episode is open or cooling down", alert.kind,
                         alert.model_version, alert.brand or "*")
                continue
            raised.append(self._with_health(alert) if alert.kind == "sentiment_shift" else alert)
            if opened:
                requests.append(request)  # type: ignore[arg-type]
        await self._publish(raised)
        for request in requests:
            await self.request_retrain(request)

    def _retrain_for(self, alert: Alert, champion: str | None) -> tuple[RetrainRequest | None, bool]:
        """The retrain request the alert opened (True) or joined (False), or (None, False)."""
        # Only the champion's health asks for a retrain; a shadow challenger is judged by promotion alone.
        if alert.model_version != champion:
            return None, False
        request = self.coalescer.offer(alert)
        if request is not None:
            return request, True
        return (self.coalescer.in_flight(alert.model_version) if self.coalescer.accepts(alert) else None), False

    async def _publish(self, alerts: Sequence[Alert]) -> None:
        """Store, publish on the alerts topic and send to Slack."""
        if not alerts:
            return
        await asyncio.to_thread(write_or_dead_letter, self.store, self.store.insert_alerts, alerts,
                                topic=self.settings.topic("alerts"), what="alert")
        metrics.record_alerts(alerts)
        for alert in alerts:
            log.warning("ALERT %s %s brand=%s: %s", alert.kind, alert.detector, alert.brand or "*", alert.message)
            await self.send("alerts", alert.alert_id.encode(), alert.model_dump_json().encode())
            self.notifier.notify(alert_message(alert))
        self.alerts_raised += len(alerts)

    def announce_outcome(self, value: bytes | None, now: dt.datetime | None = None) -> bool:
        """Send a retrain outcome or promotion read off the alerts topic to Slack; True when sent.

        The trainer publishes every outcome (registered, rejected, skipped, failed) there, and a
        promotion, automatic or by hand, publishes its alert there too; the worker's own alerts on that
        topic went to Slack when they were raised, so they are not sent again."""
        alert = read_outcome(value)
        if alert is None:
            return False
        detected = alert.detected_at if alert.detected_at.tzinfo else alert.detected_at.replace(tzinfo=dt.timezone.utc)
        age = (now or utcnow()) - detected
        if age > OUTCOME_MAX_AGE:
            log.info("%s alert %s is %s old: not sent to Slack", alert.kind, alert.alert_id, str(age).split(".")[0])
            return False
        self.notifier.notify(alert_message(alert))
        return True

    def _with_health(self, alert: Alert) -> Alert:
        """A sentiment shift says how the model looks meanwhile: the reason it is not a retrain."""
        notes = [s.summary() for s in (self.health.status(alert.model_version),
                                       self.health.status(alert.model_version, alert.brand) if alert.brand else None) if s]
        if not notes:
            return alert
        return alert.model_copy(update={"message": f"{alert.message} Model health: {'; '.join(notes)}."})

    def rearm(self, model_version: str) -> None:
        """A retrain gave ``model_version`` nothing better (it closed without a new model, or its challenger
        lost in shadow): while the model stays off, its health and labelled-performance alerts fire again and
        ask for the next retrain, which the trainer runs once new labels came (a lost retrain is not
        repeated on the same labels)."""
        self.health.rearm(model_version)
        self.performance.rearm(model_version)

    async def request_retrain(self, request: RetrainRequest) -> None:
        log.warning("requesting retrain of %s (%s)", request.model_version, request.reason)
        await self.send("retrain-requests", request.request_id.encode(), request.model_dump_json().encode())

    # ---- persistence ---------------------------------------------------------------------
    def _extra_path(self) -> Path:
        return self.state_dir / "watch.json"

    def _load_extra(self) -> dict:
        try:
            return json.loads(self._extra_path().read_text())
        except FileNotFoundError:
            return {}

    def save(self) -> None:
        self.monitor.save(self.state_dir / "monitor.json")
        atomic_write_text(
            self._extra_path(),
            json.dumps({"performance": self.performance.to_state(), "coalescer": self.coalescer.to_state(),
                        "episodes": self.episodes.to_state(), "ledger": self.ledger.to_state(),
                        "data_time": self.data_time.isoformat() if self.data_time else None}),
        )
