"""The ``watch`` role: scored records keyed by brand → drift and brand detectors, flyback, labelled performance, promotion.

The scored topic is keyed by brand, so every post of a brand arrives on one partition and the
brand's detector state lives in the process that owns it. Posts reach the detectors once however
often Kafka delivers them (:class:`streams.worker.seen_posts.SeenPosts`); a batch is acknowledged only
after the detector state that counts it (seen post ids included) was saved, every
``watch_commit_s`` seconds — so neither a redelivery nor a restart counts a post twice, and a crash
loses no post from the detectors either.
"""

from __future__ import annotations

import time

from streams.core.schemas import HumanLabel, ScoredRecord, unpack_vectors
from streams.worker.runtime import Runtime, hold, read_records


def register_outcomes(runtime: Runtime) -> None:
    """Retrain outcomes and promotions on the alerts topic → Slack (the embedded worker registers this too).

    The topic has one partition, so within a consumer group one process sends each outcome."""

    @runtime.app.agent(runtime.topics.alerts, name="slack_outcomes")
    async def slack_outcomes(stream):  # type: ignore[no-untyped-def]
        await runtime.ready.wait()
        async for value in stream:
            if runtime.watcher is not None:
                runtime.watcher.announce_outcome(value)


def register(runtime: Runtime) -> None:
    app, topics, settings = runtime.app, runtime.topics, runtime.settings
    register_outcomes(runtime)

    @app.agent(topics.scored, name="watch_scored")
    async def watch_scored(stream):  # type: ignore[no-untyped-def]
        await runtime.ready.wait()
        held: list = []  # type: ignore[type-arg]
        saved_at = time.monotonic()
        # Posts held at shutdown stay unacknowledged: they come again, and the seen post ids the
        # shutdown hook saves keep them from counting twice.
        async for events in stream.take_events(settings.batch_max, within=settings.batch_within_s):
            hold(events)
            held += events
            rows, _ = read_records(events, ScoredRecord, "schema")  # the store role dead-letters the unreadable
            # The vectors the scoring processes sent: the input-drift sample, no second forward pass here.
            await runtime.observe_scored(rows, unpack_vectors(rows))
            if time.monotonic() - saved_at >= settings.watch_commit_s:
                await runtime.save_watch_state()
                runtime.release(held)
                held, saved_at = [], time.monotonic()

    @app.agent(topics.labels, name="watch_labels")
    async def watch_labels(stream):  # type: ignore[no-untyped-def]
        """Labelled performance and promotion, from the labels joined with the verdicts read off ``scored``
        (the store role writes the labels; bad ones are its to dead-letter). A batch is acknowledged once
        the verdict ledger holding its labels is saved: labels are rare, and a lost one is a person's work."""
        await runtime.ready.wait()
        assert runtime.watcher is not None
        async for events in stream.take_events(500, within=1.0):
            hold(events)
            labels, _ = read_records(events, HumanLabel, "bad_label")  # the store role dead-letters the unreadable
            await runtime.watcher.observe_labels(labels)
            await runtime.save_watch_state()
            runtime.release(events)
