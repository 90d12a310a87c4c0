"""Reposts and copy-paste floods collapse to one voice.

A post is a new **voice** for its brand when (1) its normalised text was not seen for that brand in
the last ``dedupe_min`` minutes — normalisation drops a leading ``RT @user:``, links, case,
punctuation and spacing, so a retweet, a quote of the same text and a copy-paste with a different
link all hash alike — and (2) its author has added fewer than ``author_cap`` voices in that time
(one account posting forty complaints is loud, but it is one customer). Posts without an author
are limited by (1) only.

Memory is bounded by the number of distinct texts and authors in the dedupe window (expired
entries are swept once per window) and by ``max_texts`` per brand: past it the older half is
forgotten, so a flood of distinct texts costs at most a few tens of MB per brand.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from drift.brand.config import VoiceConfig

_RT = re.compile(r"^\s*rt\s+@\w+:?\s*", re.IGNORECASE)
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    return _NON_WORD.sub(" ", _URL.sub(" ", _RT.sub("", text)).lower()).strip()


def fingerprint(text: str) -> int:
    """64-bit hash of the normalised text (an int: a third of the memory of its hex string)."""
    return int.from_bytes(hashlib.blake2b(normalise(text).encode("utf-8"), digest_size=8).digest(), "big")


def is_retweet(text: str) -> bool:
    return _RT.match(text) is not None


class VoiceCounter:
    """Per brand: which texts and authors were heard recently."""

    def __init__(self, config: VoiceConfig | None = None) -> None:
        self.config = config or VoiceConfig()
        self.texts: dict[int, int] = {}  # fingerprint -> minute last seen
        self.authors: dict[str, list[int]] = {}  # author -> [voices in window, window start minute]
        self._swept = 0

    def observe(self, fp: int, author: str | None, minute: int) -> bool:
        """True when this post is a new voice (and remember it either way)."""
        window = self.config.dedupe_min
        if minute - self._swept >= window:
            self._sweep(minute)
        elif len(self.texts) > self.config.max_texts:
            self._shrink()
        seen = self.texts.get(fp)
        self.texts[fp] = minute if seen is None else max(seen, minute)
        if seen is not None and minute - seen < window:
            return False
        if author:
            entry = self.authors.get(author)
            if entry is None or minute - entry[1] >= window:
                entry = self.authors[author] = [0, minute]
            if entry[0] >= self.config.author_cap:
                return False
            entry[0] += 1
        return True

    def _sweep(self, minute: int) -> None:
        window = self.config.dedupe_min
        self.texts = {fp: m for fp, m in self.texts.items() if minute - m < window}
        self.authors = {a: e for a, e in self.authors.items() if minute - e[1] < window}
        self._swept = minute

    def _shrink(self) -> None:
        """Over ``max_texts``: forget the first-heard half, so a flood of distinct texts cannot exhaust memory."""
        items = list(self.texts.items())
        self.texts = dict(items[len(items) // 2:])

    def to_state(self) -> dict[str, Any]:
        return {"texts": [[fp, m] for fp, m in self.texts.items()], "authors": self.authors, "swept": self._swept}

    @classmethod
    def from_state(cls, state: dict[str, Any], config: VoiceConfig) -> "VoiceCounter":
        vc = cls(config)
        vc.texts = {int(fp): int(m) for fp, m in state["texts"]}
        vc.authors, vc._swept = dict(state["authors"]), int(state["swept"])
        return vc
