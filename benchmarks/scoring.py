"""Scoring benchmark: the naive baseline against each brandpulse backend, on real tweets.

Paths, all on the same held-out texts and the same thread budget:

* ``naive`` — ``transformers.pipeline("text-classification")`` called one post at a time;
* ``plain-torch-loop`` — the model's forward pass alone over pre-tokenised, globally length-sorted
  micro-batches: what the fp32 scorer would cost with tokenising and bookkeeping free;
* every backend of :func:`models.scoring.factory.make_scorer` (torch fp32 and bf16, ONNX int8,
  OpenVINO bf16/int8) at each micro-batch size, with parity against torch fp32;
* ``auto`` — what :func:`models.scoring.backend_choice.choose_backend` picks here (the worker's choice);
* ``auto+cache`` — :class:`models.scoring.cache.CachedScorer` over it, on a stream where a share of posts
  are retweets/copies of earlier ones.

Each path is compared with the matmul peak of its own precision (fp32, bf16 or int8) at the model's
GEMM shapes and its own micro-batch size (:mod:`benchmarks.ceilings`): the ceiling is that peak over
the encoder's useful FLOPs per post (at each post's real token count, no padding).
:func:`run_bench` returns a plain dict so the end-to-end (Kafka → ClickHouse) numbers can be added.
"""

from __future__ import annotations

import os
import platform
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from benchmarks.process import peak_rss_mb
from models.scoring.backend_choice import cpu_flags, cpu_model
from models.scoring.child import call_in_child
from models.checkpoint import read_meta
from models.data import LabelledData, load_dataset, train_test_split


# The precision each path's matmuls run in: what its ceiling is.
PATH_PRECISION = {
    "naive": "fp32", "plain-torch-loop": "fp32", "torch": "fp32", "onnx-fp32": "fp32",
    "torch-bf16": "bf16", "onnx-int8": "int8", "openvino-int8": "int8", "openvino-fp32": "fp32", "openvino-bf16": "bf16",
}


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

    from models.scoring.onnx_backend import parity_from_probs
    from models.scoring.scorer import Scorer

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


def plain_torch_loop(model: Any, feeds: Sequence[dict[str, np.ndarray]]) -> float:
    """Seconds for the model's forward pass alone over ready-made micro-batches."""
    import torch

    with torch.inference_mode():
        tensors = [{k: torch.from_numpy(v) for k, v in feed.items()} for feed in feeds]
        model(**tensors[0])
        start = time.perf_counter()
        for inputs in tensors:
            model(**inputs)
        return time.perf_counter() - start


def raw_forward(scorer: Any) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
    """One padded micro-batch → logits, straight through the backend's own runtime (what a user's loop calls)."""
    if scorer.backend.startswith("torch"):
        import torch

        model = scorer.model

        def torch_logits(feed: dict[str, np.ndarray]) -> np.ndarray:
            with torch.inference_mode():
                return model(**{k: torch.from_numpy(v) for k, v in feed.items()}).logits.float().numpy()

        return torch_logits
    if scorer.backend.startswith("onnx"):
        session = scorer.session
        return lambda feed: session.run(["logits"], feed)[0]
    request = scorer.compiled.create_infer_request()
    port = scorer.compiled.output("logits")

    def openvino_logits(feed: dict[str, np.ndarray]) -> np.ndarray:
        request.infer(feed)
        return request.get_tensor(port).data.copy()

    return openvino_logits


def plain_loop(scorer: Any, texts: Sequence[str], chunk: int) -> tuple[float, np.ndarray]:
    """Seconds for a plain loop over ``texts`` with the scorer's own model, and its (uncalibrated) probabilities in input order.

    What a user writes: per call of ``chunk`` texts (the stream's batch), the model's input texts sorted by
    length, then per micro-batch of the scorer's size: tokenise with padding, forward, softmax. The
    same texts, calls and micro-batch as the scorer, none of its bookkeeping.
    """
    from transformers import AutoTokenizer

    from models.scoring.scorer import model_inputs

    forward = raw_forward(scorer)
    # transformers' tokenizer, as a user's loop would have (the scorer reads tokenizer.json directly).
    tokenizer = AutoTokenizer.from_pretrained(scorer.model_dir)
    size, names = scorer.batch_size, scorer.input_names
    probs: list[np.ndarray] = []
    start = time.perf_counter()
    for i in range(0, len(texts), chunk):
        inputs = list(model_inputs(texts[i : i + chunk], scorer.meta))
        order = np.argsort([len(t) for t in inputs], kind="stable")
        out = np.empty((len(inputs), len(scorer.labels)), dtype=np.float32)
        for k in range(0, len(inputs), size):
            rows = order[k : k + size]
            enc = tokenizer([inputs[j] for j in rows], padding=True, truncation=True, max_length=scorer.max_length,
                            return_tensors="np")
            logits = forward({n: enc[n].astype(np.int64) for n in names})
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            out[rows] = e / e.sum(axis=1, keepdims=True)
        probs.append(out)
    return time.perf_counter() - start, np.concatenate(probs)


