"""Batched sentiment scoring with a fine-tuned sequence-classification checkpoint.

:class:`MicroBatchScorer` holds what every backend shares: the texts of a call are tokenised once,
sorted by token count and cut into micro-batches that each pad only to their own longest post
(dynamic padding); a backend only says how one padded micro-batch becomes logits (or, like
OpenVINO's async queue, how a list of them does). Calibrated softmax, the checkpoint's decision rule
and :class:`Prediction` building are the same for all of them. :meth:`MicroBatchScorer.score` is
synchronous and CPU-bound; the streaming worker calls it from a thread so the asyncio loop keeps
heartbeating.

Every backend's forward pass has two outputs: the logits and the *sentence vector* — the encoder's
last hidden states mean-pooled over the attention mask and scaled to unit length (how the
sentence-transformers encoders the default models start from were trained to be compared). Input
drift is measured in that space (:mod:`drift.health`), so the worker's model-health checks read the
vectors of posts it already scored instead of running the encoder a second time.

:class:`Scorer` is the PyTorch backend (fp32, or bf16 on CPUs with native bf16).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from models.checkpoint import CheckpointMeta, read_meta
from models.cpu_stages import stage
from models.scoring.tokens import MODEL_INPUTS, CheckpointTokenizer


@dataclass(frozen=True, slots=True)
class Prediction:
    label: str
    probs: dict[str, float]
    confidence: float
    model_version: str


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """One scoring call: a prediction per text, and the sentence vectors of the same forward pass.

    ``vectors`` is ``(len(texts), hidden)`` float32 with unit rows, in input order; a row is NaN where
    no forward pass ran for that text (a de-duplicating cache answered it from an earlier call).
    """

    predictions: list[Prediction]
    vectors: np.ndarray


@dataclass(frozen=True, slots=True)
class MicroBatch:
    """Rows ``index`` of a call, padded to their longest: ``feed`` maps model input names to int64 arrays."""

    index: np.ndarray
    feed: dict[str, np.ndarray]


def model_inputs(texts: Sequence[str], meta: CheckpointMeta) -> Sequence[str]:
    """The texts as the model saw them in training."""
    if not meta.normalise_input:
        return texts
    from models.data import normalise_tweet

    return [normalise_tweet(t) for t in texts]


def decide(
    probs: np.ndarray,
    labels: Sequence[str],
    negative_label: str | None,
    threshold: float | None,
    class_bias: Sequence[float] | None = None,
) -> np.ndarray:
    """Class index per row: argmax, except rows where p(negative) >= threshold are negative.

    The tuned threshold trades precision for recall on the class brand teams care most about.
    Decisions are taken on the probabilities *without* the calibration's class bias: the model was
    trained with class weights to decide between classes evenly, and the bias (which makes the
    probabilities' means honest shares, see models/calibration.py) would move those decisions toward
    the majority classes. ``class_bias`` is the checkpoint's, in ``labels`` order.
    """
    if class_bias is not None:
        unbiased = probs * np.exp(-np.asarray(class_bias, dtype=np.float64))
        probs = unbiased / unbiased.sum(axis=1, keepdims=True)
    idx = probs.argmax(axis=1)
    if threshold is not None and negative_label in labels:
        neg = list(labels).index(negative_label)
        idx = np.where(probs[:, neg] >= threshold, neg, idx)
    return idx


def sentence_vectors(hidden: Any, attention_mask: Any) -> Any:
    """Mean of ``hidden`` (batch, tokens, dim) over the unmasked tokens, unit length, float32 (torch).

    The one definition of a post's sentence vector: the torch backend calls it on each forward pass and
    the ONNX export traces it into the graph, so every backend returns the same vectors.
    """
    import torch

    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
    return torch.nn.functional.normalize(pooled.float(), dim=1)


def calibrated_softmax(logits: np.ndarray, temperature: float, class_bias: Sequence[float] | None = None) -> np.ndarray:
    """``softmax(logits / temperature + class_bias)`` in float32 (the hot path; see models/calibration.py)."""
    z = logits.astype(np.float32) / temperature
    if class_bias is not None:
        z += np.asarray(class_bias, dtype=np.float32)
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


MIN_ROWS, TOKEN_STEP = 8, 16  # at batch size 16 and 128 tokens: 2 × 8 = 16 shapes in all, against up to 2,048


def bounded_shape(rows: int, width: int, batch_size: int, max_length: int) -> tuple[int, int]:
    """The (rows, tokens) a micro-batch is padded to: rows up to the next power of two from :data:`MIN_ROWS`
    (at most ``batch_size``), tokens up to the next multiple of :data:`TOKEN_STEP` (at most ``max_length``).

    Each shape costs OpenVINO a few MB per model for good, so the rows have few sizes whatever the batch
    size (8 and 16 at 16; 8 to 64 in four steps at 64). At batch size 16, rows in steps of 8 rather than
    4 hold 42 MB less per model at max length 128 for 7 % of the speed on calls of 1–64 posts (full calls:
    none); steps of 16 held 22 MB less again for 21 % (docs/benchmarks.md).
    """
    padded_rows = min(batch_size, max(MIN_ROWS, 1 << (rows - 1).bit_length()))
    padded_width = min(max(max_length, width), -(-width // TOKEN_STEP) * TOKEN_STEP)
    return max(rows, padded_rows), padded_width


def every_bounded_shape(batch_size: int, max_length: int) -> list[tuple[int, int]]:
    """Every (rows, tokens) :func:`bounded_shape` can give for micro-batches of up to ``batch_size`` posts."""
    return sorted({bounded_shape(rows, width, batch_size, max_length)
                   for rows in range(1, batch_size + 1) for width in range(1, max_length + 1)})


class MicroBatchScorer:
    """Length-sorted micro-batch scoring over one checkpoint. Thread-safe: one call runs at a time.

    Subclasses set ``backend`` and implement :meth:`_forward` (one micro-batch → logits and sentence
    vectors), or override :meth:`_run` to keep several micro-batches in flight.
    """

    backend: str = ""
    # Pad every micro-batch to one of a few shapes (:func:`bounded_shape`): for runtimes that keep state per input shape.
    bounded_shapes: bool = False

    def __init__(self, model_dir: str | Path, *, batch_size: int, max_length: int | None, input_names: Sequence[str] | None = None) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}")
        self.model_dir = Path(model_dir)
        self.meta: CheckpointMeta = read_meta(self.model_dir)
        self.batch_size = batch_size
        self.max_length = max_length or self.meta.max_length
        self.tokenizer = CheckpointTokenizer(self.model_dir, self.max_length)
        self.vector_dim = self.tokenizer.hidden_size
        names = input_names or self.tokenizer.model_input_names
        self.input_names = [n for n in names if n in MODEL_INPUTS]
        self._pad_id = self.tokenizer.pad_id
        self._left_pad = self.tokenizer.left_pad
        self._lock = threading.Lock()

    @property
    def version(self) -> str:
        return self.meta.version

    @property
    def labels(self) -> list[str]:
        return self.meta.labels

    def micro_batches(self, texts: Sequence[str], *, bounded_shapes: bool | None = None) -> list[MicroBatch]:
        """One tokenizer call for the whole list, then micro-batches of similar token counts.

        Sorting by tokens (not characters) and padding in numpy keeps padding minimal and spends
        one Rust tokenizer call per scoring call instead of one per micro-batch. With ``bounded_shapes``
        (default: the backend's) every feed has one of a few shapes (:func:`bounded_shape`).
        """
        bounded = self.bounded_shapes if bounded_shapes is None else bounded_shapes
        ids = self.tokenizer.ids(texts)
        lengths = np.fromiter((len(row) for row in ids), dtype=np.int64, count=len(ids))
        order = np.argsort(lengths, kind="stable")
        batches = []
        for start in range(0, len(ids), self.batch_size):
            index = order[start : start + self.batch_size]
            rows, width = len(index), int(lengths[index].max())
            if bounded:
                rows, width = bounded_shape(rows, width, self.batch_size, self.max_length)
            input_ids = np.full((rows, width), self._pad_id, dtype=np.int64)
            mask = np.zeros((rows, width), dtype=np.int64)
            for row, i in enumerate(index):
                n = int(lengths[i])
                cols = slice(width - n, width) if self._left_pad else slice(0, n)
                input_ids[row, cols] = ids[i]
                mask[row, cols] = 1
            # Filler rows repeat the first post (a real input, so no all-padding row); their outputs are dropped.
            input_ids[len(index):], mask[len(index):] = input_ids[0], mask[0]
            feed = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
            batches.append(MicroBatch(index, {name: feed[name] for name in self.input_names}))
        return batches

    def warm_up(self) -> None:
        """Claim the memory the model will hold for good before the first post, not after months of posts.

        Nothing to do here; a backend that keeps state per input shape overrides it.
        """

    def _forward(self, feed: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """One padded micro-batch → (logits, sentence vectors)."""
        raise NotImplementedError

    def _run(self, batches: Sequence[MicroBatch], logits: np.ndarray, vectors: np.ndarray) -> None:
        for batch in batches:
            batch_logits, batch_vectors = self._forward(batch.feed)
            n = len(batch.index)  # filler rows of a bounded shape come last
            logits[batch.index], vectors[batch.index] = batch_logits[:n], batch_vectors[:n]

    def outputs(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Raw (uncalibrated) logits ``(n, n_labels)`` and sentence vectors ``(n, hidden)``, in input order."""
        logits = np.empty((len(texts), len(self.labels)), dtype=np.float32)
        vectors = np.empty((len(texts), self.vector_dim), dtype=np.float32)
        if len(texts) == 0:
            return logits, vectors
        with self._lock:
            with stage("tokenise"):
                batches = self.micro_batches(model_inputs(texts, self.meta))
            with stage("forward"):
                self._run(batches, logits, vectors)
        return logits, vectors

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Raw (uncalibrated) logits, shape (len(texts), n_labels), in input order."""
        return self.outputs(texts)[0]

    def predict_proba_and_vectors(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated class probabilities and the sentence vectors of the same forward pass."""
        logits, vectors = self.outputs(texts)
        return calibrated_softmax(logits, self.meta.temperature, self.meta.class_bias), vectors

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated class probabilities, shape (len(texts), n_labels), in input order."""
        return self.predict_proba_and_vectors(texts)[0]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Sentence vectors only (still one forward pass: the logits come with them)."""
        return self.outputs(texts)[1]

    def score_with_vectors(self, texts: Sequence[str]) -> ScoreResult:
        probs, vectors = self.predict_proba_and_vectors(texts)
        return ScoreResult(predictions(probs, self.meta), vectors)

    def score(self, texts: Sequence[str]) -> list[Prediction]:
        return self.score_with_vectors(texts).predictions


def predictions(probs: np.ndarray, meta: CheckpointMeta) -> list[Prediction]:
    """The checkpoint's decision rule and :class:`Prediction` rows from calibrated probabilities."""
    chosen = decide(probs, meta.labels, meta.negative_label, meta.negative_threshold, meta.class_bias)
    labels = meta.labels
    version = meta.version
    return [
        Prediction(
            label=labels[k],
            probs={lab: float(p) for lab, p in zip(labels, row)},
            confidence=float(row.max()),
            model_version=version,
        )
        for k, row in zip(chosen, probs)
    ]


class Scorer(MicroBatchScorer):
    """The PyTorch backend: ``torch`` (fp32) or ``torch-bf16``."""

    def __init__(
        self,
        model_dir: str | Path,
        *,
        batch_size: int = 64,
        max_length: int | None = None,
        threads: int | None = None,
        device: str | None = None,
        dtype: Literal["float32", "bfloat16"] = "float32",
    ) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification

        if dtype not in ("float32", "bfloat16"):
            raise ValueError(f"dtype must be 'float32' or 'bfloat16'; got {dtype!r}")
        super().__init__(model_dir, batch_size=batch_size, max_length=max_length)
        self.backend = "torch-bf16" if dtype == "bfloat16" else "torch"
        if threads:
            torch.set_num_threads(threads)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        # bfloat16 weights and activations: about 2x fp32 on CPUs with native bf16 (AVX512-BF16, AMX)
        # at 99.9 % label agreement; on CPUs without it torch emulates bf16 and it is slower.
        self.model = (
            AutoModelForSequenceClassification.from_pretrained(self.model_dir)
            .to(self.device, dtype=getattr(torch, dtype))
            .eval()
        )
        self._torch = torch

    def _forward(self, feed: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        torch = self._torch
        with torch.inference_mode():
            inputs: dict[str, Any] = {k: torch.from_numpy(v).to(self.device) for k, v in feed.items()}
            out = self.model(**inputs, output_hidden_states=True)
            mask = inputs.get("attention_mask", torch.ones_like(inputs["input_ids"]))
            vectors = sentence_vectors(out.hidden_states[-1], mask)
            return out.logits.float().cpu().numpy(), vectors.cpu().numpy()
