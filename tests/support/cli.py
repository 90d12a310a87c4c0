"""The CLI run in-process (Typer's runner) against a temporary data dir, with small labelled files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

POSITIVE = ["love it", "great service", "so happy with this", "fantastic crew", "thank you, wonderful", "best flight"]
NEGATIVE = ["hate it", "terrible service", "so angry with this", "rude crew", "lost my bag, awful", "worst flight"]
NEUTRAL = ["flight at 9", "boarding now", "seat 12A", "gate changed to B4", "landed in Denver", "checking in"]


def write_jsonl(path: Path, rows: list[tuple[str, str]]) -> Path:
    """(text, label) rows as the JSON-lines file ``--data`` takes."""
    path.write_text("\n".join(json.dumps({"text": t, "label": lab}) for t, lab in rows))
    return path


def use_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the CLI's settings at a fresh data dir under ``tmp_path`` and run it from there."""
    state = tmp_path / "state"
    monkeypatch.setenv("BRANDPULSE_DATA_DIR", str(state))
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps tables to the terminal width
    monkeypatch.chdir(tmp_path)
    return state
