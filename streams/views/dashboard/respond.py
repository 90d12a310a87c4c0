"""Page and JSON responses of the dashboard for any web server (the worker's Faust pages and the
standalone dashboard service): a status code and a body, errors said in words, never a bare 500."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from streams.views.dashboard.model import DashboardData, DashboardQuery, DashboardUnavailable
from streams.views.dashboard.page import render_dashboard, render_error

log = logging.getLogger(__name__)

Loader = Callable[[DashboardQuery], DashboardData]


def _load(params: Mapping[str, str], load: Loader) -> DashboardData | tuple[int, str]:
    try:
        return load(DashboardQuery.from_params(params))
    except ValueError as exc:
        return 400, str(exc)
    except DashboardUnavailable as exc:
        return 503, str(exc)
    except Exception as exc:  # noqa: BLE001 - storage down: say so instead of a bare 500
        log.exception("dashboard data failed")
        return 503, f"storage query failed: {exc}"


def build_data(params: Mapping[str, str], load: Loader) -> tuple[int, dict[str, Any]]:
    """(status, JSON body) for ``/dashboard/data``. Synchronous: run it in a thread."""
    result = _load(params, load)
    if isinstance(result, tuple):
        return result[0], {"error": result[1]}
    return 200, result.model_dump(mode="json")


def build_page(params: Mapping[str, str], load: Loader) -> tuple[int, str]:
    """(status, HTML) for ``/dashboard``. Synchronous: run it in a thread."""
    result = _load(params, load)
    if isinstance(result, tuple):
        return result[0], render_error(result[1], result[0])
    return 200, render_dashboard(result)
