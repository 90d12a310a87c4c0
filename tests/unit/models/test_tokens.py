"""The scorer's own tokenizer gives what transformers' fast tokenizer gives, without importing torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

from models.encoders import minilm_dir
from models.scoring.tokens import CheckpointTokenizer

TEXTS = [
    "@united thanks for nothing, 3 hours on the tarmac!!! #fail http://t.co/x1",
    "",
    "Ça marche très bien 😀😀",
    "word " * 300,  # truncated
    "  spaces\tand\nnewlines  ",
    "ÅNGSTRÖM naïve café",
]


@pytest.fixture(scope="module")
def reference():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm_dir())


def test_ids_match_transformers(reference) -> None:
    expected = reference(TEXTS, truncation=True, max_length=64)["input_ids"]
    assert CheckpointTokenizer(minilm_dir(), 64).ids(TEXTS) == expected


def test_input_names_match_transformers(reference) -> None:
    assert set(CheckpointTokenizer(minilm_dir(), 64).model_input_names) == set(reference.model_input_names)


def test_pad_id_matches_transformers(reference) -> None:
    assert CheckpointTokenizer(minilm_dir(), 64).pad_id == reference.pad_token_id


def test_loading_imports_no_torch() -> None:
    code = ("import sys; from models.encoders import minilm_dir; from models.scoring.tokens import CheckpointTokenizer; "
            "CheckpointTokenizer(minilm_dir(), 64).ids(['hello']); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_a_distilbert_style_config_gives_its_width(tmp_path) -> None:
    import shutil

    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(minilm_dir() / name, tmp_path / name)
    (tmp_path / "config.json").write_text('{"model_type": "distilbert", "dim": 768}')
    assert CheckpointTokenizer(tmp_path, 64).hidden_size == 768
