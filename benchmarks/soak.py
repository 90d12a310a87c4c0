"""Does the loop keep up as the stream changes domain? ``brandpulse bench soak`` runs it unattended.

One stream in segments of different domains (general tweets → airline complaints → movie-review
sentences → a new brand's launch) through the real processes the demo starts: a local broker, the
worker, the trainer and a simulated annotator that answers the flyback label requests from the gold
labels (:mod:`streams.services.demo`). Each segment streams its posts in three phases: the first
part meets the champion (drift alert → retrain request); while the request waits for labels the
next posts keep coming, a hundred at a time; once the trainer runs, the rest waits for its answer
and is then scored by champion and challenger side by side, so the worker's own rule may promote
the challenger.

Per segment (a *cycle* when it opened a retrain) it records: posts until the first model alert
(detection delay), the labels the retrain used, champion and challenger on a held-out slice of the
segment that is never streamed (macro-F1 with a paired bootstrap interval of the gain), promoted or
not, both on a fixed general set (forgetting), alerts by kind, throughput and the worker's RSS over
time; the registry aliases at the end. A table on stdout and everything in JSON.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np
import typer
from pydantic import BaseModel, Field

from benchmarks.loop import machine_description, predict
from models.data import LabelledData
from streams.core.settings import Settings

log = logging.getLogger(__name__)

# Alerts about the model (not about a brand, nor the loop's own retrain/promotion notices).
MODEL_KINDS = frozenset({"confidence_drift", "label_drift", "estimated_performance", "input_drift", "labelled_performance"})
DOMAINS = ("general", "airline", "movies", "launch")
WAITING_CHUNK = 100  # posts streamed at a time while a retrain request waits for labels
LAUNCH_HANDLE = "@NovaPhone"  # a brand the stream never named before: the launch segment's posts mention it
# Posts without a configured brand are dead letters: the segments whose texts name none are given one,
# and the launch's brand gets its rule as an operator would add it on launch day (brand_rules).
BRANDS = {"general": "Tweets", "airline": None, "movies": "Cinema", "launch": None}
EXTRA_RULES = [{"brand": "Tweets"}, {"brand": "Cinema"}, {"brand": "NovaPhone", "handles": [LAUNCH_HANDLE.lstrip("@")]}]


class Segment(BaseModel):
    """One domain of the stream: its posts (in stream order) and a held-out slice never streamed."""

    name: str
    source: str
    brand: str | None  # None: the worker's brand rules name it from the text (the airline @handles)
    texts: list[str]
    labels: list[str]
    heldout_texts: list[str]
    heldout_labels: list[str]


class SoakConfig(BaseModel):
    segment_posts: int = Field(default=2400, ge=100, description="Posts streamed per segment")
    shadow_share: float = Field(default=0.4, gt=0, lt=1, description="Share of a segment streamed after the retrain")
    heldout: int = Field(default=400, ge=30, description="Held-out posts per segment (never streamed)")
    general: int = Field(default=500, ge=30, description="Fixed general set (TweetEval, never streamed)")
    segments: list[str] = Field(default=list(DOMAINS), min_length=2)
    flyback_rate: float = Field(default=0.2, gt=0, le=1)
    promotion_min_labels: int = Field(default=150, ge=1)
    promotion_margin: float = Field(default=0.02, ge=0)
    trainer_min_labels: int = Field(default=100, ge=10)
    trainer_fresh_labels: int = Field(default=0, ge=0)
    base_sample: int = Field(default=3000, ge=1)
    max_steps: int | None = Field(default=None, ge=1, description="Cap optimiser steps per retrain (smoke runs)")
    retrain_timeout_s: float = Field(default=1200, gt=0)
    seed: int = 0


class Sample(BaseModel):
    """The worker, every couple of seconds: what it has scored and its memory."""

    t: float  # seconds since the soak started
    posts_scored: int
    rss_mb: float  # the worker and its child processes
    own_rss_mb: float | None = None  # the worker process alone (its /memory)
    heap_in_use_mb: float | None = None  # glibc heap: live allocations
    heap_free_mb: float | None = None  # glibc heap: freed but still held by the allocator
    python_blocks: int | None = None  # live Python allocations


class CycleResult(BaseModel):
    segment: str
    source: str
    posts: int  # streamed in this segment
    champion_before: str
    champion_after: str
    detection_delay: int | None = None  # posts scored in the segment before its first model alert
    retrain_status: str | None = None  # the trainer's outcome for this segment's retrain (None: none asked)
    retrain_message: str = ""
    challenger: str | None = None
    labels_used: int | None = None  # human labels handed to the retrain
    posts_while_waiting: int = 0  # streamed while the retrain request waited for labels
    heldout_n: int = 0
    champion_f1: float | None = None  # the champion before the segment, on the segment's held-out slice
    challenger_f1: float | None = None
    gain_interval: tuple[float, float] | None = None  # 90 % paired bootstrap interval of challenger − champion
    promoted: bool = False
    general_champion_f1: float | None = None
    general_challenger_f1: float | None = None
    alerts: dict[str, int] = Field(default_factory=dict)  # by kind; "<kind> resolved" for an episode's end
    posts_per_s: float | None = None  # scored per second while the segment streamed
    rss_mb_end: float | None = None  # the worker's RSS with its child processes when the segment was done
    own_rss_mb_end: float | None = None  # the worker process alone (a backend-timing child comes and goes)
    seconds: float = 0.0


class SoakResult(BaseModel):
    config: SoakConfig
    machine: str
    cycles: list[CycleResult]
    samples: list[Sample]
    aliases: dict[str, str | None]
    seconds: float
    error: str | None = None


# ------------------------------------------------------------------ data


def load_segments(names: Sequence[str], shared: Path, config: SoakConfig) -> tuple[list[Segment], LabelledData]:
    """The stream's segments in order and the fixed general set (TweetEval rows no segment streams)."""
    from models.data import load_airline_csv, load_sst2, load_tweeteval, load_vader

    rng = np.random.default_rng(config.seed)
    tweeteval = load_tweeteval(shared / "tweeteval", normalise=False)
    tweeteval = tweeteval.subset(rng.permutation(len(tweeteval)).tolist(), "tweeteval")
    general = tweeteval.subset(range(config.general), "general (TweetEval, held out)")
    rest = tweeteval.subset(range(config.general, len(tweeteval)), "TweetEval")

    def sentences() -> LabelledData:
        sst = load_sst2(shared / "sst2" / "train.tsv")  # phrases of every length: keep sentence-like ones
        keep = [i for i, t in enumerate(sst.texts) if len(t.split()) >= 8]
        return sst.subset(keep, "SST-2 sentences")

    def launch() -> LabelledData:
        amazon = load_vader("amazon", normalise=False)
        return LabelledData([f"{LAUNCH_HANDLE} {t}" for t in amazon.texts], amazon.labels, "3class",
                            f"VADER Amazon review snippets with {LAUNCH_HANDLE}")

    loaders = {
        "general": lambda: rest,
        "airline": lambda: load_airline_csv(shared / "airline" / "tweets.csv", normalise=False),
        "movies": sentences,
        "launch": launch,
    }
    segments = []
    for name in names:
        if name not in loaders:
            raise ValueError(f"unknown segment {name!r}; choose from {', '.join(loaders)}")
        data = loaders[name]()
        order = rng.permutation(len(data)).tolist()
        n_held = min(config.heldout, len(data) // 4)
        n_stream = min(config.segment_posts, len(data) - n_held)
        held, stream = order[:n_held], order[n_held:n_held + n_stream]
        segments.append(Segment(
            name=name, source=data.source or name, brand=BRANDS[name], texts=[data.texts[i] for i in stream],
            labels=[data.labels[i] for i in stream], heldout_texts=[data.texts[i] for i in held],
            heldout_labels=[data.labels[i] for i in held],
        ))
    return segments, general


def as_posts(segment: Segment, start: dt.datetime, pace: dt.timedelta) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The segment's posts, one per ``pace`` of data time from ``start``, and their gold labels by post_id."""
    posts, gold = [], {}
    for i, (text, label) in enumerate(zip(segment.texts, segment.labels)):
        post_id = hashlib.sha1(f"soak:{segment.name}:{i}:{text}".encode()).hexdigest()[:20]
        post = {"post_id": post_id, "text": text, "platform": "twitter", "created_at": start + pace * i}
        posts.append(post if segment.brand is None else {**post, "brand": segment.brand})
        gold[post_id] = label
    return posts, gold


# ------------------------------------------------------------------ scoring held-out sets


def macro_f1(gold: Sequence[str], pred: Sequence[str]) -> float:
    from drift.performance import macro_f1 as over_present

    return over_present(zip(pred, gold))  # over the labels present: a binary segment has no neutral class


def compare_on(gold: Sequence[str], champion: Sequence[str], challenger: Sequence[str], seed: int) -> tuple[float, float]:
    """The 5th and 95th percentiles of macro-F1(challenger) − macro-F1(champion), paired bootstrap."""
    from models.classification_metrics import bootstrap_gains

    gains = bootstrap_gains(list(gold), list(challenger), list(champion), resamples=1000, seed=seed)
    return float(np.quantile(gains, 0.05)), float(np.quantile(gains, 0.95))


class Judge:
    """Scores registry versions on held-out sets, once per version and set."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._cache: dict[tuple[str, str], list[str]] = {}

    def labels(self, version: str, key: str, texts: Sequence[str]) -> list[str]:
        from models.registry import resolve_model
        from streams.core.configs import registry_config

        if (version, key) not in self._cache:
            model_dir = resolve_model(version, registry=registry_config(self.settings))
            self._cache[version, key] = predict(model_dir, texts, self.settings.max_length)[1]
        cached = self._cache[version, key]
        if len(cached) != len(texts):  # one key used for two sets: its answers would be zipped with the wrong gold
            raise ValueError(f"the judge's {key!r} answers for {version} cover {len(cached)} texts, not {len(texts)}")
        return cached


# ------------------------------------------------------------------ the worker over time


class Sampler(threading.Thread):
    """Samples the worker's scored count and RSS (with its children's) every ``every_s`` seconds."""

    def __init__(self, worker: Any, t0: float, every_s: float = 2.0) -> None:
        super().__init__(name="soak-sampler", daemon=True)
        self.worker, self.t0, self.every_s = worker, t0, every_s
        self.samples: list[Sample] = []
        self.stop_event = threading.Event()

    def rss_mb(self) -> float:
        import psutil

        try:
            proc = psutil.Process(self.worker.proc.pid)
            return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20
        except psutil.Error:
            return float("nan")

    def take(self) -> Sample | None:
        try:
            scored = int(self.worker.get("/stats")["posts_scored"])
        except Exception:  # noqa: BLE001 - a busy or restarting worker misses one sample, not the soak
            return None
        sample = Sample(t=time.monotonic() - self.t0, posts_scored=scored, rss_mb=self.rss_mb())
        try:
            memory = self.worker.get("/memory")
        except Exception:  # noqa: BLE001 - as above
            memory = None
        if memory:
            heap = memory.get("heap_mb") or {}
            sample = sample.model_copy(update={
                "own_rss_mb": memory["rss_mb"], "heap_in_use_mb": heap.get("in_use"), "heap_free_mb": heap.get("free"),
                "python_blocks": memory["python_blocks"],
            })
        self.samples.append(sample)
        return sample

    def run(self) -> None:
        while not self.stop_event.wait(self.every_s):
            self.take()

    def scored_at(self, t: float) -> int | None:
        """Posts scored at the first sample at or after ``t`` (seconds since the soak started)."""
        return next((s.posts_scored for s in list(self.samples) if s.t >= t), None)


def alert_counts(alerts: Sequence[Any]) -> dict[str, int]:
    counts = Counter(f"{a.kind} resolved" if a.resolution else a.kind for a in alerts)
    return dict(sorted(counts.items()))


# ------------------------------------------------------------------ the run


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def run_soak(config: SoakConfig, champion_dir: Path, shared: Path, work: Path, kafka: str) -> SoakResult:
    """Stream the segments through broker, worker and trainer started in ``work``; the soak's result."""
    from models.registry import CHALLENGER, CHAMPION, PREVIOUS, alias_version, log_and_register
    from streams.core.configs import registry_config
    from streams.kafka.broker import LocalBroker, host_port, is_listening
    from streams.kafka.replay import replay
    from streams.kafka.topics import create_topics
    from streams.services.local_loop import (AlertCollector, SimulatedAnnotator, TrainerGone, settled, start_trainer,
                                             start_worker, trainer_outcome, trainer_status, wait_processed,
                                             wait_until)
    from streams.services.trainer import OutcomeRecord

    from streams.core.brand_rules import DEFAULT_RULES

    logging.getLogger("kafka").setLevel(logging.ERROR)
    # A stopped soak stops its worker and trainer too (they run in sessions of their own): SIGTERM unwinds
    # through the ``finally`` below instead of ending this process alone.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    rules = work / "brand-rules.json"
    rules.write_text(json.dumps([r.model_dump() for r in DEFAULT_RULES] + EXTRA_RULES))
    run = f"soak{time.time_ns() // 1000}"
    settings = Settings(
        brand_rules=rules,
        # Topics and consumer groups of its own: on a broker that already ran something, no old post or label
        # leaks in, and another run's worker or trainer joining the same group cannot take this run's partitions.
        data_dir=work, kafka_url=kafka, topic_prefix=run, app_id=f"{run}-worker", flyback_rate=config.flyback_rate,
        promotion_min_labels=config.promotion_min_labels, promotion_margin=config.promotion_margin,
        web_port=_free_port(), trainer_port=_free_port(),
    )
    segments, general = load_segments(config.segments, shared, config)
    registry = registry_config(settings)
    log_and_register(champion_dir, registry=registry, params={"role": "soak champion"}, metrics={}, alias=CHAMPION)
    judge = Judge(settings)
    broker = None
    host, port = host_port(kafka)
    if not is_listening(host, port):
        broker = LocalBroker(host, port, log_file=work / "tansu.log")
        broker.start()
    t0 = time.monotonic()
    worker = trainer = sampler = None
    annotator, collector = SimulatedAnnotator(settings, {}), AlertCollector(settings)
    cycles: list[CycleResult] = []
    error = None
    try:
        create_topics(settings)
        worker = start_worker(settings, work / "worker.log", timeout_s=600)  # a busy machine loads slowly
        # After the worker, as in the demo: a consumer that joins before the broker has the new topics'
        # metadata is assigned nothing until its next metadata refresh (5 minutes).
        extra = ["--max-steps", str(config.max_steps)] if config.max_steps else []
        trainer = start_trainer(settings, work / "trainer.log", base_sample=config.base_sample,
                                min_labels=config.trainer_min_labels, fresh_labels=config.trainer_fresh_labels,
                                extra=extra)
        sampler = Sampler(worker, t0)
        for h in (annotator, collector, sampler):
            h.start()
        sampler.take()
        pace = dt.timedelta(seconds=2)
        clock = dt.datetime.now(dt.timezone.utc) - pace * sum(len(s.texts) for s in segments)
        sent = 0
        for segment in segments:
            started, seen_alerts = time.monotonic(), len(collector.alerts)
            champion_before = worker.get("/stats")["champion"]
            scored_before = worker.get("/stats")["posts_scored"]
            posts, gold = as_posts(segment, clock, pace)
            clock += pace * len(posts)
            annotator.gold.update(gold)
            split = int(len(posts) * (1 - config.shadow_share))
            streaming = 0.0
            t = time.monotonic()
            sent += replay(posts[:split], settings=settings, topic=settings.topic("posts"), progress=False).sent
            wait_processed(worker, sent)
            streaming += time.monotonic() - t
            # A model alert opens a retrain request, or joins one; the worker lists the retrains it asked for.
            opened = wait_until(lambda: _model_alerts(collector.alerts[seen_alerts:]) or worker.get("/stats")["retrains_in_flight"],
                                30, "waiting for a model alert")
            outcome: OutcomeRecord | None = None
            message = ""
            cursor = split
            if opened:
                # The stream does not stop for the trainer: while the request waits for labels (its minimum, or
                # fresh ones with --trainer-fresh-labels), the segment's next posts flow and bring them. Once
                # it trains, the rest is held back for the challenger to meet in shadow.
                deadline = time.monotonic() + config.retrain_timeout_s
                while True:
                    got = trainer_outcome(settings, trainer, _utc(started))
                    if isinstance(got, TrainerGone):
                        raise RuntimeError(f"{got.reason}; see {work / 'trainer.log'}")
                    if got is not None:
                        outcome = got
                        break
                    if _waits_for_labels(trainer_status(settings)):
                        if cursor >= len(posts):
                            message = "the retrain still waited for labels when the segment ended"
                            break
                        chunk = posts[cursor:cursor + WAITING_CHUNK]
                        t = time.monotonic()
                        sent += replay(chunk, settings=settings, topic=settings.topic("posts"), progress=False).sent
                        wait_processed(worker, sent)
                        streaming += time.monotonic() - t
                        cursor += len(chunk)
                        continue
                    if time.monotonic() > deadline:
                        message = "no outcome in time"
                        break
                    time.sleep(1.0)
            if outcome is not None and outcome.status == "registered":
                wait_until(lambda: worker.get("/stats").get("challenger") == outcome.version, 300,
                           f"the worker loading challenger {outcome.version}")
            t = time.monotonic()
            sent += replay(posts[cursor:], settings=settings, topic=settings.topic("posts"), progress=False).sent
            wait_processed(worker, sent)
            streaming += time.monotonic() - t
            if outcome is not None and outcome.status == "registered":
                labels_in = settled(lambda: annotator.answered, quiet_s=15)
                wait_until(lambda: worker.get("/stats").get("champion") == outcome.version or labels_in(), 300,
                           "labels on shadow-scored posts; promotion once the challenger wins")
            stats = worker.get("/stats")
            cycle = CycleResult(
                segment=segment.name, source=segment.source, posts=len(posts), champion_before=champion_before,
                champion_after=stats["champion"], promoted=stats["champion"] != champion_before,
                alerts=alert_counts(collector.alerts[seen_alerts:]), heldout_n=len(segment.heldout_texts),
                posts_per_s=(stats["posts_scored"] - scored_before) / streaming if streaming else None,
                retrain_message=(outcome.message if outcome else message)[:300], posts_while_waiting=cursor - split,
            )
            sample = sampler.take()  # one after the segment's last alert, whenever that came
            cycle.rss_mb_end = sample.rss_mb if sample else None
            cycle.own_rss_mb_end = sample.own_rss_mb if sample else None
            first = _first_model_alert(collector, seen_alerts)
            if first is not None:
                at = sampler.scored_at(first - t0)
                cycle.detection_delay = None if at is None else max(0, at - scored_before)
            if outcome is not None:
                cycle.retrain_status, cycle.challenger, cycle.labels_used = outcome.status, outcome.version, outcome.labels_seen
            _judge(cycle, judge, segment, general, config.seed)
            cycle.seconds = time.monotonic() - started
            cycles.append(cycle)
            log.info("soak segment %s", cycle.model_dump_json())
    except (RuntimeError, TimeoutError) as exc:
        error = str(exc)
    finally:
        for h in (annotator, collector, sampler):
            if h is not None:
                h.stop_event.set()
        if trainer is not None and trainer.poll() is None:
            os.killpg(trainer.pid, signal.SIGTERM)
            try:
                trainer.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(trainer.pid, signal.SIGKILL)
        if worker is not None:
            worker.stop()
        if broker is not None:
            broker.stop()
    aliases = {a: alias_version(a, registry=registry) for a in (CHAMPION, CHALLENGER, PREVIOUS)}
    return SoakResult(config=config, machine=machine_description(), cycles=cycles,
                      samples=sampler.samples if sampler else [], aliases=aliases, seconds=time.monotonic() - t0,
                      error=error)


