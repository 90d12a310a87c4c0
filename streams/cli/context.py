"""The settings of this ``brandpulse`` invocation: made once by the root command from the environment
and its options, and handed to every subcommand through Click's context."""

from __future__ import annotations

import typer

from streams.core.settings import Settings

try:  # typer >= 0.2x runs its commands with a click of its own: its context, not click's, holds the settings
    from typer._click.globals import get_current_context
except ImportError:  # an older typer on plain click
    from click import get_current_context


def current_settings() -> Settings:
    """The root command's settings; a command group invoked on its own (tests) reads the environment."""
    ctx = get_current_context(silent=True)
    found = ctx.find_object(Settings) if ctx is not None else None
    return found if found is not None else Settings()


def refuse_unsafe_bind(settings: Settings, host: str, server: str) -> None:
    """End the command when ``server`` may not listen on ``host`` (:mod:`streams.core.web_auth`):
    the reason as one line on stderr, exit code 2."""
    from streams.core.web_auth import UnsafeBind, require_safe_bind

    try:
        require_safe_bind(settings, host, server)
    except UnsafeBind as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from None
