"""`brandpulse bench pipeline` as a process, with its own worker processes, against the real broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.data import REPO


@pytest.mark.timeout(600)  # the benchmark command alone may take 420 s
def test_pipeline_benchmark_runs_against_the_real_broker(trained_model: Path, kafka_bootstrap: str, tmp_path: Path) -> None:
    out = tmp_path / "pipeline.json"
    # Run from the test's folder (each worker writes its Faust <app id>-data folder there), importing this checkout.
    env = os.environ | {"BRANDPULSE_KAFKA_URL": f"kafka://{kafka_bootstrap}", "BRANDPULSE_SESSION_TIMEOUT_S": "6",
                        "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "streams.cli.main", "bench", "pipeline", "--model", str(trained_model), "--rate", "20",
         "--n-rate", "40", "--n-flood", "120", "--backend", "onnx-int8", "--cache-entries", "1000", "--out", str(out)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=420,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["backend"] == "onnx-int8" and result["cache_entries"] == 1000
    assert result["fixed_rate_posts"] == 40 and result["flood_posts"] == 120
    lat = result["latency_s"]
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"]
    assert result["max_sustainable_posts_per_s"] > 0 and result["scorer_alone_posts_per_s"] > 0
    assert result["worker_peak_rss_mb"] > 100 and result["sink"]["rows_per_s"] > 0
    assert result["flood_cpu_cores"]["worker"] > 0 and {"load_generator", "broker"} <= set(result["flood_cpu_cores"])
    assert "scorer alone" in proc.stdout and "p95" in proc.stdout
    shares = result["flood_cpu_by_stage"]["worker"]["rows"]
    assert {"decode and validate", "forward", "store", "publish"} <= set(shares) and "by stage" in proc.stdout