def _waits_for_labels(status: Any) -> bool:
    """Whether the trainer holds a request it has not started (for labels, or a failed version's cool-down)."""
    return status is not None and status.running is None and bool(status.pending)


def _model_alerts(alerts: Sequence[Any]) -> list[Any]:
    return [a for a in alerts if a.kind in MODEL_KINDS and not a.resolution]


def _first_model_alert(collector: Any, seen: int) -> float | None:
    """When the segment's first model alert arrived (monotonic), if one did."""
    pairs = list(zip(collector.alerts, collector.received))[seen:]
    return next((at for a, at in pairs if a.kind in MODEL_KINDS and not a.resolution), None)


def _judge(cycle: CycleResult, judge: Judge, segment: Segment, general: LabelledData, seed: int) -> None:
    """The champion before the segment and its challenger on the held-out slice and the general set."""
    gold = segment.heldout_labels
    # Keys name the set, not the segment alone: the segment called "general" has a held-out slice of its own.
    held, fixed = f"held-out:{segment.name}", "general set"
    before = judge.labels(cycle.champion_before, held, segment.heldout_texts)
    cycle.champion_f1 = macro_f1(gold, before)
    cycle.general_champion_f1 = macro_f1(general.labels, judge.labels(cycle.champion_before, fixed, general.texts))
    if cycle.challenger is None:
        return
    after = judge.labels(cycle.challenger, held, segment.heldout_texts)
    cycle.challenger_f1 = macro_f1(gold, after)
    cycle.gain_interval = compare_on(gold, before, after, seed)
    cycle.general_challenger_f1 = macro_f1(general.labels, judge.labels(cycle.challenger, fixed, general.texts))


