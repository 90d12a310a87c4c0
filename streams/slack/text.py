"""Text that a feed, a model registry or an exception wrote, made safe to put in a Slack message.

Three steps, always in this order (:func:`fit` and :func:`code` do all three):

1. :func:`clean` — control and invisible characters (zero-width spaces, bidi overrides, tag
   characters, Hangul fillers …) become one visible ``�`` per run instead of vanishing or being
   ``repr()``-expanded to ``\\u200b`` ×N; whitespace runs collapse; stacked combining marks are capped.
2. cut on a character boundary (never inside an emoji's joiner sequence or before its combining
   mark), *before* escaping, so no ``&amp;`` is split in half;
3. escape: ``&``, ``<`` and ``>`` become entities (Slack's documented escaping, which makes
   ``<!channel>``, ``<@U123>`` and ``<https://x|y>`` inert), and in mrkdwn the formatting marks
   ``* _ ~ ``` ``…`` that could open bold, italics, strike or code become look-alikes, except inside a
   word, where Slack never reads them as marks (``delta_assist`` stays as it is).

Budgets count the *escaped* text in characters, as Slack's limits (and slack_sdk's validators) do,
and include the ``…`` that marks a cut. Our own formatting (``*bold*``, code spans) is added around
already-fitted text, so a cut can never leave it open.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

HIDDEN = "\ufffd"  # shown once per run of invisible characters
ELLIPSIS = "…"

_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Letters and symbols by category that render as nothing (used to fake empty or look-alike names).
_BLANK = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_ZWJ = "\u200d"
_MAX_MARKS = 2  # combining marks kept on one character ("Zalgo" text stacks hundreds)
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MARKS = {"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"}  # ∗ ˍ ∼ ˋ
# A formatting mark with a letter or digit on both sides never opens or closes formatting in Slack.
_LOOSE_MARK = re.compile(r"`|(?<![^\W_])[*_~]|[*_~](?![^\W_])")


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch) in ("Mn", "Me")


def _hidden(ch: str) -> bool:
    return ch in _BLANK or (unicodedata.category(ch) in _HIDDEN_CATEGORIES and ch not in "\n\t\r")


def clean(text: str, *, multiline: bool = False) -> str:
    """Visible, compact text: hidden characters shown as ``�`` (one per run), whitespace collapsed.

    One line unless ``multiline`` (then single newlines survive and blank lines are at most one).
    A zero-width joiner between two symbols is kept (it builds emoji such as 👩‍💻).
    """
    out: list[str] = []
    marks = 0
    n = len(text)
    for i, ch in enumerate(text):
        if ch == _ZWJ and out and i + 1 < n and unicodedata.category(out[-1][-1]) in ("So", "Sk", "Mn") \
                and unicodedata.category(text[i + 1]) == "So":
            out.append(ch)
            continue
        if ch in "\r\n" and multiline:
            if ch == "\n" and out and out[-1] == "\r":
                continue  # \r\n
            ch = "\n"
        elif ch.isspace():
            ch = " "
        elif _hidden(ch):
            ch = HIDDEN
        if ch == "\n":
            if len(out) >= 2 and out[-1] == "\n" and out[-2] == "\n":
                continue
            if out and out[-1] == " ":
                out.pop()
            out.append(ch)
        elif ch == " ":
            if out and out[-1] in " \n":
                continue
            out.append(ch)
        elif ch == HIDDEN:
            if not out or out[-1] != HIDDEN:
                out.append(ch)
        elif _is_mark(ch):
            marks += 1
            if marks <= _MAX_MARKS and out:
                out.append(ch)
            continue
        else:
            out.append(ch)
        marks = 0
    return "".join(out).strip(" \n")


def escape_plain(text: str) -> str:
    """Slack's escaping for any text object (plain_text too): ``&``, ``<``, ``>`` as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_mrkdwn(text: str) -> str:
    """:func:`escape_plain` and formatting marks that could pair with another made inert."""
    return escape_plain(_LOOSE_MARK.sub(lambda m: _MARKS[m.group()], text))


def escape_code(text: str) -> str:
    """For text inside a code span: only a backtick could end it early."""
    return escape_plain(text.replace("`", _MARKS["`"]))


def _cost(ch: str) -> int:
    return len(_ESCAPES.get(ch, ch))


def _boundary(text: str, k: int) -> int:
    """The nearest cut at or before ``k`` that keeps combining marks and emoji sequences whole."""
    while 0 < k < len(text) and (_is_mark(text[k]) or text[k] == _ZWJ or text[k - 1] == _ZWJ):
        k -= 1
    return k


def cut(text: str, budget: int, *, cut_already: bool = False) -> str:
    """The longest head of ``text`` whose escaped form, plus ``…`` when cut, fits ``budget``.

    ``cut_already``: ``text`` is itself the head of something longer, so it ends in ``…`` regardless."""
    if budget <= 0:
        return ""
    if not cut_already:
        total = 0
        for ch in text:
            total += _cost(ch)
            if total > budget:
                break
        else:
            return text
    # Cut so that the head and the ellipsis fit.
    used = 0
    k = 0
    while k < len(text) and used + _cost(text[k]) <= budget - len(ELLIPSIS):
        used += _cost(text[k])
        k += 1
    return text[:_boundary(text, k)].rstrip(" \n") + ELLIPSIS


def _head(text: str, budget: int) -> tuple[str, bool]:
    # Nothing past this can be shown (cleaning only shortens): it bounds the work on a 10 MB field.
    limit = 4 * budget + 64
    return text[:limit], len(text) > limit


def fit(text: str | None, budget: int, *, multiline: bool = False,
        escape: Callable[[str], str] = escape_mrkdwn) -> str:
    """User text cleaned, cut to ``budget`` escaped characters, then escaped (mrkdwn by default)."""
    head, longer = _head(text or "", budget)
    return escape(cut(clean(head, multiline=multiline), budget, cut_already=longer))


def code(text: str | None, budget: int = 120) -> str:
    """User text as an inline code span (never empty, never left open), at most ``budget`` characters."""
    head, longer = _head(text or "", budget)
    inner = escape_code(cut(clean(head), max(budget - 2, 1), cut_already=longer))
    return f"`{inner or ' '}`"
