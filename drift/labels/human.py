"""Human labels in, without Kafka: the label spellings, the interactive session, the CSV reader.

The interactive loop (:func:`label_session`) takes its requests, its publisher and its input and
output streams as arguments, so it runs the same in a terminal and in a test that feeds it lines;
``brandpulse label`` (:mod:`streams.services.labeller`) connects it to the label-requests and labels topics.
"""

from __future__ import annotations

import csv
import getpass
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TextIO

from pydantic import BaseModel, Field

from drift.records import HumanLabel, LabelRequest

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
