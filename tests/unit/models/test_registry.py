"""The MLflow registry in a temporary data dir: register, alias, resolve, promote, list."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from models.checkpoint import CheckpointMeta, read_meta, write_meta
from models.registry import (
    ModelNotFound,
    alias_version,
    list_models,
    log_and_register,
    promote,
    resolve_model,
    set_alias,
    tagged_versions,
)
from models.scoring.scorer import Scorer
from models.train import load_untrained
from streams.core.settings import Settings
from streams.core.configs import registry_config

LABELS = ["negative", "neutral", "positive"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (untrained-head) MiniLM checkpoint: registry behaviour does not depend on the weights."""
    out = tmp_path_factory.mktemp("ckpt")
    tokenizer, model = load_untrained("minilm", LABELS, out / "encoders")
    model.save_pretrained(out / "model")
    tokenizer.save_pretrained(out / "model")
    write_meta(out / "model", CheckpointMeta(version="local/test", labels=LABELS, max_length=64, metrics={"macro_f1": 0.5}))
    return out / "model"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "state")


def test_register_alias_resolve_promote(
    checkpoint: Path, settings: Settings, tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelNotFound, match="nothing is registered yet"):
        resolve_model("champion", registry=registry_config(settings))
    assert alias_version("champion", registry=registry_config(settings)) is None
    assert list_models(registry=registry_config(settings)) == []

    v1 = log_and_register(
        checkpoint, registry=registry_config(settings), params={"lr": 1e-4, "base_model": "minilm"},
        metrics={"macro_f1": 0.61, "negative_recall": 0.7}, alias="champion",
        history=[{"step": 10, "eval_macro_f1": 0.4}, {"step": 20, "eval_macro_f1": 0.6}],
    )
    assert v1 == "brandpulse-sentiment/v1"
    assert capfd.readouterr().out == ""  # MLflow stays quiet on stdout

    champion_dir = resolve_model("champion", registry=registry_config(settings))
    assert champion_dir.is_relative_to(settings.state_dir)
    assert read_meta(champion_dir).version == v1  # the registered copy names its own registry version
    assert read_meta(checkpoint).version == "local/test"  # the source checkpoint is left alone
    assert Scorer(champion_dir).version == v1

    v2 = log_and_register(checkpoint, registry=registry_config(settings), params={}, metrics={"macro_f1": 0.7}, alias="challenger")
    assert v2 == "brandpulse-sentiment/v2"
    for ref in ("challenger", "v2", "2", "brandpulse-sentiment/v2", "models:/brandpulse-sentiment/2",
                "models:/brandpulse-sentiment@challenger"):
        assert read_meta(resolve_model(ref, registry=registry_config(settings))).version == v2, ref
    assert resolve_model(str(checkpoint), registry=registry_config(settings)) == checkpoint.resolve()

    assert promote(registry=registry_config(settings)) == v2
    assert alias_version("champion", registry=registry_config(settings)) == v2
    assert alias_version("previous", registry=registry_config(settings)) == v1
    assert alias_version("challenger", registry=registry_config(settings)) is None  # the shadow run is over

    listed = list_models(registry=registry_config(settings))
    assert [m.version for m in listed] == [v2, v1]
    assert listed[0].aliases == ["champion"] and listed[1].aliases == ["previous"]
    assert listed[1].metrics["macro_f1"] == pytest.approx(0.61)
    assert listed[1].metrics["eval_macro_f1"] == pytest.approx(0.6)  # last value of the step history

    assert set_alias("previous", "champion", registry=registry_config(settings)) == v1  # rollback
    assert read_meta(resolve_model("champion", registry=registry_config(settings))).version == v1

    # Artifacts live in the data dir, never in ./mlruns of whatever directory the CLI ran from.
    assert not (tmp_path / "mlruns").exists()
    assert any((settings.state_dir / "mlartifacts").rglob("model.safetensors"))


def test_bad_references_explain_what_exists(checkpoint: Path, settings: Settings) -> None:
    log_and_register(checkpoint, registry=registry_config(settings), params={}, metrics={})
    with pytest.raises(ModelNotFound, match=r"no version 9 .*registered versions: \[1\]"):
        resolve_model("v9", registry=registry_config(settings))
    with pytest.raises(ModelNotFound, match="no alias 'champion'"):
        promote("champion", registry=registry_config(settings))
    with pytest.raises(ModelNotFound, match="not a valid model URI"):
        resolve_model("models:/brandpulse-sentiment/latest", registry=registry_config(settings))
    empty = checkpoint.parent / "not-a-checkpoint"
    empty.mkdir(exist_ok=True)
    with pytest.raises(ModelNotFound, match="not a brandpulse checkpoint"):
        resolve_model(str(empty), registry=registry_config(settings))
    assert os.listdir(settings.state_dir)  # the store was created under the data dir


def test_a_version_registered_by_another_process_in_between_still_names_its_own_number(
    checkpoint: Path, settings: Settings
) -> None:
    registry = registry_config(settings)

    def meanwhile(phase: str) -> None:
        if phase == "upload":  # our run exists with number 1 in mind; someone else takes 1 first
            log_and_register(checkpoint, registry=registry, params={}, metrics={})

    ours = log_and_register(checkpoint, registry=registry, params={}, metrics={}, on_phase=meanwhile,
                            tags={"retrain_request": "r-1"})
    found = tagged_versions("retrain_request", "r-1", registry=registry)
    assert (ours, read_meta(resolve_model(ours, registry=registry)).version, [(f.version, f.run_status) for f in found]) == (
        "brandpulse-sentiment/v2", "brandpulse-sentiment/v2", [("brandpulse-sentiment/v2", "FINISHED")]
    )


def test_processes_sharing_a_data_dir_download_a_version_at_once_and_each_reads_it_whole(
    checkpoint: Path, settings: Settings
) -> None:
    """Split roles started together on one host resolve the same version at the same moment; a later
    download once replaced the folder a starting worker was reading (no tokenizer.json)."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from models.scoring.tokens import CheckpointTokenizer

    registry = registry_config(settings)
    log_and_register(checkpoint, registry=registry, params={}, metrics={}, alias="champion")
    start = Barrier(4)

    def resolve_and_read(_: int) -> tuple[Path, int]:
        start.wait()
        path = resolve_model("champion", registry=registry)
        return path, CheckpointTokenizer(path, 64).hidden_size

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(resolve_and_read, range(4)))
    assert len(set(results)) == 1 and results[0][1] == 384, results


def test_a_leftover_folder_without_the_metadata_is_replaced_by_the_download(checkpoint: Path, settings: Settings) -> None:
    registry = registry_config(settings)
    version = log_and_register(checkpoint, registry=registry, params={}, metrics={}, alias="champion")
    leftover = settings.state_dir / "models" / "brandpulse-sentiment" / "v1"
    leftover.mkdir(parents=True)
    (leftover / "config.json").write_text("{}")  # half a checkpoint, no brandpulse.json
    resolved = resolve_model("champion", registry=registry)
    assert (resolved, read_meta(resolved).version) == (leftover, version)
