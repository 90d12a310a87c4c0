"""Slack messages without a Slack endpoint: the printed fallback, URL checks, the Block Kit payload, and every
message kind rendered from hostile input stays inert and within Slack's limits."""

from __future__ import annotations

import json
import re
import typing

import pytest
from pydantic import SecretStr

from drift.records import AlertKind
from streams.slack import messages
from streams.slack.messages import alert_message, brand_message, digest_messages
from streams.slack.notifier import SlackNotifier
from streams.slack.text import clean
from tests.support.slack import HOSTILE, brand_event, every_message, model_alerts, outcome_alerts, sample_alert, violations


def test_without_url_prints_the_alert(capsys: pytest.CaptureFixture[str]) -> None:
    SlackNotifier(None).notify(alert_message(sample_alert()))
    out = capsys.readouterr().out
    assert "Label-distribution drift" in out and "brandpulse-sentiment/3" in out and "acme" in out


def test_bad_url_is_rejected_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="https://") as err:
        SlackNotifier(SecretStr("hooks.slack.com/services/T0/B0/supersecret"))
    assert "supersecret" not in str(err.value)
    assert "supersecret" not in repr(SlackNotifier(SecretStr("https://hooks.slack.com/services/T0/B0/supersecret")))


def test_block_kit_payload_has_what_how_much_since_samples_and_next_steps() -> None:
    blocks = alert_message(sample_alert()).payload()["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section", "section", "section", "context", "context"]
    assert blocks[0]["text"]["text"].endswith("Label-distribution drift") and len(blocks[0]["text"]["text"]) <= 150
    assert "negative 30%→52%" in blocks[1]["text"]["text"]
    fields = " ".join(f["text"] for f in blocks[2]["fields"])
    for part in ("*Model version*", "brandpulse-sentiment/3", "*Scope*", "acme", "0.143", "threshold 0.1",
                 "*Window*", "500 posts", "*Since*", "<!date^1740830400^"):
        assert part in fields, part
    assert "`p1`" in blocks[3]["text"]["text"] and "`p&lt;3&gt;`" in blocks[3]["text"]["text"]
    assert "retrain" in blocks[4]["elements"][0]["text"].lower()
    assert "alert-1" in blocks[5]["elements"][0]["text"]
    json.dumps(blocks)  # serialisable as-is
    assert "all brands" in alert_message(sample_alert(brand=None)).payload()["blocks"][2]["fields"][1]["text"]


@pytest.mark.parametrize("h", HOSTILE, ids=[f"hostile{i}" for i in range(len(HOSTILE))])
def test_every_kind_with_hostile_input_is_inert_and_within_slacks_limits(h: str) -> None:
    rendered = every_message(h)
    assert len(rendered) == 33  # 11 alert kinds, 4 episode and retrain variants, 4 retrain outcomes, 2 promotions, 9 brand events, 3 digest parts
    assert [v for m in rendered for v in violations(m.payload())] == []


@pytest.mark.parametrize("h", HOSTILE, ids=[f"hostile{i}" for i in range(len(HOSTILE))])
def test_a_digest_of_60_hostile_events_lists_every_one(h: str) -> None:
    parts = digest_messages(h, [brand_event(h, i) for i in range(60)])
    listed = [int(x) for m in parts for x in re.findall(r"event-(\d{3})", json.dumps(m.payload()["blocks"]))]
    assert sorted(listed) == list(range(60))


def test_messages_show_their_values_cleaned_not_dropped() -> None:
    hostile = HOSTILE[0] + " " + HOSTILE[5]
    payload = json.dumps(alert_message(model_alerts(hostile)[0]).payload(), ensure_ascii=False)
    assert "&lt;!channel&gt;" in payload and "&lt;@U123&gt;" in payload and "&lt;https://evil.example/x|click here&gt;" in payload
    assert "Uni\ufffdted" in payload  # the hidden character is shown, not silently removed
    assert "p&lt;1e-300" in brand_message(brand_event("United")).text  # the real escalation wording, escaped


