"""CPU shares by stage from two /cpu reports of a worker (bench pipeline's table)."""

from __future__ import annotations

from benchmarks.cpu_shares import UNSTAGED, cpu_by_stage, table_rows

BEFORE = {"process": 10.0, "stages": {"forward": 2.0, "store": 1.0},
          "threads": {"python": 6.0, "native_unnamed": 3.0, "native_named": 1.0}}
AFTER = {"process": 30.0, "stages": {"forward": 8.0, "store": 3.0, "tokenise": 1.0},
         "threads": {"python": 16.0, "native_unnamed": 8.0, "native_named": 2.0}}


def test_every_row_is_a_share_of_the_process_cpu_and_they_add_up_to_all_of_it() -> None:
    report = cpu_by_stage(BEFORE, AFTER)
    assert report["total_s"] == 20.0 and {n: r["cpu_s"] for n, r in report["rows"].items()} == {
        "tokenise": 1.0, "forward": 6.0, "store": 2.0,
        UNSTAGED["python"]: 1.0, UNSTAGED["native_unnamed"]: 5.0, UNSTAGED["native_named"]: 1.0, UNSTAGED["ended"]: 4.0,
    }


def test_the_table_lists_rows_in_stage_order_with_a_dash_where_a_process_has_none() -> None:
    store_only = cpu_by_stage({"process": 0.0, "stages": {}}, {"process": 4.0, "stages": {"store": 1.0}})
    rows = table_rows({"worker": cpu_by_stage(BEFORE, AFTER), "store": store_only})
    assert rows[:3] == [("tokenise", ["5.0%", "—"]), ("forward", ["30.0%", "—"]), ("store", ["10.0%", "25.0%"])]


def test_the_report_counts_the_stages_timed_during_the_run() -> None:
    before = BEFORE | {"stage_calls": {"forward": 5, "store": 2}}
    after = AFTER | {"stage_calls": {"forward": 9, "store": 3, "tokenise": 4}}
    assert cpu_by_stage(before, after)["stage_calls"] == 9