def vs_plain_loop(scorer: Any, texts: Sequence[str], chunk: int, rounds: int = 3) -> dict[str, Any]:
    """The scorer's throughput over its own plain loop's, timed in alternating rounds so that load from
    elsewhere on the machine hits both alike; the ratio of the median times, and each round's."""
    scorer_s: list[float] = []
    plain_s: list[float] = []
    for r in range(rounds):
        for which in (("scorer", "plain") if r % 2 == 0 else ("plain", "scorer")):
            if which == "scorer":
                scorer_s.append(_timed(scorer.predict_proba, texts, chunk)[0])
            else:
                plain_s.append(plain_loop(scorer, texts, chunk)[0])
    return {
        "scorer_s": float(np.median(scorer_s)),
        "plain_s": float(np.median(plain_s)),
        "ratio": float(np.median(plain_s) / np.median(scorer_s)),
        "round_ratios": [p / s for p, s in zip(plain_s, scorer_s)],
    }


def _rss_child(model_dir: str, backend: str, batch_size: int, texts: list[str], threads: int) -> float:
    from models.scoring.factory import make_scorer

    scorer = make_scorer(model_dir, backend, batch_size=batch_size, threads=threads)  # type: ignore[arg-type]
    for i in range(0, len(texts), 256):
        scorer.predict_proba(texts[i : i + 256])
    return peak_rss_mb() or 0.0


def backend_peak_rss(model_dir: Path, backend: str, batch_size: int, texts: Sequence[str], threads: int,
                     attempts: int = 2) -> float:
    """Peak RSS (MB) of a fresh process that loads one backend and scores ``texts``: what that backend
    costs a worker, without the other backends this benchmark has loaded. NaN when every child died
    (a native library aborting in a fresh process: seen once in a run of this bench)."""
    args = (str(model_dir), backend, batch_size, list(texts), threads)
    outcome = call_in_child(_rss_child, args, timeout_s=900, attempts=attempts, what=f"the {backend} RSS process")
    return float(outcome.value) if outcome.answered else float("nan")


