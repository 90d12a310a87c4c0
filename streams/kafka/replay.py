"""Replay a file of posts into the posts topic, like a live feed.

Reads CSV/TSV/JSONL, maps columns onto the :class:`~streams.core.schemas.Post` fields, and produces JSON
records keyed by post_id (so a post always lands on the same partition). Pacing is either a fixed
``rate`` (posts/s) or ``speedup`` × the original gaps between ``created_at`` timestamps.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from streams.core.settings import Settings

POST_FIELDS = ("post_id", "text", "author", "platform", "created_at", "lang", "brand")

# Column mappings for known public corpora (field -> column).
PRESETS: dict[str, dict[str, str]] = {
    "airline": {"post_id": "tweet_id", "text": "text", "brand": "airline", "created_at": "tweet_created"},
}
PRESET_TIME_FORMATS = {"airline": "%m/%d/%Y %H:%M"}


@dataclass
class ReplaySummary:
    read: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def read_table(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return pd.read_json(path, lines=suffix != ".json", dtype=False)
    sep = "\t" if suffix in (".tsv", ".tab") else ","
    try:
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    except UnicodeDecodeError:
        # Social-media exports are often Windows-1252/latin-1; every byte decodes there.
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="latin-1")


def _parse_time(value: Any, time_format: str | None) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(float(value), dt.timezone.utc)
    text = str(value)
    parsed = dt.datetime.strptime(text, time_format) if time_format else pd.Timestamp(text).to_pydatetime()
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def rows_to_posts(
    df: pd.DataFrame,
    mapping: Mapping[str, str],
    *,
    time_format: str | None = None,
    platform: str = "replay",
    rebase_to: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """Map table rows to post dicts. Missing ids are derived from the text; missing times become 'now'.

    ``rebase_to`` shifts every timestamp by one offset so the newest post lands at that time: old
    corpora then show up in "last 6 hours" trends while keeping their real spacing.
    """
    missing = [col for col in mapping.values() if col not in df.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the file (it has: {', '.join(map(str, df.columns))})")
    now = dt.datetime.now(dt.timezone.utc)
    posts: list[dict[str, Any]] = []
    for i, row in enumerate(df.to_dict("records")):
        post: dict[str, Any] = {f: row[c] for f, c in mapping.items() if f in POST_FIELDS}
        post["metadata"] = {k: v for k, v in row.items() if k not in mapping.values() and isinstance(v, (str, int, float))}
        if not post.get("post_id"):
            post["post_id"] = hashlib.sha1(f"{i}:{post.get('text', '')}".encode()).hexdigest()[:20]
        post["post_id"] = str(post["post_id"])
        post.setdefault("platform", platform)
        post["created_at"] = _parse_time(post.get("created_at"), time_format) or now
        if not post.get("brand"):
            post.pop("brand", None)
        posts.append(post)
    if rebase_to is not None and posts:
        shift = rebase_to - max(p["created_at"] for p in posts)
        for p in posts:
            p["created_at"] = p["created_at"] + shift
    return posts


def _encode(post: Mapping[str, Any]) -> bytes:
    return json.dumps({**post, "created_at": post["created_at"].isoformat()}, default=str).encode("utf-8")


def paced(posts: list[dict[str, Any]], *, rate: float | None, speedup: float | None) -> Iterator[dict[str, Any]]:
    """Yield posts on schedule: at ``rate``/s, at ``speedup`` × real time, or as fast as possible."""
    if speedup:
        posts = sorted(posts, key=lambda p: p["created_at"])
    start = time.monotonic()
    t0 = posts[0]["created_at"] if posts else None
    for i, post in enumerate(posts):
        if rate:
            due = start + i / rate
        elif speedup and t0 is not None:
            due = start + (post["created_at"] - t0).total_seconds() / speedup
        else:
            due = 0.0
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield post


def replay(
    posts: list[dict[str, Any]],
    *,
    settings: Settings,
    topic: str,
    rate: float | None = None,
    speedup: float | None = None,
    progress: bool = True,
) -> ReplaySummary:
    from kafka import KafkaProducer
    from tqdm import tqdm

    from streams.kafka.security import open_client

    summary = ReplaySummary(read=len(posts))
    producer = open_client(KafkaProducer, settings, acks="all", linger_ms=20, retries=5, client_id="brandpulse-replay")

    def failed(exc: BaseException) -> None:
        summary.failed += 1
        key = type(exc).__name__
        summary.errors[key] = summary.errors.get(key, 0) + 1

    started = time.monotonic()
    bar = tqdm(total=len(posts), unit="post", desc="replay", disable=not progress)
    try:
        for post in paced(posts, rate=rate, speedup=speedup):
            fut = producer.send(topic, key=post["post_id"].encode(), value=_encode(post))
            fut.add_errback(failed)
            bar.update(1)
        producer.flush()
    finally:
        producer.close()
        bar.close()
    summary.seconds = time.monotonic() - started
    summary.sent = len(posts) - summary.failed
    return summary
