"""The inference API against a real fine-tuned checkpoint: scoring, limits, errors, readiness, metrics."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from models.scoring.scorer import Scorer
from streams.cli.services import api_command
from streams.services.api import ApiLimits, create_api
from streams.cli.services import dashboard_command
from streams.core.settings import Settings
from tests.support.waiting import wait_for

LIMITS = ApiLimits(max_texts=8, max_text_chars=500, max_body_bytes=4096)
NEGATIVE = "@united worst airline ever, lost my bag and nobody helps. Never again."
POSITIVE = "@JetBlue thank you so much, amazing crew and a great flight!"


@pytest.fixture(scope="module")
def scorer(trained_model: Path) -> Scorer:
    return Scorer(trained_model, batch_size=16, max_length=64)


@pytest.fixture(scope="module")
def client(scorer: Scorer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    app = create_api(Settings(data_dir=tmp_path_factory.mktemp("api")), scorer, limits=LIMITS)
    with TestClient(app) as c:
        yield c


def samples(client: TestClient) -> dict[tuple[str, str], float]:
    text = client.get("/metrics").text
    return {
        (s.name, json.dumps(s.labels, sort_keys=True)): s.value
        for family in text_string_to_metric_families(text) for s in family.samples
    }


def test_scores_a_batch_like_the_scorer_does(client: TestClient, scorer: Scorer) -> None:
    texts = [NEGATIVE, POSITIVE, "  flight 123 departs at 5pm  "]
    resp = client.post("/v1/sentiment", json={"texts": texts})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["model_version"] == scorer.version and body["labels"] == scorer.labels
    neg, pos = (r["probabilities"] for r in body["results"][:2])
    assert neg["negative"] > pos["negative"] and pos["positive"] > neg["positive"]  # a trained model, not noise
    direct = scorer.score([t.strip() for t in texts])
    for got, want in zip(body["results"], direct):
        assert got["label"] == want.label
        assert got["probabilities"] == pytest.approx(want.probs, abs=1e-5)
        assert sum(got["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
        assert got["confidence"] == pytest.approx(max(got["probabilities"].values()))
    assert body["took_ms"] > 0


def test_health_and_readiness(client: TestClient, scorer: Scorer) -> None:
    assert client.get("/healthz").json() == {"ok": True}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["model_version"] == scorer.version


@pytest.mark.parametrize(
    ("payload", "field", "fragment"),
    [
        ({"texts": []}, "texts", "at least 1 item"),
        ({"texts": ["ok"] * 9}, "texts", "at most 8 items"),
        ({"texts": ["x" * 501]}, "texts.0", "at most 500 characters"),
        ({"texts": ["fine", "   "]}, "texts.1", "at least 1 character"),
        ({"texts": "just one string"}, "texts", "valid list"),
        ({"text": ["wrong key"]}, "texts", "Field required"),
        ({"texts": ["ok"], "model": "other"}, "model", "Extra inputs are not permitted"),
        ({"texts": [None]}, "texts.0", "valid string"),
    ],
)
def test_bad_requests_get_a_clear_422(client: TestClient, payload: object, field: str, fragment: str) -> None:
    resp = client.post("/v1/sentiment", json=payload)
    assert resp.status_code == 422
    body = resp.json()
    assert "1 to 8 non-empty texts of at most 500 characters" in body["error"]
    assert any(d["field"] == field and fragment in d["message"] for d in body["details"]), body


def test_malformed_json_and_lone_surrogates_are_422(client: TestClient) -> None:
    resp = client.post("/v1/sentiment", content=b'{"texts": ["unterminated', headers={"content-type": "application/json"})
    assert resp.status_code == 422
    assert resp.json()["details"][0]["field"] == "body" and "JSON decode error at character" in resp.json()["details"][0]["message"]
    # A lone surrogate is valid JSON but not text the tokenizer (or ClickHouse) can take.
    resp = client.post("/v1/sentiment", content=b'{"texts": ["ok", "bad \\ud800 text"]}', headers={"content-type": "application/json"})
    assert resp.status_code == 422
    assert resp.json()["details"][0]["field"] == "texts.1" and "unicode" in resp.json()["details"][0]["message"]


@pytest.mark.parametrize(
    "body",
    [b'{"texts": ["caf\xe9"]}', "{\"texts\": [\"café\"]}".encode("latin-1"), b"\xff\xfe", b"[" * 1200 + b"]" * 1200,
     b'{"texts": [' + b"[" * 1200 + b"]" * 1200 + b"]}"],
)
def test_undecodable_bodies_are_422_with_an_error(client: TestClient, body: bytes) -> None:
    resp = client.post("/v1/sentiment", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == 422
    assert "error" in resp.json() and resp.json()["details"][0]["field"] == "body", resp.json()


def test_oversized_bodies_are_refused_with_413(client: TestClient) -> None:
    big = json.dumps({"texts": ["y" * 400] * 11}).encode()
    assert len(big) > LIMITS.max_body_bytes
    resp = client.post("/v1/sentiment", content=big, headers={"content-type": "application/json"})
    assert resp.status_code == 413 and "larger than 4096 bytes" in resp.json()["error"]

    def chunked():  # no Content-Length: the limit must still hold while the body streams in
        for i in range(0, len(big), 1000):
            yield big[i : i + 1000]

    resp = client.post("/v1/sentiment", content=chunked(), headers={"content-type": "application/json"})
    assert resp.status_code == 413
    small = json.dumps({"texts": [POSITIVE]}).encode()
    resp = client.post("/v1/sentiment", content=iter([small[:10], small[10:]]), headers={"content-type": "application/json"})
    assert resp.status_code == 200 and len(resp.json()["results"]) == 1


def test_metrics_count_what_was_served(client: TestClient, scorer: Scorer) -> None:
    before = samples(client)
    ok = ('brandpulse_api_requests_total', json.dumps({"path": "/v1/sentiment", "status": "200"}, sort_keys=True))
    texts = ('brandpulse_texts_scored_total', json.dumps({"source": "api"}, sort_keys=True))
    bad = ('brandpulse_api_requests_total', json.dumps({"path": "/v1/sentiment", "status": "422"}, sort_keys=True))
    client.post("/v1/sentiment", json={"texts": [NEGATIVE, POSITIVE, NEGATIVE]})
    client.post("/v1/sentiment", json={"texts": []})
    after = samples(client)
    assert after[ok] - before.get(ok, 0) == 1
    assert after[texts] - before.get(texts, 0) == 3
    assert after[bad] - before.get(bad, 0) == 1
    assert after[("brandpulse_model_info", json.dumps({"role": "champion", "version": scorer.version}, sort_keys=True))] == 1
    assert after[("brandpulse_ready", "{}")] == 1
    assert client.get("/metrics").headers["content-type"].startswith("text/plain")


def test_openapi_documents_the_limits(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/v1/sentiment" in spec["paths"]
    texts = spec["components"]["schemas"]["SentimentRequest"]["properties"]["texts"]
    assert texts["maxItems"] == 8 and texts["minItems"] == 1 and texts["items"]["maxLength"] == 500
    assert client.get("/docs").status_code == 200


def test_waits_for_a_model_then_serves_it(trained_model: Path, tmp_path: Path) -> None:
    """No checkpoint yet → up but not ready, with the reason; once one appears it is picked up."""
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    settings = Settings(data_dir=tmp_path, model_ref=str(model_dir), max_length=64, backend="torch")
    with TestClient(create_api(settings, limits=LIMITS, refresh_s=0.3)) as client:
        wait_for(lambda: "not a brandpulse checkpoint" in client.get("/readyz").json().get("error", ""), 30,
                 "the API to say why it is not ready")
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "not a brandpulse checkpoint" in ready.json()["error"]
        resp = client.post("/v1/sentiment", json={"texts": ["hello"]})
        assert resp.status_code == 503 and "no model is loaded" in resp.json()["error"]
        assert client.get("/healthz").status_code == 200
        shutil.copytree(trained_model, model_dir, dirs_exist_ok=True)
        wait_for(lambda: client.get("/readyz").status_code == 200, 120, "the API to load the checkpoint that appeared")
        resp = client.post("/v1/sentiment", json={"texts": [NEGATIVE, POSITIVE]})
        assert resp.status_code == 200
        neg, pos = (r["probabilities"] for r in resp.json()["results"])
        assert neg["negative"] > pos["negative"]


def test_cli_commands_register_on_typer() -> None:
    app = typer.Typer()
    app.command("api")(api_command)
    app.command("dashboard")(dashboard_command)
    runner = CliRunner()
    api_help = runner.invoke(app, ["api", "--help"])
    assert api_help.exit_code == 0 and "--max-texts" in api_help.output and "--port" in api_help.output
    dash_help = runner.invoke(app, ["dashboard", "--help"])
    assert dash_help.exit_code == 0 and "--host" in dash_help.output
