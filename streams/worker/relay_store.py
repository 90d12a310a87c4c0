"""ClickHouse as the watch role sees it when it does not run the store role: written through topics, never read.

Alerts, label requests and human labels reach ClickHouse through their topics (the watch role
publishes the first two anyway; labels arrive on theirs), where the store role writes them: so
here those inserts are deliberately nothing. The watch role reads nothing back either — labelled
performance and the shadow comparison come from its own verdict ledger
(:mod:`drift.labels.verdicts`, fed by the scored and labels topics) — so it works the same whether
ClickHouse is a server or an embedded chDB directory that belongs to the store process.
"""

from __future__ import annotations

from collections.abc import Sequence

from streams.core.schemas import Alert, HumanLabel, LabelRequest


class RelayStore:
    def refuses(self, exc: BaseException) -> bool:
        return False  # it writes nothing: the store role's own store judges the rows

    def insert_alerts(self, alerts: Sequence[Alert]) -> None:
        """Published on the alerts topic by the caller; the store role writes them."""

    def insert_label_requests(self, reqs: Sequence[LabelRequest]) -> None:
        """Published on the label-requests topic by the caller; the store role writes them."""

    def insert_human_labels(self, labels: Sequence[HumanLabel]) -> None:
        """Read from the labels topic, where the store role reads them too."""
