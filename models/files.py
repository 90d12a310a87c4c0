"""Atomic file writes: the one helper every layer uses for state and cache files.

Readers (a restarted worker, a concurrent process choosing a backend) must see either the old file or
the new one, never half of each; a crash mid-write must leave the previous file intact. Hence a
unique temp file in the same directory (``os.replace`` is atomic only within one file system),
``fsync`` before the rename, and the temp file removed when anything fails.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_text(path: Path | str, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically, creating parent directories."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
