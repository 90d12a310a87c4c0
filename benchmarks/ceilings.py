"""This machine's matmul peak per precision, at the GEMM shapes of a BERT-style encoder.

A scoring path is only as fast as the matrix units it runs on, and those differ by precision: on
a CPU with AMX, bf16 and int8 matmuls run several times faster than fp32. So every path is compared
with the peak of its own precision: fp32 paths with the fp32 peak, bf16 paths with the bf16 peak,
int8 paths with the int8 peak.

A peak is the best sustained rate of the libraries the paths use (torch/oneDNN, and OpenVINO when
installed) over the encoder's weight GEMMs — Q/K/V/output projections (hidden × hidden) and the
feed-forward pair (hidden × intermediate, intermediate × hidden) — weighted by their FLOPs, with
``rows`` = micro-batch size × mean tokens per post. The attention score products are left out: at
tweet lengths they are about 1 % of the work.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

Precision = Literal["fp32", "bf16", "int8"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "bf16", "int8")


def gemm_shapes(hidden: int, intermediate: int) -> list[tuple[int, int, int]]:
    """(K, N, count) of the weight GEMMs in one encoder layer."""
    return [(hidden, hidden, 4), (hidden, intermediate, 1), (intermediate, hidden, 1)]


def _rate(fn: Callable[[], Any], flops: float, seconds: float) -> float:
    for _ in range(3):
        fn()
    runs = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn()
        runs += 1
    return flops * runs / elapsed


def _weighted(rates: list[tuple[float, float]]) -> float:
    """FLOP/s over a layer: total FLOPs over the sum of each GEMM's time."""
    total = sum(f for f, _ in rates)
    return total / sum(f / r for f, r in rates)


def torch_peaks(rows: int, hidden: int, intermediate: int, threads: int, seconds: float = 0.3) -> dict[str, float]:
    """FLOP/s of torch's fp32 and bf16 matmul and ``torch._int_mm`` (int8 → int32) at the encoder's shapes."""
    import torch

    torch.set_num_threads(threads)
    rates: dict[str, list[tuple[float, float]]] = {p: [] for p in PRECISIONS}
    with torch.inference_mode():
        for k, n, count in gemm_shapes(hidden, intermediate):
            flops = 2.0 * rows * k * n
            a, b = torch.randn(rows, k), torch.randn(k, n)
            rates["fp32"].append((count * flops, _rate(lambda: a @ b, flops, seconds)))
            ab, bb = a.bfloat16(), b.bfloat16()
            rates["bf16"].append((count * flops, _rate(lambda: ab @ bb, flops, seconds)))
            ai = torch.randint(-128, 127, (rows, k), dtype=torch.int8)
            bi = torch.randint(-128, 127, (k, n), dtype=torch.int8)
            try:
                rates["int8"].append((count * flops, _rate(lambda: torch._int_mm(ai, bi), flops, seconds)))
            except RuntimeError:  # no int8 GEMM kernel for this CPU/shape in this torch build
                pass
    return {p: _weighted(r) for p, r in rates.items() if r}


def openvino_peaks(rows: int, hidden: int, intermediate: int, threads: int, seconds: float = 0.3) -> dict[str, float]:
    """FLOP/s of OpenVINO MatMuls in fp32, bf16 and int8 (FakeQuantize'd activations, int8 weights),
    compiled with the THROUGHPUT hint and driven by an async queue, as the OpenVINO scorer runs."""
    import openvino as ov
    import openvino.opset13 as ops

    core = ov.Core()
    rng = np.random.default_rng(0)
    rates: dict[str, list[tuple[float, float]]] = {p: [] for p in PRECISIONS}
    for k, n, count in gemm_shapes(hidden, intermediate):
        flops = 2.0 * rows * k * n
        for precision in PRECISIONS:
            x = ops.parameter([rows, k], ov.Type.f32)
            if precision == "int8":
                lo, hi = ops.constant(np.float32(-4)), ops.constant(np.float32(4))
                weights = ops.constant(rng.integers(-127, 127, (k, n)).astype(np.int8))
                scale = ops.constant(np.full((1, n), 1e-3, np.float32))
                y = ops.matmul(ops.fake_quantize(x, lo, hi, lo, hi, 256), ops.multiply(ops.convert(weights, ov.Type.f32), scale), False, False)
            else:
                y = ops.matmul(x, ops.constant(rng.standard_normal((k, n)).astype(np.float32)), False, False)
            config = {
                "PERFORMANCE_HINT": "THROUGHPUT",
                "INFERENCE_NUM_THREADS": threads,
                "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
            }
            compiled = core.compile_model(ov.Model([y], [x]), "CPU", config)
            queue = ov.AsyncInferQueue(compiled, 0)
            data = rng.standard_normal((rows, k)).astype(np.float32)

            def fill(queue: Any = queue, data: np.ndarray = data) -> None:
                for _ in range(len(queue)):
                    queue.start_async({0: data})
                queue.wait_all()

            rates[precision].append((count * flops, _rate(fill, flops * len(queue), seconds)))
    return {p: _weighted(r) for p, r in rates.items()}


def matmul_peaks(rows: int, hidden: int, intermediate: int, threads: int, seconds: float = 0.3) -> dict[str, Any]:
    """{'fp32'|'bf16'|'int8': best FLOP/s, 'by_library': {library: {precision: FLOP/s}}, 'rows': rows}."""
    by_library = {"torch": torch_peaks(rows, hidden, intermediate, threads, seconds)}
    try:
        by_library["openvino"] = openvino_peaks(rows, hidden, intermediate, threads, seconds)
    except ImportError:
        pass
    peaks: dict[str, Any] = {p: max(lib.get(p, 0.0) for lib in by_library.values()) for p in PRECISIONS}
    return peaks | {"by_library": by_library, "rows": rows}
