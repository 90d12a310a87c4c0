"""The settings of this ``brandpulse`` invocation: made once by the root command from the environment
and its options, stored on its context (``ctx.obj``), and read by every subcommand from its own."""

from __future__ import annotations

import typer

from streams.core.settings import Settings


def settings_of(ctx: typer.Context) -> Settings:
    """The root command's settings; a command or group invoked on its own (tests) reads the environment."""
    return ctx.ensure_object(Settings)


def refuse_unsafe_bind(settings: Settings, host: str, server: str) -> None:
    """End the command when ``server`` may not listen on ``host`` (:mod:`streams.core.web_auth`):
    the reason as one line on stderr, exit code 2."""
    from streams.core.web_auth import UnsafeBind, require_safe_bind

    try:
        require_safe_bind(settings, host, server)
    except UnsafeBind as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from None
