"""The inference API: score texts with the current champion over HTTP.

``POST /v1/sentiment`` takes a batch of texts and returns labels, calibrated probabilities and the
model version; ``/healthz`` says the process is alive, ``/readyz`` that a model is loaded,
``/metrics`` is Prometheus text, ``/docs`` the OpenAPI UI. With ``web_token`` set every path but the
two health probes needs it (:mod:`streams.core.web_auth`). Limits (texts per request, characters
per text, body bytes) are enforced before scoring and answered with a 4xx saying what to change.

The champion is resolved through the registry in the background, so the API is up (and says why
it is not ready) while there is no model yet; it re-resolves the reference periodically and swaps
in a newly promoted champion without a restart.
"""

# No ``from __future__ import annotations`` here: FastAPI must see the request model built inside
# create_api as a real class, not as the string "Body".
import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Annotated, Any, AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

from models.checkpoint import read_meta
from models.scoring.factory import SentimentScorer
from streams.core.metrics import Metrics
from streams.core.model_slots import LoadedModel, load_model, resolve_checkpoint
from streams.core.schemas import DEFAULT_MAX_TEXT_CHARS, MAX_TEXT_CHARS_BOUND
from streams.core.settings import Settings
from streams.core.web_auth import AsgiGuard

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


class ApiLimits(BaseModel):
    max_texts: int = Field(default=64, ge=1, le=4096, description="Texts per request")
    max_text_chars: int = Field(default=DEFAULT_MAX_TEXT_CHARS, ge=1, le=MAX_TEXT_CHARS_BOUND, description="Characters per text")
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024, description="Request body size")


class SentimentResult(BaseModel):
    label: str
    probabilities: dict[str, float]
    confidence: float


class SentimentResponse(BaseModel):
    model_version: str
    labels: list[str] = Field(description="Class names in the order of the probabilities")
    results: list[SentimentResult] = Field(description="One result per input text, in input order")
    took_ms: float


class ErrorResponse(BaseModel):
    error: str
    details: list[dict[str, Any]] = Field(default_factory=list)


def _problem(error: dict[str, Any]) -> dict[str, Any]:
    """One validation error as {field, message}; JSON syntax errors point at the body and character."""
    if error["type"] == "json_invalid":
        where = error["loc"][-1]
        return {"field": "body", "message": f"JSON decode error at character {where}: {error.get('ctx', {}).get('error', 'invalid JSON')}"}
    field = ".".join(str(p) for p in error["loc"] if p != "body") or "body"
    return {"field": field, "message": error["msg"]}


def request_model(limits: ApiLimits) -> type[BaseModel]:
    """The request body model with this app's limits, so /docs shows them too."""
    text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=limits.max_text_chars)]
    return create_model(
        "SentimentRequest",
        __config__=ConfigDict(extra="forbid", json_schema_extra={"examples": [{"texts": ["@united lost my bag again", "Great crew, thanks @JetBlue!"]}]}),
        texts=(list[text], Field(min_length=1, max_length=limits.max_texts, description=f"1..{limits.max_texts} texts of at most {limits.max_text_chars} characters")),
    )


