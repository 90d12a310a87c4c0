"""The terminal labeller and the CSV import, against the real broker (own topics per test)."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from streams.cli.services import label_command
from streams.services.labeller import import_labels, run_labeller
from streams.core.schemas import HumanLabel, LabelRequest
from streams.core.settings import Settings


@pytest.fixture
def settings(kafka_settings: Settings) -> Settings:
    return kafka_settings


def send_requests(settings: Settings, requests: list[LabelRequest]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    for r in requests:
        # One key → one partition, so the queue order is the send order.
        producer.send(settings.topic("label-requests"), key=b"same", value=r.model_dump_json().encode())
    producer.flush()
    producer.close()


def read_labels(settings: Settings, expected: int, timeout_s: float = 20.0) -> list[tuple[bytes, HumanLabel]]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        settings.topic("labels"), bootstrap_servers=settings.kafka_bootstrap, group_id=None,
        auto_offset_reset="earliest", consumer_timeout_ms=1500,
    )
    out: list[tuple[bytes, HumanLabel]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        out += [(m.key, HumanLabel.model_validate_json(m.value)) for m in consumer]
        if len(out) >= expected:
            break
    consumer.close()
    return out


def request(post_id: str, text: str) -> LabelRequest:
    return LabelRequest(
        post_id=post_id, brand="United", text=text, predicted_label="neutral", confidence=0.41,
        model_version="brandpulse-sentiment/v1", reason="uncertain",
    )


def test_stdin_session_publishes_labels_and_offers_each_post_once(settings: Settings) -> None:
    reqs = [
        request("p1", "lost my bag again, thanks for nothing"),
        request("p2", "flight was ok I guess"),
        request("p3", "crew was lovely"),
        request("p1", "lost my bag again, thanks for nothing"),  # re-delivered duplicate: not shown twice
        request("p4", "boarding now"),
        request("p5", "best airline ever"),
    ]
    send_requests(settings, reqs)

    out = io.StringIO()
    # p1 → negative; p2: a typo, then neutral; p3 skipped; p4 shown, then quit.
    summary = run_labeller(
        settings, annotator="alice", stdin=io.StringIO("n\nx\nu\ns\nq\n"), stdout=out, idle_s=3,
    )
    text = out.getvalue()
    assert "lost my bag again" in text and "model says: neutral (41%)" in text
    assert "'x' is not a choice" in text
    assert text.count("lost my bag again") == 1
    assert (summary.labelled, summary.skipped, summary.quit) == (2, 1, True)

    published = read_labels(settings, 2)  # keyed by post_id over 4 partitions: compare unordered
    assert sorted((k, h.post_id, h.label, h.annotator, h.text) for k, h in published) == [
        (b"p1", "p1", "negative", "alice", "lost my bag again, thanks for nothing"),
        (b"p2", "p2", "neutral", "alice", "flight was ok I guess"),
    ]

    # The next session (same labellers' group) starts at p4: p1..p3 were labelled or skipped.
    out2 = io.StringIO()
    summary2 = run_labeller(settings, annotator="bob", stdin=io.StringIO("p\n"), stdout=out2, idle_s=3)
    assert "boarding now" in out2.getvalue() and "lost my bag" not in out2.getvalue()
    assert summary2.labelled == 1 and summary2.quit  # end of input after p4 quits at p5
    published = read_labels(settings, 3)
    assert sorted((h.post_id, h.label, h.annotator) for _, h in published)[-1] == ("p4", "positive", "bob")
    assert len(published) == 3


def test_csv_import_publishes_valid_rows_and_reports_bad_ones(settings: Settings, tmp_path: Path) -> None:
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text(
        "post_id,label,text,annotator\n"
        "a1,negative,delayed 3 hours,carol\n"
        "a2,p,great service,\n"
        "a3,meh,what even,carol\n"
        ",positive,no id,carol\n"
        "a4,Neutral,,\n"
        "a1,positive,delayed 3 hours (changed my mind),carol\n",
        encoding="utf-8",
    )
    result = import_labels(csv_path, settings, annotator="dave")

    assert result.rows == 6 and result.published == 4
    assert result.errors == [
        "line 4 (post a3): label 'meh' is not one of negative, neutral, positive (or n/u/p)",
        "line 5: empty post_id",
    ]
    assert result.without_text == 1 and result.duplicate_post_ids == 1
    published = [h for _, h in read_labels(settings, 4)]
    # Same post_id → same partition, so a1's two labels keep their order: the later one wins downstream.
    assert sorted((h.post_id, h.label, h.annotator, h.text or "") for h in published) == [
        ("a1", "negative", "carol", "delayed 3 hours"),
        ("a1", "positive", "carol", "delayed 3 hours (changed my mind)"),
        ("a2", "positive", "dave", "great service"),
        ("a4", "neutral", "dave", ""),
    ]
    assert [h.label for h in published if h.post_id == "a1"] == ["negative", "positive"]


def test_label_command_import_exits_nonzero_on_bad_rows(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in (("KAFKA_URL", settings.kafka_url), ("TOPIC_PREFIX", settings.topic_prefix),
                       ("APP_ID", settings.app_id)):
        monkeypatch.setenv(f"BRANDPULSE_{key}", value)
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text("post_id,label,text\nb1,n,awful\nb2,happy,hmm\n")
    app = typer.Typer()
    app.command()(label_command)
    res = CliRunner().invoke(app, ["--import", str(csv_path), "--annotator", "erin"])
    assert res.exit_code == 1, res.output
    assert "published 1 of 2 rows (negative 1)" in res.output
    assert "label 'happy' is not one of" in res.output
    assert [h.post_id for _, h in read_labels(settings, 1)] == ["b1"]
