"""The standalone dashboard's way to the worker: with embedded chDB only the worker may open the
data directory, so the dashboard asks its web port for the data and the served model versions."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from pydantic import SecretStr

from streams.views.dashboard.model import DashboardData, DashboardQuery, DashboardUnavailable
from streams.views.dashboard.page import query_string
from streams.core.settings import Settings
from streams.core.web_auth import auth_headers


def _request(url: str, token: SecretStr | None) -> urllib.request.Request:
    return urllib.request.Request(url, headers=auth_headers(token))


def fetch_from_worker(base_url: str, query: DashboardQuery, timeout: float = 30.0, *,
                      token: SecretStr | None = None) -> DashboardData:
    """DashboardData from a worker's ``/dashboard/data`` (the only process that may open embedded chDB)."""
    url = f"{base_url.rstrip('/')}/dashboard/data?{query_string(query)}"
    try:
        with urllib.request.urlopen(_request(url, token), timeout=timeout) as resp:
            return DashboardData.model_validate(json.loads(resp.read()))
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error", str(exc))
        except ValueError:
            message = str(exc)
        if exc.code == 400:
            raise ValueError(message) from None
        if exc.code == 401:
            raise DashboardUnavailable(
                f"the worker at {base_url} answered 401: give the dashboard the worker's BRANDPULSE_WEB_TOKEN"
            ) from None
        raise DashboardUnavailable(f"worker at {base_url} answered {exc.code}: {message}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise DashboardUnavailable(
            f"cannot reach the worker at {base_url} ({exc}); start it with `brandpulse worker`, "
            "or point BRANDPULSE_WEB_HOST/BRANDPULSE_WEB_PORT at it"
        ) from None


def served_by_worker(base_url: str, timeout: float = 3.0, *, token: SecretStr | None = None) -> dict[str, str | None] | None:
    """Champion/challenger versions from the worker's ``/stats``; None if it cannot be asked."""
    try:
        with urllib.request.urlopen(_request(f"{base_url.rstrip('/')}/stats", token), timeout=timeout) as resp:
            stats = json.loads(resp.read())
    except (OSError, ValueError):
        return None
    if not stats.get("champion"):
        return None
    return {"champion": stats["champion"], "challenger": stats.get("challenger")}


def worker_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.web_host in ("0.0.0.0", "::", "") else settings.web_host
    return f"http://{host}:{settings.web_port}"
