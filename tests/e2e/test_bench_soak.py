"""`brandpulse bench soak` as a process: broker, worker, trainer and annotator over two domains, tiny sizes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.data import REPO, SHARED_DATA, needs_shared_data


@pytest.mark.soak
@pytest.mark.timeout(900)  # a retrain and two models scoring; minutes more on busy shared cores
def test_the_soak_reports_each_segment_and_its_promotion_as_the_registry_has_it(
    trained_model: Path, kafka_bootstrap: str, tmp_path: Path
) -> None:
    needs_shared_data()  # its segments are the shared TweetEval and airline tweets
    out = tmp_path / "soak.json"
    # torch: the backend timing at start and after a swap is not what this test is about.
    env = os.environ | {"PYTHONPATH": str(REPO), "COLUMNS": "200", "BRANDPULSE_BACKEND": "torch"}
    log = tmp_path / "soak.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli.main", "bench", "soak", "--model", str(trained_model),
         "--shared-data", str(SHARED_DATA), "--segments", "general,airline",
         "--segment-posts", "400", "--heldout", "60", "--general-n", "60", "--flyback-rate", "0.3",
         "--promotion-labels", "30", "--trainer-min-labels", "40", "--base-sample", "100", "--max-steps", "4",
         "--kafka", kafka_bootstrap, "--work-dir", str(tmp_path / "work"), "--out", str(out)],
        cwd=tmp_path, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )
    try:
        proc.wait(840)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)  # the bench stops its worker and trainer, then exits
        proc.wait(120)
    result = json.loads(out.read_text()) if out.exists() else {}
    rows = result.get("cycles", [])
    # Promoted or not, the last row's champion is the one the registry names at the end.
    assert (proc.returncode, [r["segment"] for r in rows], result.get("aliases", {}).get("champion")) == (
        0, ["general", "airline"], rows[-1]["champion_after"] if rows else None
    ), log.read_text(errors="replace")[-6000:]
