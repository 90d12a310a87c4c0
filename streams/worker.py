"""Entry point module of the scoring worker: the app with its agents and web views registered."""

from streams import agents, web  # noqa: F401  (registers agents, tasks and pages on the app)
from streams.app import app

__all__ = ["app"]