def _utc(monotonic_at: float) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=time.monotonic() - monotonic_at)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------ reporting


LOOP_KINDS = frozenset({"retrain", "promotion"})


def alert_summary(alerts: dict[str, int]) -> str:
    """A cycle's alerts in one short cell: raised by family, episodes resolved, and the most of any one kind
    (the soak's bar is one per kind per episode); the JSON keeps the counts by kind."""
    raised = {k: n for k, n in alerts.items() if not k.endswith(" resolved")}
    if not alerts:
        return "none"
    model = sum(n for k, n in raised.items() if k in MODEL_KINDS)
    loop = sum(n for k, n in raised.items() if k in LOOP_KINDS)
    brand = sum(raised.values()) - model - loop
    resolved = sum(n for k, n in alerts.items() if k.endswith(" resolved"))
    return f"model {model} · brand {brand} · loop {loop} · resolved {resolved} · ≤ {max(raised.values(), default=0)}/kind"


def table_rows(result: SoakResult) -> list[dict[str, str]]:
    def f(x: float | None, sign: bool = False) -> str:
        return "–" if x is None else f"{x:+.3f}" if sign else f"{x:.3f}"

    rows = []
    for c in result.cycles:
        gain = None if c.challenger_f1 is None or c.champion_f1 is None else c.challenger_f1 - c.champion_f1
        general = (None if c.general_challenger_f1 is None or c.general_champion_f1 is None
                   else c.general_challenger_f1 - c.general_champion_f1)
        rows.append({
            "segment": c.segment,
            "delay": "–" if c.detection_delay is None else str(c.detection_delay),
            "retrain": c.retrain_status or "–",
            "labels": "–" if c.labels_used is None else str(c.labels_used),
            "champion": f(c.champion_f1),
            "challenger": f(c.challenger_f1),
            "gain [90% CI]": "–" if gain is None or c.gain_interval is None else
            f"{gain:+.3f} [{c.gain_interval[0]:+.3f}, {c.gain_interval[1]:+.3f}]",
            "promoted": "yes" if c.promoted else "no",
            "general Δ": f(general, sign=True),
            "alerts": alert_summary(c.alerts),
            "posts/s": "–" if c.posts_per_s is None else f"{c.posts_per_s:.0f}",
            "RSS MB": "–" if c.own_rss_mb_end is None else f"{c.own_rss_mb_end:.0f}",
            "+children": "–" if c.rss_mb_end is None else f"{c.rss_mb_end:.0f}",
        })
    return rows


