"""The brand sentiment dashboard, one job per module:

- :mod:`~streams.dashboard.model` — what a page is asked for (:class:`DashboardQuery`) and shows (:class:`DashboardData`);
- :mod:`~streams.dashboard.gather` — reads that data through the :class:`~streams.store.protocol.Store`; the
  default window fits the data;
- :mod:`~streams.dashboard.charts` and :mod:`~streams.dashboard.page` — server-side SVG and the HTML
  page, pure;
- :mod:`~streams.dashboard.brand_panels` — the distinct-voices and share-of-voice panels;
- :mod:`~streams.dashboard.serve` — builders for any web server, the standalone FastAPI app, the CLI command;
- :mod:`~streams.dashboard.worker_client` — the worker's data when embedded chDB is the store (only
  the worker may open it); against a ClickHouse server the dashboard reads directly.
"""

from streams.dashboard.charts import count_ticks, time_ticks
from streams.dashboard.gather import fit_window, gather_dashboard, summarise_labelled
from streams.dashboard.model import Bucket, DashboardData, DashboardQuery, DashboardUnavailable, ModelSummary
from streams.dashboard.page import render_dashboard
from streams.dashboard.serve import build_data, build_page, create_dashboard_app, dashboard_command

__all__ = [
    "Bucket",
    "DashboardData",
    "DashboardQuery",
    "DashboardUnavailable",
    "ModelSummary",
    "build_data",
    "build_page",
    "count_ticks",
    "create_dashboard_app",
    "dashboard_command",
    "fit_window",
    "gather_dashboard",
    "render_dashboard",
    "summarise_labelled",
    "time_ticks",
]
