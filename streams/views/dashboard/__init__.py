"""The brand sentiment dashboard, one job per module:

- :mod:`~streams.views.dashboard.model` — what a page is asked for (:class:`DashboardQuery`) and shows (:class:`DashboardData`);
- :mod:`~streams.views.dashboard.gather` — reads that data through the :class:`~streams.store.protocol.Store`; the
  default window fits the data;
- :mod:`~streams.views.dashboard.charts` and :mod:`~streams.views.dashboard.page` — server-side SVG and the HTML
  page, pure;
- :mod:`~streams.views.dashboard.brand_panels` — the distinct-voices and share-of-voice panels;
- :mod:`~streams.views.dashboard.respond` — status and body of a page or its JSON, for any web server.

The worker serves these pages on its web port; :mod:`streams.services.dashboard` is the standalone service.
"""

from streams.views.dashboard.charts import count_ticks, time_ticks
from streams.views.dashboard.gather import fit_window, gather_dashboard, summarise_labelled
from streams.views.dashboard.model import Bucket, DashboardData, DashboardQuery, DashboardUnavailable, ModelSummary
from streams.views.dashboard.page import render_dashboard
from streams.views.dashboard.respond import build_data, build_page

__all__ = [
    "Bucket",
    "DashboardData",
    "DashboardQuery",
    "DashboardUnavailable",
    "ModelSummary",
    "build_data",
    "build_page",
    "count_ticks",
    "fit_window",
    "gather_dashboard",
    "render_dashboard",
    "summarise_labelled",
    "time_ticks",
]
