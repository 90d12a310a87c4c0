"""Human labels in: ``brandpulse label``, a terminal labeller, and ``brandpulse label --import``.

The labeller reads the label-requests topic with one consumer group shared by all annotators, so
each queued post is offered to one person once: a post's offset is committed when it has been
labelled or skipped, and a post shown when the annotator quits stays queued for the next session.
Labels go to the labels topic keyed by ``post_id`` (the worker stores them, the trainer learns from
them), each acknowledged by the broker before its request is committed.

The interactive loop (:func:`label_session`) takes its input and output streams as arguments, so
it runs the same in a terminal and in a test that feeds it lines.
"""

from __future__ import annotations

import csv
import getpass
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Optional, TextIO

import typer
from pydantic import BaseModel, Field, ValidationError

from drift.records import HumanLabel, LabelRequest
from streams.settings import Settings, get_settings

log = logging.getLogger(__name__)

LABELS = ("negative", "neutral", "positive")
_SPELLINGS = {
    "n": "negative", "neg": "negative", "negative": "negative",
    "u": "neutral", "neu": "neutral", "neutral": "neutral",
    "p": "positive", "pos": "positive", "positive": "positive",
}
PROMPT = "label: [n]egative  ne[u]tral  [p]ositive  [s]kip  [q]uit > "


class LabelError(ValueError):
    """A label that is not one of :data:`LABELS`; the message lists what is accepted."""


def parse_label(value: str) -> str:
    """The canonical label for a spelling (``n``, ``neg``, ``Negative`` → ``negative``)."""
    label = _SPELLINGS.get(value.strip().lower())
    if label is None:
        raise LabelError(f"label {value.strip()!r} is not one of {', '.join(LABELS)} (or n/u/p)")
    return label


def default_annotator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in a bare container
        return "unknown"


# ------------------------------------------------------------------ the interactive loop (no Kafka)


class SessionSummary(BaseModel):
    offered: int = 0
    labelled: int = 0
    skipped: int = 0
    quit: bool = False
    counts: dict[str, int] = Field(default_factory=dict)


def _show(req: LabelRequest, n: int, out: TextIO) -> None:
    out.write(
        f"\n#{n}  {req.brand}  post {req.post_id}  ({req.reason}, {req.model_version})\n"
        f"  {req.text}\n"
        f"  model says: {req.predicted_label} ({req.confidence:.0%})\n"
    )


def label_session(
    requests: Iterable[LabelRequest],
    publish: Callable[[HumanLabel], None],
    *,
    annotator: str,
    stdin: TextIO,
    stdout: TextIO,
    on_done: Callable[[LabelRequest], None] = lambda _req: None,
    limit: int | None = None,
) -> SessionSummary:
    """Offer each request, read n/u/p/s/q, publish labels; ``on_done`` runs after a post is labelled or skipped.

    End of input counts as quit. A post already handled in this session (re-delivered) is not shown again.
    """
    summary = SessionSummary()
    seen: set[str] = set()
    for req in requests:
        if req.post_id in seen:
            on_done(req)
            continue
        if limit is not None and summary.offered >= limit:
            break
        summary.offered += 1
        _show(req, summary.offered, stdout)
        while True:
            stdout.write(PROMPT)
            stdout.flush()
            line = stdin.readline()
            answer = line.strip().lower()
            if not line or answer == "q":
                summary.quit = True
                summary.offered -= 1  # still queued: the next session offers it again
                return summary
            if answer == "s":
                summary.skipped += 1
                break
            try:
                label = parse_label(answer)
            except LabelError:
                stdout.write(f"  {answer!r} is not a choice; type n, u, p, s or q\n")
                continue
            publish(HumanLabel(post_id=req.post_id, label=label, annotator=annotator, text=req.text))
            summary.labelled += 1
            summary.counts[label] = summary.counts.get(label, 0) + 1
            break
        seen.add(req.post_id)
        on_done(req)
    return summary


# ------------------------------------------------------------------ Kafka edges