def run_bench(
    model_dir: str | Path,
    *,
    data: str = "airline",
    n_posts: int = 2000,
    naive_posts: int = 200,
    batch_sizes: Sequence[int] = (16, 64),
    backends: Sequence[str] | None = None,
    stream_batch: int = 256,
    threads: int | None = None,
    duplicate_share: float = 0.25,
    split_seed: int | None = 0,
    test_size: float = 0.2,
    seed: int = 0,
    rss: bool = True,
    selection_texts: int = 2000,
    selection_budget_s: float = 120.0,
    plain_rounds: int = 3,
) -> dict[str, Any]:
    """Measure every scoring path; returns {'machine', 'model', 'ceiling', 'paths', 'parity', 'auto', 'cache', ...}.

    The texts are the held-out part of ``train_test_split(load_dataset(data), test_size, split_seed)``
    — the split ``fine_tune`` users make — so macro-F1s are honest; ``split_seed=None`` uses all of it.
    ``backends=None`` times :func:`models.scoring.backend_choice.available_backends` (plus ``openvino-int8``
    where that is not among them), and lets the auto choice pick among the former exactly as the
    worker does (same sample size and budget as the worker's defaults); given ``backends`` are also
    the auto choice's candidates. ``plain_rounds`` alternating rounds of each backend against its own
    :func:`plain_loop` (0: none).
    """
    import torch
    from transformers import AutoConfig, AutoTokenizer, pipeline

    from models.scoring.backend_choice import SelectionConfig, available_backends, choose_backend, default_sample, machine_info
    from models.scoring.cache import CachedScorer
    from benchmarks.ceilings import matmul_peaks
    from models.scoring.onnx_backend import parity_from_probs
    from models.scoring.scorer import model_inputs
    from models.scoring.factory import make_scorer

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
    sizes = sorted(set(batch_sizes))
    candidates = list(backends) if backends else None
    if backends is None:
        available = available_backends()
        # Where openvino already is int8, openvino-int8 is the same model: the row shows it anyway.
        backends = [*available, "openvino-int8"] if "openvino" in available and "openvino-int8" not in available else available
    backends = ["torch", *(b for b in backends if b != "torch")]  # the fp32 reference runs first

    config = AutoConfig.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokens = np.array([len(ids) for ids in tokenizer(list(model_inputs(texts, meta)), truncation=True, max_length=meta.max_length)["input_ids"]])
    flops = encoder_flops(tokens, config.num_hidden_layers, config.hidden_size, config.intermediate_size)
    flops_per_post = float(flops.mean())
    peaks = {
        size: matmul_peaks(size * round(float(tokens.mean())), config.hidden_size, config.intermediate_size, threads)
        for size in sizes
    }

    paths: dict[str, dict[str, Any]] = {}
    parity: dict[str, dict[str, float]] = {}
    loops: dict[str, dict[str, Any]] = {}

    def record(name: str, seconds: float, n: int, precision: str, batch: int | None, **extra: Any) -> None:
        pps = n / seconds
        peak = peaks[batch if batch in peaks else sizes[0]][precision]
        paths[name] = {
            "posts": n,
            "seconds": seconds,
            "posts_per_s": pps,
            "ms_per_post": 1000 * seconds / n,
            "precision": precision,
            "batch_size": batch,
            "ceiling_posts_per_s": peak / flops_per_post,
            "pct_of_ceiling": 100 * pps * flops_per_post / peak,
            "peak_rss_mb": peak_rss_mb(),
            **extra,
        }

    torch.set_num_threads(threads)
    naive = pipeline("text-classification", model=str(model_dir), tokenizer=str(model_dir), device=-1)
    naive_texts = list(model_inputs(texts[:naive_posts], meta))
    naive(naive_texts[0], truncation=True, max_length=meta.max_length)
    seconds, _ = _timed(lambda t: naive(t[0], truncation=True, max_length=meta.max_length), naive_texts, 1)
    record("naive", seconds, len(naive_texts), "fp32", 1, note="HF pipeline, one post per call")
    naive = None  # the pipeline's model copy is not needed for the other paths

    probs_fp32: np.ndarray | None = None
    for backend in backends:
        load_start = time.perf_counter()
        scorer = make_scorer(model_dir, backend, batch_size=sizes[0], threads=threads)  # type: ignore[arg-type]
        load_seconds = time.perf_counter() - load_start
        name = backend
        if backend.startswith("openvino"):
            name = f"openvino-{scorer.precision}"  # type: ignore[attr-defined]
        for size in sizes:
            scorer.batch_size = size  # type: ignore[attr-defined]
            scorer.predict_proba(texts[: 2 * size])
            seconds, chunks = _timed(scorer.predict_proba, texts, stream_batch)
            probs = np.concatenate(chunks)
            if probs_fp32 is None:  # torch fp32 runs first: the reference
                probs_fp32 = probs
            agreement = parity_from_probs(probs_fp32, probs, meta, meta, y)
            parity[f"{name}/{size}"] = agreement
            record(
                f"{name}/{size}", seconds, len(texts), PATH_PRECISION[name], size,
                macro_f1=agreement["macro_f1_int8"],  # parity names its candidate side "int8"
                label_agreement=agreement["label_agreement"],
                note=f"load {load_seconds:.1f}s (exports cached)",
            )
            if plain_rounds:
                loops[f"{name}/{size}"] = vs_plain_loop(scorer, texts, stream_batch, plain_rounds)
        if backend == "torch":
            # The same model's forward pass alone, on ready-made micro-batches of the same size.
            for size in sizes:
                scorer.batch_size = size  # type: ignore[attr-defined]
                feeds = [b.feed for b in scorer.micro_batches(model_inputs(texts, meta))]  # type: ignore[attr-defined]
                record(f"plain-torch-loop/{size}", plain_torch_loop(scorer.model, feeds), len(texts), "fp32", size,  # type: ignore[attr-defined]
                       note="forward only, pre-tokenised, globally length-sorted")
        del scorer

    selection_config = SelectionConfig(
        candidates=candidates, threads=threads, batch_sizes=sizes, stream_batch=stream_batch, budget_s=selection_budget_s
    )
    sample = default_sample(selection_texts)
    choice = choose_backend(model_dir, sample.texts, sample.labels, selection_config)
    chosen = make_scorer(model_dir, choice.backend, batch_size=choice.batch_size, threads=threads)
    chosen_name = f"openvino-{chosen.precision}" if choice.backend.startswith("openvino") else choice.backend  # type: ignore[attr-defined]
    chosen_row = paths.get(f"{chosen_name}/{choice.batch_size}")
    if chosen_row is not None:
        paths["auto"] = chosen_row | {"note": f"= {chosen_name}/{choice.batch_size} (timed choice; same run as that row)"}

    stream = duplicate_stream(texts, len(texts), duplicate_share, seed)
    cached = CachedScorer(chosen, max_entries=100_000)
    cached.predict_proba(texts[: 2 * choice.batch_size])
    cached.clear()
    seconds, _ = _timed(cached.predict_proba, stream, stream_batch)
    stats = cached.stats.as_dict()
    record(
        "auto+cache", seconds, len(stream), PATH_PRECISION[chosen_name], choice.batch_size,
        note=f"{duplicate_share:.0%} copies in stream, hit rate {stats['hit_rate']:.1%}",
    )
    del cached, chosen

    gpu = gpu_paths(model_dir, texts, probs_fp32, y, stream_batch)

    naive_pps = paths["naive"]["posts_per_s"]
    fp32_pps = max(paths[f"torch/{size}"]["posts_per_s"] for size in sizes)
    for row in paths.values():
        row["x_naive"] = row["posts_per_s"] / naive_pps
        row["x_fp32"] = row["posts_per_s"] / fp32_pps
    rss_by_backend: dict[str, float] = {}
    if rss:
        for backend in backends:
            rss_by_backend[backend] = backend_peak_rss(model_dir, backend, sizes[-1], texts[:512], threads)
    best = max((r for n, r in paths.items() if "/" in n and not n.startswith("plain")), key=lambda r: r["posts_per_s"])
    auto_row = paths.get("auto")
    auto_parity = parity.get(f"{chosen_name}/{choice.batch_size}")
    f1_fp32 = paths[f"torch/{sizes[0]}"]["macro_f1"]
    return {
        "machine": {
            "cpu": cpu_model(),
            "flags": cpu_flags(),
            "cores": os.cpu_count(),
            "threads": threads,
            "load_avg_1m": os.getloadavg()[0],
            "python": platform.python_version(),
            **{k: v for k, v in machine_info(threads).items() if k not in ("cpu", "flags", "cores", "threads")},
        },
        "model": {
            "dir": str(model_dir),
            "version": meta.version,
            "base_model": meta.base_model,
            "layers": config.num_hidden_layers,
            "hidden": config.hidden_size,
            "max_length": meta.max_length,
        },
        "data": {"spec": data, "split_seed": split_seed, "posts": len(texts), "mean_tokens": float(tokens.mean())},
        "ceiling": {
            "gflop_per_post": flops_per_post / 1e9,
            "matmul_gflops": {
                str(size): {p: peaks[size][p] / 1e9 for p in ("fp32", "bf16", "int8")} for size in sizes
            },
            "matmul_gflops_by_library": {
                str(size): {lib: {p: v / 1e9 for p, v in r.items()} for lib, r in peaks[size]["by_library"].items()} for size in sizes
            },
            "gemm_rows": {str(size): peaks[size]["rows"] for size in sizes},
        },
        "paths": paths,
        "gpu": gpu,
        "parity": parity,
        "auto": choice.model_dump(mode="json"),
        "scorer_vs_plain_loop": loops,
        "rss_by_backend_mb": rss_by_backend,
        "cache": stats,
        "targets": {
            "auto_3.5x_fp32": bool(auto_row and auto_row["x_fp32"] >= 3.5),
            "auto_agreement_97pct": bool(auto_parity and auto_parity["label_agreement"] >= 0.97),
            "auto_f1_within_0.01": bool(auto_row and abs(auto_row["macro_f1"] - f1_fp32) <= 0.01),
            "fastest_50pct_of_own_ceiling": best["pct_of_ceiling"] >= 50,
            "each_backend_95pct_of_plain_loop": bool(loops) and all(v["ratio"] >= 0.95 for v in loops.values()),
        },
    }


