"""Share of voice: each brand's share of its group's mentions, and of the group's negative mentions.

Plain arithmetic over per-bucket counts (the caller reads them from the per-minute aggregate). A
brand's share of negative mentions next to its share of all mentions is the comparison brand teams
ask for: 30 % of the talk but 60 % of the complaints is a different week from 30 % of both.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from pydantic import BaseModel


class BrandShare(BaseModel):
    brand: str
    posts: int
    negative: int
    share: float
    negative_share_of_group: float


class ShareBucket(BaseModel):
    bucket: str
    posts: int
    negative: int
    brands: list[BrandShare]


def share_of_voice(rows: Iterable[tuple[str, str, int, int]], brands: Iterable[str]) -> list[ShareBucket]:
    """``rows``: (bucket, brand, posts, negative). Every brand of the group appears in every bucket."""
    by_bucket: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    for bucket, brand, posts, negative in rows:
        by_bucket[bucket][brand] = (int(posts), int(negative))
    names = list(brands)
    out: list[ShareBucket] = []
    for bucket in sorted(by_bucket):
        counts = by_bucket[bucket]
        total = sum(p for p, _ in counts.values())
        total_neg = sum(n for _, n in counts.values())
        out.append(ShareBucket(bucket=bucket, posts=total, negative=total_neg, brands=[
            BrandShare(brand=b, posts=counts.get(b, (0, 0))[0], negative=counts.get(b, (0, 0))[1],
                       share=counts.get(b, (0, 0))[0] / total if total else 0.0,
                       negative_share_of_group=counts.get(b, (0, 0))[1] / total_neg if total_neg else 0.0)
            for b in names
        ]))
    return out