class LabelPublisher:
    """Sends human labels to the labels topic, keyed by post_id; each send waits for the broker's ack."""

    def __init__(self, settings: Settings) -> None:
        from kafka import KafkaProducer

        self.topic = settings.topic("labels")
        self._producer = KafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap, acks="all", retries=5, client_id="brandpulse-labeller"
        )

    def __call__(self, label: HumanLabel) -> None:
        self._producer.send(self.topic, key=label.post_id.encode(), value=label.model_dump_json().encode()).get(30)

    def close(self) -> None:
        self._producer.flush()
        self._producer.close()


class LabelQueue:
    """Queued label requests from the label-requests topic, read by the shared labellers' group.

    Iterating yields requests until ``idle_s`` passes with nothing new; :meth:`done` commits one.
    """

    def __init__(self, settings: Settings, idle_s: float = 10.0, join_timeout_s: float = 60.0) -> None:
        from streams.topics import group_consumer

        self.idle_s = idle_s
        self.join_timeout_s = join_timeout_s
        self._consumer = group_consumer(
            settings, "label-requests", group="labellers", client_id="brandpulse-labeller",
            # A person may look at one post for minutes; past this the group moves on without them.
            max_poll_interval_ms=600_000,
        )
        self._positions: dict[str, tuple[Any, int]] = {}

    def __iter__(self) -> Iterator[LabelRequest]:
        started = time.monotonic()
        last_seen: float | None = None
        while True:
            batches = self._consumer.poll(timeout_ms=500, max_records=1)
            now = time.monotonic()
            if not batches:
                if self._consumer.assignment() and last_seen is None:
                    last_seen = now  # joined the group: the idle clock starts now
                if last_seen is not None and now - last_seen > self.idle_s:
                    return
                if last_seen is None and now - started > self.join_timeout_s:
                    raise TimeoutError(
                        f"no partitions of the label-requests topic assigned after {self.join_timeout_s:.0f}s; "
                        "is the broker up and were the topics created (`brandpulse topics`)?"
                    )
                continue
            for tp, messages in batches.items():
                for msg in messages:
                    last_seen = time.monotonic()
                    try:
                        req = LabelRequest.model_validate_json(msg.value)
                    except ValidationError as exc:
                        log.error("skipping malformed label request at %s:%d: %s", tp, msg.offset, exc)
                        self._commit(tp, msg.offset)
                        continue
                    self._positions[req.post_id] = (tp, msg.offset)
                    yield req

    def done(self, req: LabelRequest) -> None:
        tp, offset = self._positions.pop(req.post_id)
        self._commit(tp, offset)

    def _commit(self, tp: Any, offset: int) -> None:
        from kafka.errors import CommitFailedError
        from kafka.structs import OffsetAndMetadata

        try:
            self._consumer.commit({tp: OffsetAndMetadata(offset + 1, "", -1)})
        except CommitFailedError:
            # The group rebalanced while this post was on screen: its label is published, but the
            # post may be offered once more (the trainer keeps the last label per post_id).
            log.warning("could not mark post at %s:%d as done; it may be offered again", tp, offset)

    def close(self) -> None:
        self._consumer.close()


def run_labeller(
    settings: Settings,
    *,
    annotator: str,
    stdin: TextIO,
    stdout: TextIO,
    limit: int | None = None,
    idle_s: float = 10.0,
) -> SessionSummary:
    """An interactive labelling session against the configured broker."""
    queue = LabelQueue(settings, idle_s=idle_s)
    publisher = LabelPublisher(settings)
    try:
        summary = label_session(
            queue, publisher, annotator=annotator, stdin=stdin, stdout=stdout, on_done=queue.done, limit=limit
        )
    finally:
        publisher.close()
        queue.close()
    if not summary.quit and (limit is None or summary.offered < limit):
        stdout.write(f"\nno more queued posts (waited {idle_s:.0f}s)\n")
    stdout.write(
        f"labelled {summary.labelled}, skipped {summary.skipped}"
        + (f" ({', '.join(f'{k} {v}' for k, v in sorted(summary.counts.items()))})" if summary.counts else "")
        + "\n"
    )
    return summary


# ------------------------------------------------------------------ CSV import


class LabelImportError(ValueError):
    """A labels file that cannot be imported at all (missing, unreadable, wrong columns)."""


class ImportResult(BaseModel):
    rows: int = 0
    labels: list[HumanLabel] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    without_text: int = 0
    duplicate_post_ids: int = 0
    published: int = 0

    def counts(self) -> dict[str, int]:
        return dict(Counter(lab.label for lab in self.labels))


