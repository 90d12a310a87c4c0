"""Monitoring records the store refuses (alerts, label requests, human labels) become dead letters.

The watch role and the split store role write these rows; an unavailable store is waited out, and a
row the store refuses (bad bytes, a value out of range) is isolated by bisection, stored as a
``storage_rejected`` dead letter with the reason and the record's JSON, and never retried for ever:
retrying it would stall every batch behind it.

A refused row has no Kafka position of its own (the watch role makes alerts and label requests;
the store role reads a batch), so its dead letter is keyed by partition −1 and, as the offset, a
hash of the record: the table keys on (topic, partition, offset), and a redelivered refusal must
land on the same row while two different refusals must not overwrite each other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

from pydantic import BaseModel

from streams.worker.dead_letters import dead_letter, record_offset
from streams.worker.pipeline import store_dead_letters
from streams.worker.retry import retry_forever
from streams.core.schemas import DeadLetter
from streams.store.protocol import Store, insert_isolating

log = logging.getLogger(__name__)

R = TypeVar("R", bound=BaseModel)


def record_bytes(row: BaseModel) -> bytes:
    """The row as JSON; a row whose text cannot be encoded (why it was refused) keeps it escaped."""
    try:
        return row.model_dump_json().encode()
    except ValueError:
        return repr(row.model_dump(mode="python")).encode("utf-8", "backslashreplace")


def refused_row(row: BaseModel, exc: BaseException, *, topic: str, what: str) -> DeadLetter:
    value = record_bytes(row)
    post_id = getattr(row, "post_id", None)
    return dead_letter(
        kind="storage_rejected", reason=f"ClickHouse refused the {what} row: {exc!r}", topic=topic,
        partition=-1, offset=record_offset(value), key=None, value=value,
        post_id=post_id if isinstance(post_id, str) else None,
    )


def write_or_dead_letter(
    store: Store, insert: Callable[[Sequence[R]], None], rows: Sequence[R], *, topic: str, what: str,
    should_stop: Callable[[], bool] = lambda: False,
) -> list[DeadLetter]:
    """Insert ``rows``; the ones the store refuses are stored as dead letters, which are returned."""
    refused = retry_forever(lambda: insert_isolating(rows, insert, store.refuses), what=f"ClickHouse {what} insert", should_stop=should_stop)
    dead = [refused_row(row, exc, topic=topic, what=what) for row, exc in refused]
    for dl in dead:
        log.error("dead-lettered a refused %s row (%s): %s", what, dl.source_topic, dl.reason)
    if dead:
        store_dead_letters(store, dead, should_stop)
    return dead
