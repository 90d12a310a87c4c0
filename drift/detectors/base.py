"""The contract every drift detector meets, and how a detector is registered.

Modelled on River's ``DriftDetector``: one value in, an answer out — except that the answer is
the alert-worthy signal itself (or ``None``) rather than a ``drift_detected`` flag to poll, because
every detector here wraps its raw test in warm-up / cooldown / re-arm guards and the signal carries
what the alert needs (where the change is, how large). State is a JSON-serialisable dict so the
worker can persist its detectors across restarts and partition moves.

``from_state`` is not part of the protocol: the brand detectors keep their thresholds out of their
state (a changed config applies after a restart), so restoring takes the config too. A
:class:`Registration` therefore says how to make *and* how to restore its detector.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

V_contra = TypeVar("V_contra", contravariant=True)
S_co = TypeVar("S_co", covariant=True)

# What a detector is fed: a post's confidence, a post's predicted label, or one closed minute of
# one brand's counts (drift.brand.base.Bucket).
Feed = Literal["confidence", "label", "brand_minute"]


class Detector(Protocol[V_contra, S_co]):
    """A pure, I/O-free streaming detector."""

    @property
    def name(self) -> str: ...

    def update(self, value: V_contra, /) -> S_co | None:
        """Feed one value; return a signal when an alert is due. Bad input raises ``ValueError``."""

    def to_state(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot from which the registration's ``restore`` rebuilds it."""


@dataclass(frozen=True)
class Registration:
    """A detector by name: ``make(**options)`` builds a fresh one, ``restore(state, **options)`` a saved one."""

    name: str
    feeds: Feed
    make: Callable[..., Detector[Any, Any]]
    restore: Callable[..., Detector[Any, Any]]
