"""The standalone dashboard's way to the worker: with embedded chDB only the worker may open the
data directory, so the dashboard asks its web port for the data and the served model versions."""

from __future__ import annotations

import httpx
from pydantic import SecretStr, ValidationError

from streams.views.dashboard.model import DashboardData, DashboardQuery, DashboardUnavailable
from streams.views.dashboard.page import query_string
from streams.core.settings import Settings
from streams.core.web_auth import auth_headers


def _error_message(resp: httpx.Response) -> str:
    """The worker's JSON ``error`` field, else the status line (a proxy or aiohttp may answer in plain text)."""
    try:
        return str(resp.json().get("error", resp.reason_phrase))
    except (ValueError, AttributeError):
        return f"{resp.status_code} {resp.reason_phrase}"


def fetch_from_worker(base_url: str, query: DashboardQuery, timeout: float = 30.0, *,
                      token: SecretStr | None = None) -> DashboardData:
    """DashboardData from a worker's ``/dashboard/data`` (the only process that may open embedded chDB)."""
    url = f"{base_url.rstrip('/')}/dashboard/data?{query_string(query)}"
    try:
        resp = httpx.get(url, headers=auth_headers(token), timeout=timeout)
    except httpx.TransportError as exc:
        raise DashboardUnavailable(
            f"cannot reach the worker at {base_url} ({type(exc).__name__}: {exc}); start it with `brandpulse worker`, "
            "or point BRANDPULSE_WEB_HOST/BRANDPULSE_WEB_PORT at it"
        ) from None
    if resp.status_code == 400:
        raise ValueError(_error_message(resp))
    if resp.status_code == 401:
        raise DashboardUnavailable(
            f"the worker at {base_url} answered 401: give the dashboard the worker's BRANDPULSE_WEB_TOKEN"
        )
    if resp.is_error:
        raise DashboardUnavailable(f"worker at {base_url} answered {resp.status_code}: {_error_message(resp)}")
    try:
        return DashboardData.model_validate_json(resp.content)
    except ValidationError as exc:
        raise DashboardUnavailable(f"the worker at {base_url} sent dashboard data this dashboard cannot read: {exc}") from None


def served_by_worker(base_url: str, timeout: float = 3.0, *, token: SecretStr | None = None) -> dict[str, str | None] | None:
    """Champion/challenger versions from the worker's ``/stats``; None if it cannot be asked."""
    try:
        resp = httpx.get(f"{base_url.rstrip('/')}/stats", headers=auth_headers(token), timeout=timeout)
        resp.raise_for_status()
        stats = resp.json()
    except (httpx.HTTPError, ValueError):
        return None
    if not stats.get("champion"):
        return None
    return {"champion": stats["champion"], "challenger": stats.get("challenger")}


def worker_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.web_host in ("0.0.0.0", "::", "") else settings.web_host
    return f"http://{host}:{settings.web_port}"
