"""A Kafka batch that cannot be decoded is skipped with its offsets and reason: the guard
(streams.kafka.batches) as aiokafka's own PartitionRecords reads it, on raw batches built in memory."""

from __future__ import annotations

import pytest

from streams.kafka.batches import BadBatch, GuardedRecords
from tests.support.kafka_batches import UNDECODABLE, raw_batch

TOPIC = "posts"


def _read(fetched: bytes, position: int) -> tuple[list[int], list[BadBatch], int]:
    """What aiokafka's PartitionRecords yields from one guarded fetch: offsets, skipped batches, next position."""
    from aiokafka.consumer.fetcher import READ_UNCOMMITTED, PartitionRecords
    from aiokafka.record.memory_records import MemoryRecords
    from aiokafka.structs import TopicPartition

    tp = TopicPartition(TOPIC, 0)
    bad: list[BadBatch] = []
    records = GuardedRecords(MemoryRecords(fetched), tp, position, bad.append)
    partition = PartitionRecords(tp, records, [], position, None, None, True, READ_UNCOMMITTED)
    offsets = [r.offset for r in partition]
    return offsets, bad, partition.next_fetch_offset


@pytest.mark.parametrize("build, says", [case[1:] for case in UNDECODABLE], ids=[case[0] for case in UNDECODABLE])
def test_an_undecodable_batch_is_skipped_with_its_offsets_and_the_rest_is_read(build: dict, says: str) -> None:
    fetched = (raw_batch([b"a", b"b"], base_offset=0) + raw_batch([b"c", b"d", b"e"], base_offset=2, **build)
               + raw_batch([b"f"], base_offset=5))
    offsets, bad, position = _read(fetched, 0)
    assert (offsets, [(b.first_offset, b.last_offset) for b in bad], position, says in bad[0].reason) == (
        [0, 1, 5], [(2, 4)], 6, True)


def test_a_bad_batch_at_the_end_of_a_fetch_still_moves_the_position_past_it() -> None:
    offsets, bad, position = _read(raw_batch([b"c", b"d"], base_offset=7, codec_bits=2), 7)
    assert (offsets, len(bad), position) == ([], 1, 9)


def test_a_fetch_from_inside_a_bad_batch_reports_only_the_offsets_not_yet_read() -> None:
    _, bad, _ = _read(raw_batch([b"c", b"d", b"e"], base_offset=10, codec_bits=4), 11)
    assert [(b.first_offset, b.last_offset) for b in bad] == [(11, 12)]


def test_broken_framing_skips_one_offset_and_reads_no_further() -> None:
    good = raw_batch([b"a"], base_offset=3)
    broken = bytearray(raw_batch([b"x"], base_offset=4))
    broken[8:12] = (10).to_bytes(4, "big")  # a batch length shorter than any record could be
    offsets, bad, position = _read(good + bytes(broken) + raw_batch([b"z"], base_offset=5), 3)
    assert (offsets, [(b.first_offset, b.last_offset) for b in bad], position) == ([3], [(4, 4)], 5)
