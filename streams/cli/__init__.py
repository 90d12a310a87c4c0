"""The ``brandpulse`` command line (Typer): :mod:`~streams.cli.main` holds the root commands,
:mod:`~streams.cli.models` the ``models`` group; benchmarks plug in their ``bench`` group."""