def print_table(result: SoakResult) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    rows = table_rows(result)
    table = Table(title="Soak: one stream, changing domain; held-out macro-F1 per segment", box=box.SIMPLE,
                  caption=("delay: posts scored before the segment's first model alert. labels: human labels the "
                           "retrain had. champion: the champion at the segment's start. general Δ: challenger − "
                           "champion on the fixed general set. RSS: the worker process's at the segment's end; +children: "
                           "with its child processes (a new model's backend timing runs in one)."))
    for col in rows[0] if rows else ["no segment finished"]:
        table.add_column(col, justify="left" if col in ("segment", "alerts", "retrain") else "right")
    for row in rows:
        table.add_row(*row.values())
    console = Console(width=max(Console().width, 160))
    console.print(table)
    console.print(f"registry aliases at the end: {result.aliases}; {result.seconds / 60:.1f} min; {result.machine}")
    if result.error:
        console.print(f"[bold red]the soak stopped early:[/] {result.error}")


def soak_command(
    model: Optional[Path] = typer.Option(None, "--model", exists=True, file_okay=False,
                                         help="Champion checkpoint dir (default: the default model, trained once)"),
    shared_data: Path = typer.Option(Path("../shared/data"), "--shared-data", exists=True, file_okay=False,
                                     help="Folder with airline/, sst2/, tweeteval/ (its README)"),
    segments: str = typer.Option(",".join(DOMAINS), help=f"Segments in stream order, from {', '.join(DOMAINS)}"),
    segment_posts: int = typer.Option(2400, min=100, help="Posts streamed per segment"),
    heldout: int = typer.Option(400, min=30, help="Held-out posts per segment, never streamed"),
    general_n: int = typer.Option(500, "--general-n", min=30, help="Fixed general set (TweetEval) for forgetting"),
    flyback_rate: float = typer.Option(0.2, min=0.001, max=1.0, help="Share of scored posts sent for a human label"),
    promotion_labels: int = typer.Option(150, min=1, help="Labelled shadow posts the promotion rule needs"),
    trainer_min_labels: int = typer.Option(100, min=10, help="Human labels the trainer needs before retraining"),
    trainer_fresh_labels: int = typer.Option(
        0, min=0, help="Human labels that must come after a retrain request before it runs (trainer --fresh-labels)"
    ),
    base_sample: int = typer.Option(3000, min=1, help="Base-corpus rows the trainer replays"),
    max_steps: Optional[int] = typer.Option(None, min=1, help="Cap optimiser steps per retrain (smoke runs)"),
    seed: int = typer.Option(0, help="Order of each segment's posts and held-out slice"),
    kafka: str = typer.Option("127.0.0.1:19092", help="Broker to use; a local one is started there if none listens"),
    work_dir: Optional[Path] = typer.Option(None, help="State of the soak's processes (default: a temporary dir)"),
    out: Path = typer.Option(Path("reports/soak.json"), help="Where the JSON goes"),
) -> None:
    """Stream domain after domain through broker, worker and trainer; per cycle: detection, retrain, promotion.

    Example (short): brandpulse bench soak --shared-data ../shared/data --segments general,airline --segment-posts 600
    """
    names = [s.strip() for s in segments.split(",") if s.strip()]
    if unknown := [s for s in names if s not in DOMAINS]:
        raise typer.BadParameter(f"unknown segments {unknown}; choose from {', '.join(DOMAINS)}", param_hint="--segments")
    config = SoakConfig(segments=names, segment_posts=segment_posts, heldout=heldout, general=general_n,
                        flyback_rate=flyback_rate, promotion_min_labels=promotion_labels,
                        trainer_min_labels=trainer_min_labels, trainer_fresh_labels=trainer_fresh_labels,
                        base_sample=base_sample, max_steps=max_steps, seed=seed)
    champion_dir = model or default_model_dir()
    with tempfile.TemporaryDirectory(prefix="brandpulse-soak-") as tmp:
        work = (work_dir or Path(tmp)).resolve()
        work.mkdir(parents=True, exist_ok=True)
        result = run_soak(config, champion_dir, shared_data.resolve(), work, kafka)
    print_table(result)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result.model_dump(mode="json"), indent=2))
    typer.echo(f"wrote {out}")
    if result.error or not result.cycles:
        raise typer.Exit(1)


def default_model_dir() -> Path:
    """The default model's checkpoint, trained first when this machine has none (as the demo does)."""
    from models.registry import resolve_model
    from streams.core.configs import registry_config
    from streams.services.demo import ensure_default_model

    settings = Settings()
    return resolve_model(ensure_default_model(settings), registry=registry_config(settings))
