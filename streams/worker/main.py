"""Entry point module of the worker: the app with the agents of its roles and the web views registered.

All roles → :mod:`streams.worker.roles.embedded` (the one-process default); otherwise one module per role.
"""

from importlib import import_module

from streams.worker import runtime, web  # noqa: F401  (registers shared tasks and pages on the app)
from streams.worker.app import app, roles
from streams.worker.role_names import ROLES, is_embedded

for _role in ["embedded"] if is_embedded(roles) else [r for r in ROLES if r in roles]:
    import_module(f"streams.worker.roles.{_role}")

__all__ = ["app"]