class BodyLimit:
    """Rejects bodies over ``max_bytes`` with 413 before any of it is parsed.

    Checks Content-Length up front and counts chunked bodies as they arrive, so a client cannot
    make the server buffer an unbounded body by leaving the length out.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._reject(send)
            return
        if length is not None:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._reject(send)
                return
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _reject(self, send: Callable[[Message], Awaitable[None]]) -> None:
        body = json.dumps(
            {"error": f"request body is larger than {self.max_bytes} bytes; send fewer or shorter texts per request"}
        ).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class ModelHolder:
    """The scorer the API serves, loaded and refreshed in the background."""

    def __init__(self, settings: Settings, scorer: SentimentScorer | None) -> None:
        self.settings = settings
        self.scorer = scorer
        self.backend: dict[str, Any] | None = None
        self.source: Path | None = None
        self.error: str | None = None if scorer else "model not loaded yet"

    async def refresh(self) -> None:
        """Load the model the reference points at now, if it differs from the one served."""
        try:
            path = await asyncio.to_thread(resolve_checkpoint, self.settings.model_ref, self.settings)
            # A registry may download every version to the same directory: compare versions too.
            version = read_meta(path).version
            if self.scorer is not None and path == self.source and version == self.scorer.version:
                return
            loaded: LoadedModel = await asyncio.to_thread(load_model, str(path), self.settings)
        except Exception as exc:  # noqa: BLE001 - keep serving the old model; /readyz reports why
            self.error = f"cannot load model {self.settings.model_ref!r}: {exc}"
            log.warning("%s", self.error)
            return
        old = self.scorer.version if self.scorer else None
        self.scorer, self.backend, self.source, self.error = loaded.scorer, loaded.describe(), path, None
        log.info("serving model %s from %s (was %s) on %s", loaded.scorer.version, path, old or "none", loaded.backend)

    async def keep_fresh(self, interval_s: float) -> None:
        while True:
            await self.refresh()
            # Retry quickly while nothing serves (e.g. the trainer has not registered a model yet).
            await asyncio.sleep(interval_s if self.scorer else min(interval_s, 10.0))


def create_api(
    settings: Settings,
    scorer: SentimentScorer | None = None,
    *,
    limits: ApiLimits | None = None,
    metrics: Metrics | None = None,
    refresh_s: float = 60.0,
) -> FastAPI:
    """The inference app. With ``scorer`` it serves that model as is; without, it loads
    ``settings.model_ref`` in the background and re-resolves it every ``refresh_s`` seconds."""
    limits = limits or ApiLimits(max_text_chars=settings.max_text_chars)
    metrics = metrics or Metrics()
    holder = ModelHolder(settings, scorer)
    Body = request_model(limits)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = None if scorer is not None else asyncio.create_task(holder.keep_fresh(refresh_s))
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(
        title="brandpulse inference API",
        version="1",
        description="Brand sentiment scoring with the current champion model.",
        lifespan=lifespan,
    )
    app.state.model = holder
    app.state.metrics = metrics

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [_problem(e) for e in exc.errors()]
        metrics.api_requests.labels(request.url.path, "422").inc()
        return JSONResponse(
            {
                "error": f'invalid request: send JSON {{"texts": [...]}} with 1 to {limits.max_texts} non-empty texts '
                f"of at most {limits.max_text_chars} characters each",
                "details": details,
            },
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # FastAPI answers a body it cannot even decode (invalid UTF-8, nesting past the parser's limit)
        # with a bare 400 before validation runs; it is the same client mistake as a schema error.
        status = 422 if exc.status_code == 400 else exc.status_code
        metrics.api_requests.labels(request.url.path, str(status)).inc()
        if status == 422:
            return JSONResponse(
                {"error": 'invalid request: the body is not JSON text; send UTF-8 JSON {"texts": [...]}',
                 "details": [{"field": "body", "message": str(exc.detail)}]},
                status_code=422,
            )
        return JSONResponse({"error": str(exc.detail)}, status_code=status, headers=getattr(exc, "headers", None))

    @app.post(
        "/v1/sentiment",
        response_model=SentimentResponse,
        responses={413: {"model": ErrorResponse}, 422: {"model": ErrorResponse}, 503: {"model": ErrorResponse}},
    )
    async def sentiment(body: Body) -> Any:  # type: ignore[valid-type]
        """Score a batch of texts: label, calibrated probabilities and confidence per text."""
        current = holder.scorer
        if current is None:
            metrics.api_requests.labels("/v1/sentiment", "503").inc()
            return JSONResponse({"error": f"no model is loaded: {holder.error}"}, status_code=503)
        texts: list[str] = body.texts  # type: ignore[attr-defined]
        started = time.perf_counter()
        predictions = await asyncio.to_thread(current.score, texts)
        took = time.perf_counter() - started
        metrics.record_scoring("api", len(texts), took)
        metrics.api_requests.labels("/v1/sentiment", "200").inc()
        return SentimentResponse(
            model_version=current.version,
            labels=current.labels,
            results=[SentimentResult(label=p.label, probabilities=p.probs, confidence=p.confidence) for p in predictions],
            took_ms=round(took * 1000, 2),
        )

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"ok": True}

    @app.get("/readyz", responses={503: {"model": ErrorResponse}})
    async def readyz() -> Any:
        if holder.scorer is None:
            return JSONResponse({"ready": False, "error": holder.error}, status_code=503)
        return {"ready": True, "model_version": holder.scorer.version, "labels": holder.scorer.labels, "scoring_backend": holder.backend}

    @app.get("/metrics", response_class=Response)
    async def metrics_page() -> Response:
        metrics.ready.set(1 if holder.scorer else 0)
        metrics.set_models(holder.scorer.version if holder.scorer else None)
        metrics.set_backends({"champion": holder.backend})
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    # Outside routing and JSON parsing, so oversized bodies are refused before either.
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)
    if settings.web_token is not None:
        # Outermost: a caller without the token is refused before its body is read.
        app.add_middleware(AsgiGuard, token=settings.web_token)
    return app
