"""Token ids for the scoring backends, read straight from a checkpoint's ``tokenizer.json``.

transformers' fast tokenizer is this same Rust ``tokenizers`` object with Python around it, but
importing transformers imports torch: about 400 MB in every serving process, which an ONNX or
OpenVINO worker never uses. Loading the file directly keeps serving processes free of both, and
gives the same ids (tests/unit/models/test_tokens.py compares them with ``AutoTokenizer``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from tokenizers import Tokenizer

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _token(value: object) -> str | None:
    """A special token as tokenizer_config.json writes it: a string or ``{"content": ...}``."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


class CheckpointTokenizer:
    """Truncating, unpadded tokenisation of a checkpoint's texts (the scorer pads in numpy)."""

    def __init__(self, model_dir: str | Path, max_length: int) -> None:
        model_dir = Path(model_dir)
        path = model_dir / "tokenizer.json"
        if not path.is_file():
            raise FileNotFoundError(f"{model_dir} has no tokenizer.json: save the checkpoint with a fast tokenizer")
        settings = _read_json(model_dir / "tokenizer_config.json")
        config = _read_json(model_dir / "config.json")
        self._tokenizer = Tokenizer.from_file(str(path))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length, direction=settings.get("truncation_side", "right"))
        pad = _token(settings.get("pad_token"))
        pad_id = self._tokenizer.token_to_id(pad) if pad is not None else None
        self.pad_id: int = int(pad_id or 0)
        self.left_pad: bool = settings.get("padding_side", "right") == "left"
        self.hidden_size: int = _hidden_size(config, model_dir)
        # What transformers' tokenizer classes return: BERT-style encoders (segment embeddings of size
        # 2) take token_type_ids; RoBERTa (size 1) and MPNet (none) do not.
        names = settings.get("model_input_names")
        if not names:
            names = ["input_ids", "attention_mask"] + (["token_type_ids"] if config.get("type_vocab_size", 0) > 1 else [])
        self.model_input_names: list[str] = [n for n in names if n in MODEL_INPUTS]

    def ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids with the special tokens, truncated to ``max_length``, one list per text."""
        return [e.ids for e in self._tokenizer.encode_batch(list(texts), add_special_tokens=True)]


def _hidden_size(config: dict, model_dir: Path) -> int:
    """The encoder's width under the names config.json files use (transformers maps them all to ``hidden_size``)."""
    for key in ("hidden_size", "dim", "d_model"):  # BERT/MPNet/RoBERTa, DistilBERT, BART-style
        if isinstance(config.get(key), int):
            return config[key]
    raise ValueError(f"{model_dir}/config.json names no hidden size (hidden_size, dim or d_model)")


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}
