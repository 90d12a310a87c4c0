"""Every detector by name; a new detector is one ``register`` line (see :mod:`drift.detectors`).

The model-health detectors register here; the brand detectors in :mod:`drift.brand.registration`
(importing :mod:`drift.brand` registers them), so this package never imports the brand package.
"""

from __future__ import annotations

from drift.detectors.base import Feed, Registration
from drift.detectors.confidence import ConfidenceDetector, Method
from drift.detectors.label_distribution import LabelDistributionDetector

REGISTRY: dict[str, Registration] = {}


def register(registration: Registration) -> None:
    if registration.name in REGISTRY:
        raise ValueError(f"a detector named {registration.name!r} is already registered")
    REGISTRY[registration.name] = registration


def registered(feeds: Feed) -> dict[str, Registration]:
    """The registrations fed with ``feeds``, by name."""
    return {name: r for name, r in REGISTRY.items() if r.feeds == feeds}


def _confidence(method: Method) -> Registration:
    return Registration(
        method,
        "confidence",
        make=lambda **options: ConfidenceDetector(method, **options),
        restore=lambda state, **_: ConfidenceDetector.from_state(state),
    )


register(_confidence("adwin"))
register(_confidence("page_hinkley"))
register(_confidence("kswin"))
register(Registration(
    "label_distribution",
    "label",
    make=lambda **options: LabelDistributionDetector(**options),
    restore=lambda state, **_: LabelDistributionDetector.from_state(state),
))
