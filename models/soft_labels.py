"""Soft labels: a teacher's logits over a fixed set of training texts, as a small versioned artifact.

Stored as one compressed ``.npz``: a SHA-1 of each (normalised) text, the logits as float16, the label
order and a JSON header with the fingerprint of the labelled data they were computed on, the teacher
and its scores. Keyed by text, not by row, so a recipe that reorders or oversamples still finds its
rows; fingerprinted, so a recipe whose data changed trains without them instead of on stale targets.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.data import DataError, LabelledData, normalise_tweet


def _digest(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).digest()


def data_fingerprint(data: LabelledData) -> str:
    """SHA-256 over the sorted (normalised text, label) pairs: the same texts and labels, the same print."""
    h = hashlib.sha256()
    for text, label in sorted(zip((normalise_tweet(t) for t in data.texts), data.labels)):
        h.update(text.encode("utf-8") + b"\x1f" + label.encode("utf-8") + b"\x1e")
    return h.hexdigest()


@dataclass
class SoftLabels:
    """``texts → logits`` from stored soft labels; usable wherever :func:`models.train.fine_tune` takes a teacher."""

    keys: np.ndarray  # (n, 20) uint8: SHA-1 of each normalised text (not |S20, which drops a digest's trailing zero bytes)
    logits: np.ndarray  # (n, k) float16 raw teacher logits, columns in ``labels`` order
    labels: list[str]
    header: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_logits(cls, texts: Sequence[str], logits: np.ndarray, *, labels: list[str], fingerprint: str, **header: Any) -> SoftLabels:
        if len(texts) != len(logits):
            raise ValueError(f"{len(texts)} texts but {len(logits)} rows of logits")
        keys = np.frombuffer(b"".join(_digest(normalise_tweet(t)) for t in texts), dtype=np.uint8).reshape(-1, 20)
        return cls(keys, np.asarray(logits, dtype=np.float16), labels, {"fingerprint": fingerprint, "texts": len(texts)} | header)

    @property
    def fingerprint(self) -> str:
        return str(self.header.get("fingerprint", ""))

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:  # a file object, so numpy does not append ".npz" to the name
            np.savez_compressed(f, keys=self.keys, logits=self.logits, labels=np.array(self.labels),
                                header=np.array(json.dumps(self.header, sort_keys=True, default=str)))
        return path

    @classmethod
    def load(cls, path: Path) -> SoftLabels:
        """The soft labels in ``path``; a :class:`DataError` naming the file when it is not a soft-labels file."""
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls(z["keys"], z["logits"], [str(x) for x in z["labels"]], json.loads(str(z["header"])))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise DataError(f"{path} is not a soft-labels file written by `brandpulse models teacher` ({exc})") from exc

    def __call__(self, texts: Sequence[str], labels: Sequence[str] | None = None) -> np.ndarray:
        """Logits for ``texts`` (columns in ``labels`` order, default the stored order); a text without one is an error."""
        row = {key.tobytes(): i for i, key in enumerate(self.keys)}
        wanted = [row.get(_digest(normalise_tweet(t))) for t in texts]
        missing = [t for t, i in zip(texts, wanted) if i is None]
        if missing:
            raise DataError(f"{len(missing)} training texts have no soft label (e.g. {missing[0]!r}); rebuild them for this data")
        columns = [self.labels.index(name) for name in (labels or self.labels)]
        return self.logits[np.asarray(wanted)][:, columns].astype(np.float32)
