"""ClickHouse as the watch role sees it when it does not run the store role.

Alerts, label requests and human labels reach ClickHouse through their topics (the watch role
publishes the first two anyway; labels arrive on theirs), where the store role writes them: so
here those inserts are deliberately nothing. Reads — champion verdicts for labelled performance,
the shadow comparison behind promotion — go to the ClickHouse server when there is one. An embedded
chDB directory belongs to the store process alone, so with it those reads fail with
:class:`StoreNotShared`, which the watch role reports instead of guessing.
"""

from __future__ import annotations

from collections.abc import Sequence

from streams.core.schemas import Alert, HumanLabel, LabelRequest
from streams.core.settings import Settings
from streams.store.open import is_embedded, open_store
from streams.store.protocol import ScoredLabel, ShadowRows, Store


class StoreNotShared(RuntimeError):
    """The store is an embedded chDB directory owned by another process."""


class RelayStore:
    def __init__(self, reader: Store | None, db: str) -> None:
        self.reader = reader
        self.db = db

    @classmethod
    def for_settings(cls, settings: Settings) -> "RelayStore":
        dsn = settings.clickhouse_dsn
        reader = None if is_embedded(dsn) else open_store(dsn, settings.clickhouse_database)
        return cls(reader, settings.clickhouse_database)

    def refuses(self, exc: BaseException) -> bool:
        return False  # it writes nothing: the store role's own store judges the rows

    def insert_alerts(self, alerts: Sequence[Alert]) -> None:
        """Published on the alerts topic by the caller; the store role writes them."""

    def insert_label_requests(self, reqs: Sequence[LabelRequest]) -> None:
        """Published on the label-requests topic by the caller; the store role writes them."""

    def insert_human_labels(self, labels: Sequence[HumanLabel]) -> None:
        """Read from the labels topic, where the store role reads them too."""

    def _reader(self) -> Store:
        if self.reader is None:
            raise StoreNotShared(
                "labelled performance and promotion read ClickHouse: with the roles split, point "
                "BRANDPULSE_CLICKHOUSE_URL at a ClickHouse server (an embedded chDB directory belongs to the store process)"
            )
        return self.reader

    def champion_labels(self, post_ids: Sequence[str]) -> list[ScoredLabel]:
        return self._reader().champion_labels(post_ids)

    def shadow_rows(self, champion: str, challenger: str) -> ShadowRows:
        return self._reader().shadow_rows(champion, challenger)
