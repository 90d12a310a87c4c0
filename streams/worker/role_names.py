"""The worker's roles and how processes running them find each other on Kafka.

``score`` (posts → scored + dead letters), ``store`` (scored, dead letters, alerts, label requests
and human labels → ClickHouse) and ``watch`` (scored, keyed by brand → drift and brand detectors,
flyback, labelled performance, promotion) talk only through topics. All three in one process is the
embedded default: that process keeps the direct path (store, publish and observe each batch in
place) and its consumer group is ``app_id``. Any other selection joins the group
``<app_id>-<roles>``, so scoring processes share posts among themselves while the store and watch
processes each read every scored record.
"""

from __future__ import annotations

ROLES: tuple[str, ...] = ("score", "store", "watch")


def parse_roles(text: str) -> frozenset[str]:
    """``"score,store"`` → ``{"score", "store"}``; unknown or no roles are an error, not a silent default."""
    roles = frozenset(r.strip().lower() for r in text.split(",") if r.strip())
    unknown = roles - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"roles must be a comma list of {', '.join(ROLES)}; got {text!r}")
    return roles


def is_embedded(roles: frozenset[str]) -> bool:
    return roles == frozenset(ROLES)


def group_id(app_id: str, roles: frozenset[str]) -> str:
    """The Faust app id (= consumer group) of a process running ``roles``."""
    return app_id if is_embedded(roles) else f"{app_id}-{'-'.join(r for r in ROLES if r in roles)}"
