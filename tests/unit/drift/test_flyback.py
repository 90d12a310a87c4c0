from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from drift.labels.active import ActiveConfig, ActiveSelector
from drift.labels.flyback import in_flyback, select_for_labelling
from tests.support.data import REPO, airline_rows
from tests.support.drift import scored


def test_rate_is_about_one_percent_on_real_tweet_ids() -> None:
    ids = [r["tweet_id"] for r in airline_rows()]
    ids += [f"synthetic-{i}" for i in range(100_000)]
    share = sum(in_flyback(i) for i in ids) / len(ids)
    # binomial sd at n≈115k, p=0.01 is 0.0003: ±5 sd
    assert abs(share - 0.01) < 0.0015, share
    assert 0.045 < sum(in_flyback(f"x{i}", rate=0.05) for i in range(20_000)) / 20_000 < 0.055


def test_same_choice_in_another_process_with_a_different_hash_seed() -> None:
    ids = [f"post-{i}" for i in range(5_000)]
    here = [i for i in ids if in_flyback(i)]
    code = "import json,sys; from drift.labels.flyback import in_flyback; ids=json.load(sys.stdin); print(json.dumps([i for i in ids if in_flyback(i)]))"
    out = subprocess.run(
        [sys.executable, "-c", code], input=json.dumps(ids), capture_output=True, text=True, check=True,
        cwd=REPO, env={**os.environ, "PYTHONHASHSEED": "12345"},
    )
    assert json.loads(out.stdout) == here and here


def test_rate_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="within"):
        in_flyback("a", rate=1.5)


def test_select_adds_actively_chosen_posts_outside_the_flyback_sample_and_dedupes() -> None:
    batch = [scored(i, "neutral", 0.4 + i / 1000, text=f"distinct post number {i} about topic {i % 37}") for i in range(400)]
    batch.append(scored(7, "neutral", 0.4, role="shadow"))  # same post scored by the shadow model
    active = ActiveSelector(ActiveConfig(budget_per_hour=3600, burst=4))
    requests = select_for_labelling(batch, rate=0.01, active=active, now=0.0)
    flyback = [r for r in requests if r.reason == "flyback"]
    uncertain = [r for r in requests if r.reason == "uncertain"]
    assert {r.post_id for r in flyback} == {p.post_id for p in batch[:400] if in_flyback(p.post_id)}
    assert len(uncertain) == 4 and not {r.post_id for r in uncertain} & {r.post_id for r in flyback}
    assert len({r.post_id for r in requests}) == len(requests)
    assert all(r.model_version == "m/1" and r.text for r in requests)
    assert [r.post_id for r in select_for_labelling(batch, rate=0.01)] == [r.post_id for r in flyback]  # no selector
