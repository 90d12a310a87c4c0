"""Text helpers shared by the page and its charts."""

from __future__ import annotations

import datetime as dt
import html


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def when(t: dt.datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC") if t else "–"


def pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"
