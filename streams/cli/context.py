"""The settings of this ``brandpulse`` invocation: made once by the root command from the environment
and its options, and handed to every subcommand through Click's context."""

from __future__ import annotations

import click

from streams.core.settings import Settings


def current_settings() -> Settings:
    """The root command's settings; a command group invoked on its own (tests) reads the environment."""
    ctx = click.get_current_context(silent=True)
    found = ctx.find_object(Settings) if ctx is not None else None
    return found if found is not None else Settings()
