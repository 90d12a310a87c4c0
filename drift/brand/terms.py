"""Tokens of a post and the words that set one set of posts apart from another.

:func:`log_odds` is the log-odds ratio with an informative Dirichlet prior (Monroe, Colaresi &
Quinn 2008, "Fightin' Words", §3.5): for each token w with counts y (window) and b (baseline) and a
prior α_w proportional to its pooled frequency (total prior mass α₀),

    δ_w = log[(y_w+α_w)/(n_y+α₀−y_w−α_w)] − log[(b_w+α_w)/(n_b+α₀−b_w−α_w)],
    σ²(δ_w) ≈ 1/(y_w+α_w) + 1/(b_w+α_w),   z_w = δ_w / σ.

Unlike a frequency ratio it does not crown rare words (one mention in the window, none before),
and unlike raw frequency it does not crown words that are always common ("flight"). Stop words are
scikit-learn's English list plus Twitter debris; unigrams and bigrams of the remaining words are
counted ("lost bag" says more than "lost" and "bag").
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_TOKEN = re.compile(r"[#@]?[^\W\d_][\w'’]*", re.UNICODE)
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | {"rt", "amp", "via", "im", "i'm", "it's", "don't", "can't", "just", "u", "ur"}


@dataclass(frozen=True, slots=True)
class Tokens:
    terms: tuple[str, ...]
    hashtags: tuple[str, ...]
    handles: tuple[str, ...]


def tokenize(text: str) -> Tokens:
    words: list[str] = []
    tags: list[str] = []
    handles: list[str] = []
    for tok in _TOKEN.findall(_URL.sub(" ", text.lower())):
        tok = tok.replace("’", "'")
        if tok[0] == "#":
            tags.append(tok)
        elif tok[0] == "@":
            handles.append(tok)
        elif len(tok) > 1 and tok not in STOP_WORDS:
            words.append(tok.rstrip("'"))
    bigrams = [f"{a} {b}" for a, b in zip(words, words[1:])]
    # A post counts once per token: the statistic is over voices, not repetitions within a post.
    return Tokens(tuple(dict.fromkeys(words + bigrams)), tuple(dict.fromkeys(tags)), tuple(dict.fromkeys(handles)))


@dataclass(frozen=True, slots=True)
class Distinctive:
    token: str
    z: float
    window_count: int
    baseline_count: int


def log_odds(window: Counter[str], baseline: Counter[str], prior_mass: float = 500.0) -> list[Distinctive]:
    """Every token of the window with its z-score against the baseline, most distinctive first."""
    n_y, n_b = sum(window.values()), sum(baseline.values())
    pooled = n_y + n_b
    if n_y == 0 or len(window.keys() | baseline.keys()) < 2:
        return []  # one token is all there is: nothing to set apart
    out: list[Distinctive] = []
    for tok, y in window.items():
        b = baseline.get(tok, 0)
        a = prior_mass * (y + b) / pooled
        delta = math.log((y + a) / (n_y + prior_mass - y - a)) - math.log((b + a) / (n_b + prior_mass - b - a))
        z = delta / math.sqrt(1.0 / (y + a) + 1.0 / (b + a))
        out.append(Distinctive(tok, z, y, b))
    out.sort(key=lambda d: -d.z)
    return out


def count(token_lists: Iterable[tuple[str, ...]]) -> Counter[str]:
    c: Counter[str] = Counter()
    for toks in token_lists:
        c.update(toks)
    return c
