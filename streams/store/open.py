"""Open the store a DSN names: the backend is chosen by URL scheme; a new backend is one more scheme."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from streams.store.clickhouse import ClickHouseStore
from streams.store.protocol import Store

# chDB and a ClickHouse server both go through clickhouse-connect; clickhouse:// is http, as before.
BACKENDS: dict[str, Callable[[str, str], Store]] = {
    "chdb": ClickHouseStore,
    "http": ClickHouseStore,
    "https": ClickHouseStore,
    "clickhouse": ClickHouseStore,
}

# Schemes whose data lives in this process's directory: one process may open it at a time.
EMBEDDED = frozenset({"chdb"})


def is_embedded(dsn: str) -> bool:
    """True when ``dsn`` names a store only its own process can open (another process must go through topics)."""
    return urlsplit(dsn).scheme in EMBEDDED


def check_dsn(dsn: str) -> str:
    """``dsn`` when :func:`open_store` has a backend for its scheme; ValueError naming the choices if not."""
    scheme = urlsplit(dsn).scheme
    if scheme not in BACKENDS:
        raise ValueError(
            f"unknown store DSN scheme {scheme!r} (BRANDPULSE_CLICKHOUSE_URL): use chdb:///abs/dir for the "
            "embedded store or http(s)://[user:pass@]host:8123 for a ClickHouse server"
        )
    return dsn


def open_store(dsn: str, database: str = "brandpulse") -> Store:
    """The backend for ``dsn``: ``chdb:///abs/dir`` (embedded) or ``http(s)://[user:pass@]host:port``."""
    return BACKENDS[urlsplit(check_dsn(dsn)).scheme](dsn, database)


def redact(dsn: str) -> str:
    """The DSN without its password, for logs."""
    parts = urlsplit(dsn)
    if parts.password:
        return dsn.replace(f":{parts.password}@", ":***@")
    return dsn
