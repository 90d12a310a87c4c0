"""Record batches an aiokafka consumer cannot decode are skipped and reported, instead of stopping it.

aiokafka decodes a fetched batch only when its records are taken, inside ``Fetcher.fetched_records``.
A batch it cannot decode (a CRC mismatch, a codec it lacks or does not know, a corrupt compressed
payload, a broken record) raises out of that call without saying which partition or offsets failed,
after dropping the records it had already taken from other partitions in the same call (their
positions already moved past them), and leaves the partition's position before the batch, so the next
fetch raises again (aio-libs/aiokafka#321: no skip API). Faust lets that error end its fetcher, which
stops the worker.

:func:`guard_consumer` checks every batch of one started consumer before aiokafka reads it: the batch's
CRC is verified and all its records decoded. A batch that fails is reported as a :class:`BadBatch` and
handed on as an empty control batch, which aiokafka skips by moving the partition's position to the
offset after it (the seek past the batch, done by aiokafka's own bookkeeping). The other batches and
partitions of the fetch are delivered as usual. Each batch is still decoded once: aiokafka gets the
checked records.

This relies on aiokafka internals that have no public hook: ``Fetcher._records`` (fetched results by
partition), ``FetchResult._partition_records``, ``PartitionRecords._records`` and ``next_fetch_offset``,
and control batches being skipped in ``PartitionRecords._unpack_records``. They were checked for the
versions in :data:`VERIFIED_AIOKAFKA` (tests/test_batches.py); with any other version
:func:`guard_consumer` refuses to start so that the guard is never silently missing.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aiokafka
from aiokafka.consumer.fetcher import FetchResult
from aiokafka.structs import TopicPartition

VERIFIED_AIOKAFKA = frozenset({"0.14.0"})
CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


@dataclass(frozen=True, slots=True)
class BadBatch:
    """A batch that was skipped: where it was (offsets ``first_offset``..``last_offset``) and why."""

    topic: str
    partition: int
    first_offset: int
    last_offset: int
    reason: str


OnBadBatch = Callable[[BadBatch], None]
"""Called where the batch is found, inside the consumer's fetch: must be quick and never raise."""


class _Decoded:
    """A batch whose records were all decoded: aiokafka reads them from here (and its header from the batch)."""

    def __init__(self, batch: Any, records: list[Any]) -> None:
        self._batch = batch
        self._records = iter(records)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._batch, name)

    def validate_crc(self) -> bool:
        return True  # checked before decoding

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        return next(self._records)


class _Skipped:
    """Stands for an undecodable batch: an empty, non-transactional control batch, which aiokafka steps over."""

    is_control_batch = True
    is_transactional = False
    producer_id = None

    def __init__(self, base_offset: int, next_offset: int) -> None:
        self.base_offset = base_offset
        self.next_offset = next_offset

    def validate_crc(self) -> bool:
        return True

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        raise StopIteration


class GuardedRecords:
    """One fetched partition's batches (aiokafka's ``MemoryRecords`` protocol), each checked before use.

    ``position`` is the partition's offset when this fetch was made: the first offset a bad batch can
    cover (a fetch may start inside a batch), and where a batch whose framing cannot be read is assumed
    to start.
    """

    def __init__(self, inner: Any, tp: TopicPartition, position: int, on_bad: OnBadBatch) -> None:
        self._inner = inner
        self._tp = tp
        self._position = position
        self._on_bad = on_bad
        self._broken = False

    def size_in_bytes(self) -> int:
        return self._inner.size_in_bytes()

    def has_next(self) -> bool:
        return not self._broken and self._inner.has_next()

    def next_batch(self) -> Any:
        try:
            batch = self._inner.next_batch()
        except Exception as exc:  # noqa: BLE001 - any parse failure of the framing
            # Nothing after a batch whose length cannot be read can be located: skip one offset, and
            # the next fetch (from there) tells the rest.
            self._broken = True
            return self._skip(self._position, self._position + 1, f"unreadable batch framing: {_describe(exc)}")
        if batch is None:
            return None
        try:
            if not batch.validate_crc():
                raise ValueError(f"CRC mismatch (the batch says {batch.crc:#010x})")
            records = list(batch)
        except Exception as exc:  # noqa: BLE001 - whatever the codec or record parser raises
            codec = getattr(batch, "compression_type", None)
            name = CODECS.get(codec, f"unknown codec {codec}") if codec is not None else "legacy"
            return self._skip(getattr(batch, "base_offset", self._position), batch.next_offset,
                              f"undecodable {name} batch: {_describe(exc)}")
        self._position = max(self._position, batch.next_offset)
        return _Decoded(batch, records)

    def _skip(self, base_offset: int, next_offset: int, reason: str) -> _Skipped:
        first = max(base_offset, self._position)
        if next_offset > first:
            self._on_bad(BadBatch(self._tp.topic, self._tp.partition, first, next_offset - 1, reason))
        self._position = max(self._position, next_offset)
        return _Skipped(base_offset, next_offset)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class _GuardedResults(collections.OrderedDict):  # type: ignore[type-arg]
    """The fetcher's buffer of fetched partitions, guarding each result as the fetcher stores it."""

    def __init__(self, existing: dict[TopicPartition, Any], on_bad: OnBadBatch) -> None:
        super().__init__()
        self._on_bad = on_bad
        for tp, result in existing.items():
            self[tp] = result

    def __setitem__(self, tp: TopicPartition, result: Any) -> None:
        # A result is stored before any of its records is read, so every batch passes the guard.
        if type(result) is FetchResult and result._partition_records is not None:
            records = result._partition_records
            if not isinstance(records._records, GuardedRecords):
                records._records = GuardedRecords(records._records, tp, records.next_fetch_offset, self._on_bad)
        super().__setitem__(tp, result)


def guard_consumer(consumer: aiokafka.AIOKafkaConsumer, on_bad: OnBadBatch) -> None:
    """From now on, ``consumer`` skips each batch it cannot decode and calls ``on_bad`` with it.

    Call it after ``await consumer.start()`` (the fetcher exists from then on) and before reading.
    """
    if aiokafka.__version__ not in VERIFIED_AIOKAFKA:
        raise RuntimeError(
            f"streams.kafka.batches hooks into aiokafka internals checked for {sorted(VERIFIED_AIOKAFKA)}, "
            f"not {aiokafka.__version__}: run tests/test_batches.py with it and add it to VERIFIED_AIOKAFKA"
        )
    fetcher = consumer._fetcher
    if fetcher is None:
        raise RuntimeError("guard_consumer needs a started consumer (await consumer.start() first)")
    if not isinstance(fetcher._records, _GuardedResults):
        fetcher._records = _GuardedResults(fetcher._records, on_bad)
