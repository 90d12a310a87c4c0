"""The worker's Kafka transport: Faust's aiokafka transport, with undecodable batches skipped and dead-lettered.

Faust's consumer thread reads from aiokafka; its Fetcher service ends the worker on any error from a
fetch (``_drain_messages`` in faust/transport/consumer.py). This transport guards the thread's aiokafka
consumer (:func:`streams.kafka.batches.guard_consumer`): a batch that cannot be decoded is skipped
there. Back on the app's loop, each skipped batch is handed to :attr:`Transport.on_undecodable` (the
runtime dead-letters it) before the records fetched with it are delivered, so no offset after it can be
committed before its dead letter is out.

Commits then pass the batch by Faust's own gap accounting: the next record delivered on the partition
is further on than the one before it (or than the committed offset, after a restart), and Faust treats
the offsets between as done (tests/test_codecs_e2e.py checks both). A batch skipped at the very end
of a partition is committed past only with the next record there; a restart before that meets it
again and dead-letters it again under the same (topic, partition, offset) key, one row in the table.

:func:`create_app <streams.worker.app.create_app>` installs the transport through the app's public
``transport`` setter. It uses the seams Faust's aiokafka driver has for this (``Transport.Consumer``,
``Consumer._new_consumer_thread``) and extends the thread's ``on_start`` and the consumer's
``_getmany``, calling Faust's own each time.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, cast

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from streams.kafka.batches import BadBatch, guard_consumer

log = logging.getLogger(__name__)

UndecodableHandler = Callable[[BadBatch], Awaitable[None]]


async def log_undecodable(bad: BadBatch) -> None:
    """The handler until the runtime sets its own: the batch is skipped all the same."""
    log.error("skipped undecodable batch %s[%d] offsets %d..%d: %s",
              bad.topic, bad.partition, bad.first_offset, bad.last_offset, bad.reason)


class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's aiokafka consumer thread, its consumer guarded; skipped batches wait here for the app's loop."""

    def __post_init__(self) -> None:
        super().__post_init__()
        # Appended on the consumer's thread, taken on the app's: deque appends and pops are thread-safe.
        self.undecodable: deque[BadBatch] = deque()

    async def on_start(self) -> None:
        await super().on_start()
        assert self._consumer is not None
        guard_consumer(self._consumer, self.undecodable.append)


class Consumer(faust_aiokafka.Consumer):
    _thread: ConsumerThread

    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _getmany(self, active_partitions: Any, timeout: float) -> Any:
        records = await super()._getmany(active_partitions, timeout)
        handler = cast(Transport, self.transport).on_undecodable
        while self._thread.undecodable:
            await handler(self._thread.undecodable.popleft())
        return records


class Transport(faust_aiokafka.Transport):
    Consumer = Consumer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_undecodable: UndecodableHandler = log_undecodable


def install(app: faust.App) -> None:
    """Make ``app`` consume through :class:`Transport` (before anything has used its transport)."""
    app.transport = Transport(app.conf.broker_consumer, app)


def on_undecodable(app: faust.App, handler: UndecodableHandler) -> None:
    """Send each batch ``app``'s consumer skips to ``handler`` (awaited before the records after it are delivered)."""
    transport = app.transport
    if not isinstance(transport, Transport):
        raise TypeError(f"the app consumes through {type(transport).__name__}, not streams.worker.consumer.Transport")
    transport.on_undecodable = handler
