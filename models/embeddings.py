"""Sentence embeddings from a checkpoint's own encoder, for input-drift checks.

The served backends return logits only (that is what makes them fast), so the encoder is loaded a
second time in torch, without the classification head: mean-pooled last hidden states over the
attention mask, L2-normalised — how the sentence-transformers MiniLM and MPNet encoders the default
models start from were trained to be compared. Drift is measured in the space the model reads in,
so a shift the text descriptors miss (same length and vocabulary, other topics) still shows.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models.checkpoint import read_meta


class SentenceEmbedder:
    """``texts → (n, hidden)`` float32 unit vectors from ``model_dir``'s encoder. Thread-safe."""

    def __init__(self, model_dir: str | Path, *, batch_size: int = 64) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.model_dir = Path(model_dir)
        self.meta = read_meta(self.model_dir)
        self.batch_size = batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        # AutoModel takes the encoder's weights from the sequence-classification checkpoint and leaves the head.
        self.model = AutoModel.from_pretrained(self.model_dir).eval()
        self._torch = torch
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        torch = self._torch
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # less padding per batch
        with self._lock, torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                idx = order[start:start + self.batch_size]
                enc = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                     max_length=self.meta.max_length, return_tensors="pt")
                hidden = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
                out[idx] = torch.nn.functional.normalize(pooled, dim=1).float().numpy()
        return out
