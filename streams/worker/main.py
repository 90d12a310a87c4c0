"""The worker process: the app with the agents of its roles and the web views, made from one Settings.

All roles → :mod:`streams.worker.roles.embedded` (the one-process default); otherwise one module per role.
"""

from __future__ import annotations

from importlib import import_module

import faust

from streams.core.settings import Settings
from streams.kafka.security import check_connection
from streams.worker.app import Topics, create_app
from streams.worker.role_names import ROLES, is_embedded
from streams.worker.runtime import Runtime
from streams.worker.web import register_views


def create_worker(settings: Settings) -> tuple[faust.App, Runtime]:
    """A Faust app ready to run, with its runtime (shared state of the agents) for the views and tests."""
    app = create_app(settings)
    runtime = Runtime(settings, app, Topics.on(app, settings))
    runtime.register()
    register_views(runtime)
    for role in ["embedded"] if is_embedded(runtime.roles) else [r for r in ROLES if r in runtime.roles]:
        import_module(f"streams.worker.roles.{role}").register(runtime)
    return app, runtime


def run_worker(settings: Settings, loglevel: str = "info") -> None:
    """Run the worker until it is stopped (SIGTERM / Ctrl-C), as Faust's own ``worker`` command does.

    A broker that refuses the credentials stops it here with the reason, before Faust's reconnect loops.
    """
    check_connection(settings)
    app, _ = create_worker(settings)
    faust.Worker(app, loglevel=loglevel).execute_from_commandline()