REQUIRED_COLUMNS = ("post_id", "label")


def read_labels_csv(path: Path, annotator: str) -> ImportResult:
    """Validate a labels CSV (``post_id,label[,text][,annotator]``); bad rows become errors, not labels."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise LabelImportError(f"{p} does not exist or is not a file")
    result = ImportResult()
    seen: set[str] = set()
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = [c.strip() for c in reader.fieldnames or []]
            missing = [c for c in REQUIRED_COLUMNS if c not in columns]
            if missing:
                raise LabelImportError(
                    f"{p}: missing column(s) {missing}; found {columns}. "
                    "Expected a header like post_id,label,text,annotator (text and annotator optional)"
                )
            for line, raw in enumerate(reader, start=2):  # line 1 is the header
                result.rows += 1
                row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
                post_id = row.get("post_id", "")
                if not post_id:
                    result.errors.append(f"line {line}: empty post_id")
                    continue
                try:
                    label = parse_label(row.get("label", ""))
                except LabelError as exc:
                    result.errors.append(f"line {line} (post {post_id}): {exc}")
                    continue
                text = row.get("text") or None
                result.without_text += text is None
                result.duplicate_post_ids += post_id in seen
                seen.add(post_id)
                result.labels.append(
                    HumanLabel(post_id=post_id, label=label, annotator=row.get("annotator") or annotator, text=text)
                )
    except UnicodeDecodeError as exc:
        raise LabelImportError(f"{p} is not UTF-8 text ({exc.reason}); save it as UTF-8 CSV") from None
    except csv.Error as exc:
        raise LabelImportError(f"{p}: not a valid CSV ({exc})") from None
    return result


def import_labels(path: Path, settings: Settings, annotator: str) -> ImportResult:
    """Read, validate and publish a labels CSV; only valid rows are published."""
    result = read_labels_csv(path, annotator)
    if result.labels:
        publisher = LabelPublisher(settings)
        try:
            for label in result.labels:
                publisher(label)
                result.published += 1
        finally:
            publisher.close()
    return result


def format_import(result: ImportResult, max_errors: int = 20) -> str:
    counts = ", ".join(f"{k} {v}" for k, v in sorted(result.counts().items()))
    lines = [f"published {result.published} of {result.rows} rows" + (f" ({counts})" if counts else "")]
    if result.duplicate_post_ids:
        lines.append(f"{result.duplicate_post_ids} rows repeat an earlier post_id: the last label wins")
    if result.without_text:
        lines.append(
            f"{result.without_text} labels carry no text: they count for evaluation in the worker, "
            "but the trainer cannot learn from them (add a text column)"
        )
    if result.errors:
        lines.append(f"{len(result.errors)} rows rejected (nothing published for them):")
        lines += [f"  {e}" for e in result.errors[:max_errors]]
        if len(result.errors) > max_errors:
            lines.append(f"  ... and {len(result.errors) - max_errors} more")
    return "\n".join(lines)


# ------------------------------------------------------------------ CLI


def label_command(
    import_csv: Optional[Path] = typer.Option(
        None, "--import", help="Publish labels from a CSV (post_id,label[,text][,annotator]) instead of asking"
    ),
    annotator: Optional[str] = typer.Option(None, help="Who labels (default: your login name, $USER)"),
    limit: Optional[int] = typer.Option(None, min=1, help="Stop after offering N posts"),
    wait: float = typer.Option(10.0, min=0, help="Stop after this many seconds without a queued post"),
) -> None:
    """Label queued posts in the terminal (n/u/p, s skip, q quit), or import a labels CSV.

    Examples:
      brandpulse label --annotator alice
      brandpulse label --import labels.csv
    """
    import sys

    settings = get_settings()
    who = annotator or default_annotator()
    if import_csv is not None:
        try:
            result = import_labels(import_csv, settings, who)
        except LabelImportError as exc:
            raise typer.BadParameter(str(exc), param_hint="--import") from None
        typer.echo(format_import(result))
        if result.errors:
            raise typer.Exit(1)
        return
    run_labeller(settings, annotator=who, stdin=sys.stdin, stdout=sys.stdout, limit=limit, idle_s=wait)
