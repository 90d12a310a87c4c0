"""Everything one dashboard page shows, read through the :class:`~streams.store.protocol.Store`."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping

from drift.performance import macro_f1, recall
from streams.views.dashboard.brand_panels import gather_brand_panels
from streams.views.dashboard.model import (
    FIT_EMPTY,
    FIT_MAX,
    FIT_MIN,
    MAX_ALERTS,
    Bucket,
    DashboardData,
    DashboardQuery,
    ModelSummary,
)
from streams.store.protocol import Store
from streams.views.trends import check_brand, check_until, known_brand, parse_duration, query_trends, resolve_until


def summarise_labelled(role: str, version: str, pairs: list[tuple[str, str, int]]) -> ModelSummary:
    """Accuracy, macro-F1 and negative recall from ``(predicted, human, count)`` rows of one version."""
    expanded = [(p, h) for p, h, n in pairs for _ in range(n)]
    if not expanded:
        return ModelSummary(role=role, version=version)
    return ModelSummary(
        role=role,
        version=version,
        labelled=len(expanded),
        accuracy=sum(p == h for p, h in expanded) / len(expanded),
        macro_f1=macro_f1(expanded),
        negative_recall=recall(expanded, "negative"),
    )


def fit_window(store: Store, brand: str | None, until: str) -> str:
    """The default window: the data's own span before the window end, between FIT_MIN and FIT_MAX.

    A replay of a few hours then fills the chart instead of sitting in one corner of a week.
    """
    end = resolve_until(store, check_until(until), brand)
    first = store.first_minute(brand)
    if first is None or first >= end:
        return FIT_EMPTY
    span = min(max(end - first, FIT_MIN), FIT_MAX)
    return f"{math.ceil(span.total_seconds() / 60)}m"


def gather_dashboard(
    store: Store,
    query: DashboardQuery,
    served: Mapping[str, str | None] | None = None,
    source: str = "worker",
    groups: dict[str, list[str]] | None = None,
) -> DashboardData:
    """Everything one dashboard page shows. ``served`` maps role (champion/challenger) → version.

    Without ``since`` the window fits the data (:func:`fit_window`). Raises ValueError for a window
    the trends query rejects; storage errors propagate.
    """
    brand = known_brand(store, check_brand(query.brand))
    if query.brand:  # the stored spelling, whatever case was asked for
        query = query.model_copy(update={"brand": brand})
    since = query.since or fit_window(store, brand, query.until)
    bucket = query.resolved_bucket(parse_duration(since))
    trend = query_trends(store, brand=brand, since=since, bucket=bucket, until=query.until)
    start, end = dt.datetime.fromisoformat(trend["start"]), dt.datetime.fromisoformat(trend["end"])
    # An alert sits on the timeline where its drift began in data time (``since``), which is what
    # matters when an old corpus is replayed; detection time is shown in the table.
    alerts = store.timeline_alerts(brand, start, end, MAX_ALERTS)
    versions = {role: v for role, v in (served or store.served_versions()).items() if v}
    outcomes = store.labelled_outcomes(list(versions.values()))
    models = [
        summarise_labelled(role, versions[role], [(o.predicted, o.human, o.posts) for o in outcomes if o.version == versions[role]])
        for role in ("champion", "challenger") if role in versions
    ]
    return DashboardData(
        query=query,
        brands=store.brands(),
        start=start,
        end=end,
        bucket=bucket,
        buckets=[Bucket.model_validate({**b, "start": b["bucket"]}) for b in trend["buckets"]],
        alerts=alerts,
        models=models,
        label_queue=store.open_label_requests(brand),
        newest=store.newest_minute(brand),
        brand_panels=gather_brand_panels(store, brand=brand, groups=groups or {},
                                         since=since, bucket=bucket, until=end.isoformat()),
        source=source,
    )