def test_long_fields_are_cut_with_an_ellipsis_on_character_boundaries() -> None:
    blocks = alert_message(model_alerts("&" * 10_000)[0]).payload()["blocks"]
    body = blocks[1]["text"]["text"]
    assert body.endswith("&amp;…") and len(body) <= messages.SECTION_MAX and body.count("&amp;") == (len(body) - 1) // 5
    emoji = alert_message(model_alerts("👩\u200d💻" * 3_000)[0]).payload()["blocks"][1]["text"]["text"]
    assert emoji.endswith("💻…")  # never a dangling joiner


def test_hidden_characters_are_shown_once_per_run_not_expanded() -> None:
    assert clean("a\u200b\u200b\u202eb\x00c") == "a\ufffdb\ufffdc"
    assert len(alert_message(model_alerts("\u200b" * 10_000)[0]).text) < 300


def test_digest_of_60_says_how_many_and_lists_every_one_once() -> None:
    events = [brand_event("<!channel>", i) for i in range(60)]
    parts = digest_messages("team", events)
    listed = [int(x) for m in parts for x in re.findall(r"event-(\d{3})", json.dumps(m.payload()["blocks"]))]
    assert sorted(listed) == list(range(60))  # 0 silently dropped, none twice
    assert all("60 brand alerts" in m.text and "60 brand alerts" in m.payload()["blocks"][0]["text"]["text"] for m in parts)
    assert [m.payload()["blocks"][-1]["elements"][0]["text"].split("· ")[1] for m in parts] == [
        "alerts 1–20 of 60 ", "alerts 21–40 of 60 ", "alerts 41–60 of 60 "]


def test_more_examples_and_post_ids_than_shown_are_counted() -> None:
    brand = json.dumps(brand_message(brand_event("x")).payload(), ensure_ascii=False)
    assert "…and 55 more posts" in brand
    model = json.dumps(alert_message(model_alerts("x")[0]).payload(), ensure_ascii=False)
    assert "…and 50 more posts" in model


def test_every_alert_kind_and_retrain_status_has_a_title() -> None:
    assert set(messages.KINDS) == set(typing.get_args(AlertKind))
    titles = {m.payload()["blocks"][0]["text"]["text"] for m in map(alert_message, outcome_alerts("m/3"))}
    assert {"🧪 Challenger registered", "🚫 Retrained model rejected", "⏭️ Retrain skipped", "💥 Retrain failed",
            "🚀 Model promoted"} == titles


def test_a_model_alert_names_the_retrain_it_opened_or_joined() -> None:
    alert = sample_alert().model_copy(update={"kind": "input_drift", "retrain_id": "r42", "retrain_opened": True})
    opened, joined = alert_message(alert), alert_message(alert.model_copy(update={"retrain_opened": False}))
    assert (opened.payload()["blocks"][2]["fields"][-1]["text"], joined.payload()["blocks"][2]["fields"][-1]["text"]) == (
        "*Retrain*\nopened retrain `r42`", "*Retrain*\njoined retrain `r42`")
    assert opened.text.endswith("threshold 0.1; opened retrain r42)")


def test_a_resolved_episode_has_its_own_title_scope_and_next_step() -> None:
    alert = sample_alert().model_copy(update={"alert_id": "end-1", "resolution": "quiet", "resolves": "alert-1",
                                              "message": "Resolved: 3 repeats suppressed."})
    blocks = alert_message(alert).payload()["blocks"]
    assert [blocks[0]["text"]["text"], blocks[1]["text"]["text"], [f["text"] for f in blocks[2]["fields"]][1:],
            blocks[3]["elements"][0]["text"]] == [
        "✅ Label-distribution drift resolved", "Resolved: 3 repeats suppressed.",
        ["*Scope*\nbrand `acme`", "*Open since*\n<!date^1740830400^{date_short_pretty} {time}|2025-03-01T12:00+00:00>",
         "*Opened by*\n`alert-1`"],
        "*What happens next:* Nothing to do. A new alert of this kind opens a new episode once the cool-down is over."]
