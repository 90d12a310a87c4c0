"""The standalone dashboard service: ``brandpulse dashboard`` serves the brand dashboard over FastAPI.

Against a ClickHouse server it reads the store directly; with embedded chDB (which only the worker may
open) it asks the worker's web port for the data (:mod:`~streams.services.dashboard.worker_client`).
"""

from streams.services.dashboard.serve import create_dashboard_app

__all__ = ["create_dashboard_app"]
