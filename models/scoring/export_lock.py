"""One exporter at a time per cache folder, across processes.

N scorers of the same checkpoint start together in split mode (and pytest-xdist workers share the test
model): each finds no export and would write the same files while the others read them.
"""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock


def export_lock(folder: Path) -> FileLock:
    """The lock guarding the exports in ``folder`` (which must exist).

    Re-entrant within a process (one instance per path): the int8 OpenVINO export builds an fp32
    scorer, which asks for the fp32 export under the same lock.
    """
    return FileLock(folder / ".export.lock", is_singleton=True)
