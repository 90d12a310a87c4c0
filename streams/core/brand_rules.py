"""Brand resolution: which brand a post is about, when the producer did not say.

Rules map @handles, #hashtags and keywords to a canonical brand name. Handles win over hashtags,
hashtags over keywords, because a mention of the brand's own account is the strongest signal.
Rules load from a JSON file (``BRANDPULSE_BRAND_RULES``); the defaults cover the US airlines
of the public airline-sentiment corpus the quick start replays.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, Field

UNKNOWN_BRAND = "unknown"


class BrandRule(BaseModel):
    brand: str = Field(min_length=1)
    handles: list[str] = Field(default_factory=list)
    hashtags: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list, description="brand groups for share of voice, e.g. 'US airlines'")


DEFAULT_RULES: list[BrandRule] = [
    BrandRule(brand="United", handles=["united"], hashtags=["unitedairlines"], keywords=["united airlines"], groups=["US airlines"]),
    BrandRule(brand="American", handles=["americanair", "aa"], hashtags=["americanairlines"], keywords=["american airlines"], groups=["US airlines"]),
    BrandRule(brand="Southwest", handles=["southwestair"], hashtags=["southwest", "southwestairlines"], keywords=["southwest airlines"], groups=["US airlines"]),
    BrandRule(brand="US Airways", handles=["usairways"], hashtags=["usairways"], keywords=["us airways"], groups=["US airlines"]),
    BrandRule(brand="Delta", handles=["delta", "deltaassist"], hashtags=["delta", "deltaairlines"], keywords=["delta air lines", "delta airlines"], groups=["US airlines"]),
    BrandRule(brand="Virgin America", handles=["virginamerica"], hashtags=["virginamerica"], keywords=["virgin america"], groups=["US airlines"]),
    BrandRule(brand="JetBlue", handles=["jetblue"], hashtags=["jetblue"], keywords=["jetblue"], groups=["US airlines"]),
]

_HANDLE = re.compile(r"@(\w{1,30})")
_HASHTAG = re.compile(r"#(\w{1,100})")


class BrandResolver:
    def __init__(self, rules: list[BrandRule]) -> None:
        self.rules = rules
        self._handles: dict[str, str] = {}
        self._hashtags: dict[str, str] = {}
        keywords: list[tuple[str, str]] = []
        for rule in rules:
            self._handles.update({h.lower().lstrip("@"): rule.brand for h in rule.handles})
            self._hashtags.update({t.lower().lstrip("#"): rule.brand for t in rule.hashtags})
            keywords += [(k.lower(), rule.brand) for k in rule.keywords]
        # Longest keyword first so "virgin america" beats a hypothetical "america".
        keywords.sort(key=lambda kb: -len(kb[0]))
        self._keywords = keywords
        self._canonical = {rule.brand.lower(): rule.brand for rule in rules}

    @classmethod
    def from_file(cls, path: Path | None) -> "BrandResolver":
        if path is None:
            return cls(DEFAULT_RULES)
        try:
            raw = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read brand rules from {path}: {exc}") from exc
        items = raw["brands"] if isinstance(raw, Mapping) else raw
        return cls([BrandRule.model_validate(item) for item in items])

    @property
    def brands(self) -> list[str]:
        return [r.brand for r in self.rules]

    @property
    def groups(self) -> dict[str, list[str]]:
        """Brand group → its brands, in rule order (share of voice is computed within a group)."""
        out: dict[str, list[str]] = {}
        for rule in self.rules:
            for group in rule.groups:
                out.setdefault(group, []).append(rule.brand)
        return out

    def canonical(self, brand: str) -> str | None:
        """Producer-supplied brand → the configured spelling, or None if not a configured brand."""
        return self._canonical.get(brand.strip().lower())

    def resolve(self, text: str) -> str | None:
        for handle in _HANDLE.findall(text):
            if (brand := self._handles.get(handle.lower())) is not None:
                return brand
        for tag in _HASHTAG.findall(text):
            if (brand := self._hashtags.get(tag.lower())) is not None:
                return brand
        lowered = text.lower()
        for keyword, brand in self._keywords:
            if re.search(rf"(?<!\w){re.escape(keyword)}(?!\w)", lowered):
                return brand
        return None
