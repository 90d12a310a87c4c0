"""Storage behind one protocol: :mod:`streams.store.protocol` (what callers may ask) and
:mod:`streams.store.open` (the backend a DSN names). All SQL lives in :mod:`streams.store.clickhouse`."""