def render(result: dict[str, Any], console: Console | None = None) -> None:
    """Print the benchmark as a table (plus machine, ceilings, choice and target lines)."""
    console = console or Console(width=max(Console().width, 160))  # keep the table readable in logs
    m, c = result["machine"], result["ceiling"]
    table = Table(title=f"Scoring throughput — {result['model']['version']} on {m['cpu']} ({m['threads']} threads)")
    for col in ("path", "prec.", "posts/s", "ms/post", "× naive", "× fp32", "% own ceiling", "agreement", "macro-F1", "RSS MB", "notes"):
        table.add_column(col, justify="left" if col in ("path", "notes", "prec.") else "right")
    for name, row in result["paths"].items():
        f1, agree = row.get("macro_f1"), row.get("label_agreement")
        table.add_row(
            name,
            row["precision"],
            f"{row['posts_per_s']:.1f}",
            f"{row['ms_per_post']:.2f}",
            f"{row['x_naive']:.1f}",
            f"{row['x_fp32']:.2f}",
            f"{row['pct_of_ceiling']:.0f}",
            "—" if agree is None else f"{agree:.1%}",
            "—" if f1 is None else f"{f1:.4f}",
            f"{row['peak_rss_mb']:.0f}",
            row.get("note", ""),
        )
    console.print(table)
    for size, peaks in c["matmul_gflops"].items():
        libs = "; ".join(
            f"{lib} " + "/".join(f"{v:.0f}" for v in r.values()) for lib, r in c["matmul_gflops_by_library"][size].items()
        )
        console.print(
            f"ceiling at micro-batch {size} ({c['gemm_rows'][size]} GEMM rows): fp32 {peaks['fp32']:.0f}, bf16 {peaks['bf16']:.0f}, "
            f"int8 {peaks['int8']:.0f} GFLOP/s ({libs}) / {c['gflop_per_post']:.3f} GFLOP per post"
        )
    console.print(
        f"CPU flags: {' '.join(m['flags']) or 'n/a'}; mean {result['data']['mean_tokens']:.1f} tokens; "
        f"load avg {m['load_avg_1m']:.2f} on {m['cores']} cores"
    )
    if result["scorer_vs_plain_loop"]:
        console.print(
            "each scorer's throughput / its own plain loop's (tokenise, forward, softmax; median of alternating rounds): "
            + ", ".join(f"{k} {v['ratio']:.0%}" for k, v in result["scorer_vs_plain_loop"].items())
        )
    auto = result["auto"]
    console.print(f"auto choice: {auto['backend']} micro-batch {auto['batch_size']} ({auto['x_reference']:.2f}× torch fp32 in its own timing{', cached' if auto['cached'] else ''})")
    if result["rss_by_backend_mb"]:
        console.print("peak RSS, one backend per process: " + ", ".join(f"{k} {v:.0f} MB" for k, v in result["rss_by_backend_mb"].items()))
    if result.get("gpu"):
        gpu = Table(title=f"GPU ({next(iter(result['gpu'].values()))['device']}), same posts, batch 256")
        for col in ("path", "posts/s", "ms/post", "× CPU fp32", "macro-F1", "agreement vs CPU", "peak GPU MB"):
            gpu.add_column(col, justify="left" if col == "path" else "right")
        cpu_pps = max(r["posts_per_s"] for n, r in result["paths"].items() if n.startswith("torch/"))
        for name, row in result["gpu"].items():
            gpu.add_row(name, f"{row['posts_per_s']:.0f}", f"{row['ms_per_post']:.3f}", f"{row['posts_per_s'] / cpu_pps:.1f}",
                        f"{row['macro_f1']:.4f}", f"{row['label_agreement_vs_cpu']:.2%}", f"{row['peak_gpu_mb']:.0f}")
        console.print(gpu)
    console.print("targets: " + ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in result["targets"].items()))
