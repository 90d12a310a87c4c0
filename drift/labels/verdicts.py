"""The models' verdicts on the random sample, joined with the human labels of those posts.

Labelled performance and the shadow comparison both need, per flyback post, what the champion said,
what the challenger said in shadow and what a person said. Verdicts arrive on the scored topic and
labels on the labels topic, each in its own time and in either order (a label may even come first,
when the watch role lags behind the labellers). The ledger keeps them per ``post_id`` and joins them
as they meet, so whoever watches judges from what it read itself — no store query, which an
embedded chDB store owned by another process could not answer.

Memory is bounded: entries without a join yet (a verdict waiting for its label, or a label for its
verdict) are capped, the oldest evicted first; joined entries are capped too, and
:meth:`VerdictLedger.retain` drops those of versions no longer served. Only random-sample posts
belong here (the caller filters): labels on actively selected posts are biased and judge nothing.

Pure: no I/O, state to and from a JSON-ready dict.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, Field

from drift.records import HumanLabel, ScoredPost

STATE_VERSION = 1
Role = Literal["champion", "shadow"]


class Verdict(NamedTuple):
    """One model's label for one post (what :func:`drift.shadow.compare` reads of a scored row)."""

    post_id: str
    label: str
    model_version: str


class ChampionPair(NamedTuple):
    """A champion verdict met its human label: one observation for :mod:`drift.performance`."""

    post_id: str
    model_version: str
    predicted: str
    human: str


class ShadowRows(NamedTuple):
    """Champion and challenger verdicts on the posts the challenger shadowed, and their human labels."""

    champion: list[Verdict]
    challenger: list[Verdict]
    human: list[HumanLabel]


class LedgerConfig(BaseModel):
    # At a 1 % flyback rate 20,000 waiting entries span two million posts: labels that come later
    # than that find nothing to join (and a label with no verdict waits as long).
    max_pending: int = Field(default=20_000, ge=1)
    # Promotion needs a few hundred labels and the performance window holds 500: room for many cycles.
    max_joined: int = Field(default=20_000, ge=1)


@dataclass(slots=True)
class _Entry:
    verdicts: dict[str, tuple[str, str]] = field(default_factory=dict)  # role → (model_version, label)
    human: str | None = None
    counted: str | None = None  # the champion version whose pair was handed out, so it is counted once


class VerdictLedger:
    def __init__(self, config: LedgerConfig | None = None) -> None:
        self.config = config or LedgerConfig()
        self._pending: OrderedDict[str, _Entry] = OrderedDict()  # oldest first
        self._joined: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pending) + len(self._joined)

    @property
    def n_joined(self) -> int:
        return len(self._joined)

    def is_labelled(self, post_id: str) -> bool:
        """Whether a person labelled this post and a verdict on it is here too."""
        return post_id in self._joined

    def add_verdicts(self, rows: Iterable[ScoredPost]) -> list[ChampionPair]:
        """Record champion and shadow verdicts (other roles are ignored); the champion pairs they complete."""
        pairs: list[ChampionPair] = []
        for row in rows:
            if row.model_role not in ("champion", "shadow"):
                continue
            entry = self._entry(row.post_id)
            entry.verdicts[row.model_role] = (row.model_version, row.label)
            pairs += self._settle(row.post_id, entry)
        return pairs

    def add_labels(self, labels: Iterable[HumanLabel]) -> list[ChampionPair]:
        """Record human labels (the last one of a post wins); the champion pairs they complete."""
        pairs: list[ChampionPair] = []
        for label in labels:
            entry = self._entry(label.post_id)
            entry.human = label.label
            pairs += self._settle(label.post_id, entry)
        return pairs

    def _entry(self, post_id: str) -> _Entry:
        entry = self._joined.get(post_id) or self._pending.get(post_id)
        return entry if entry is not None else _Entry()

    def _settle(self, post_id: str, entry: _Entry) -> list[ChampionPair]:
        """File the entry where it belongs now, evict beyond the caps, and hand out a new champion pair."""
        if entry.human is not None and entry.verdicts:
            self._pending.pop(post_id, None)
            self._joined[post_id] = entry
            if len(self._joined) > self.config.max_joined:
                self._joined.popitem(last=False)
        elif post_id not in self._pending:
            self._pending[post_id] = entry
            if len(self._pending) > self.config.max_pending:
                self._pending.popitem(last=False)
        champion = entry.verdicts.get("champion")
        if entry.human is None or champion is None or entry.counted == champion[0]:
            return []
        entry.counted = champion[0]
        return [ChampionPair(post_id, champion[0], champion[1], entry.human)]

    def shadow_rows(self, champion: str, challenger: str) -> ShadowRows:
        """The verdicts of ``champion`` and of ``challenger`` in shadow on the posts the challenger
        shadowed (champion verdicts of other posts say nothing about the pair), and their human labels."""
        champ: list[Verdict] = []
        chall: list[Verdict] = []
        human: list[HumanLabel] = []
        for entries in (self._pending, self._joined):
            for post_id, entry in entries.items():
                shadow = entry.verdicts.get("shadow")
                if shadow is None or shadow[0] != challenger:
                    continue
                chall.append(Verdict(post_id, shadow[1], challenger))
                served = entry.verdicts.get("champion")
                if served is not None and served[0] == champion:
                    champ.append(Verdict(post_id, served[1], champion))
                if entry.human is not None:
                    human.append(HumanLabel(post_id=post_id, label=entry.human, annotator="flyback sample"))
        return ShadowRows(champ, chall, human)

    def retain(self, versions: Collection[str]) -> int:
        """Forget the joined verdicts of every model version not in ``versions`` (those served now);
        return how many joined entries were dropped because nothing of theirs is served any more."""
        dropped = 0
        for post_id in list(self._joined):
            entry = self._joined[post_id]
            entry.verdicts = {role: v for role, v in entry.verdicts.items() if v[0] in versions}
            if not entry.verdicts:
                del self._joined[post_id]
                dropped += 1
        return dropped

    # ---- persistence ---------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """JSON-ready entries, oldest first. Safe in a thread while the event loop adds: every container
        is copied first by one C-level call, which CPython does not interrupt."""

        def rows(entries: OrderedDict[str, _Entry]) -> list[list[Any]]:
            return [[pid, {r: list(v) for r, v in dict(e.verdicts).items()}, e.human, e.counted]
                    for pid, e in list(entries.items())]

        return {"state_version": STATE_VERSION, "pending": rows(self._pending), "joined": rows(self._joined)}

    @classmethod
    def from_state(cls, state: dict[str, Any], config: LedgerConfig | None = None) -> VerdictLedger:
        """The saved entries under ``config`` (today's caps, not those they were saved with)."""
        if state.get("state_version") != STATE_VERSION:
            raise ValueError(f"verdict ledger state version {state.get('state_version')!r} is not {STATE_VERSION}")
        ledger = cls(config)
        for key, entries in (("pending", ledger._pending), ("joined", ledger._joined)):
            for pid, verdicts, human, counted in state[key]:
                entries[pid] = _Entry({r: (v[0], v[1]) for r, v in verdicts.items()}, human, counted)
        # Caps lowered since the save: the oldest go, as they would have.
        for entries, cap in ((ledger._pending, ledger.config.max_pending), (ledger._joined, ledger.config.max_joined)):
            while len(entries) > cap:
                entries.popitem(last=False)
        return ledger
