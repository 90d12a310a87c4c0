"""Turn raw Kafka record bytes into a valid :class:`~streams.core.schemas.Post` or a rejection reason.

This is the only place input is judged, and it is total: :func:`parse_post` returns a ``Post`` or a
``Rejected`` for every possible byte string and never raises, because an exception here would take a
whole batch of valid posts down with the one bad record. Every failure has a short machine-readable
kind and a human-readable reason, which travel with the original bytes to the dead-letter topic.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from streams.core.brand_rules import UNKNOWN_BRAND, BrandResolver
from streams.core.schemas import Post

# Deeper JSON is rejected: no real post needs it, and Python's parser recurses per level.
MAX_NESTING = 32
# Longer integers are rejected before int() converts them (CPython caps at 4,300 digits and
# conversion is quadratic below that); tweet ids have 19.
MAX_INT_DIGITS = 40
# Fields that identify a post or route it: a lone surrogate there is rejected, not repaired,
# because two different ids must never become the same id.
IDENTIFIERS = ("post_id", "brand", "lang", "platform")
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Rejected:
    kind: str  # "empty", "too_large", "not_utf8", "malformed_json", "too_deep", "schema", "unknown_brand", "invalid"
    reason: str
    post_id: str | None = None


class _Refused(ValueError):
    """Raised by the JSON hooks; carries the rejection kind."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                # Parsers disagree on which copy wins, so one record would mean two different posts.
                raise _Refused("malformed_json", f"duplicate key {_shown(key)}")
            seen.add(key)
    return obj


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused("malformed_json", f"number with {len(text)} digits (limit {MAX_INT_DIGITS})")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused("malformed_json", f"number {text[:40]} is out of range")
    return value


def _no_constants(name: str) -> float:
    raise _Refused("malformed_json", f"{name} is not valid JSON")


def _shown(value: str, limit: int = 60) -> str:
    """A value quoted for a reason, short and always encodable."""
    return repr(value[:limit] + ("…" if len(value) > limit else "")).encode("utf-8", "backslashreplace").decode()


def _depth(obj: Any) -> int:
    """Nesting depth of parsed JSON, iteratively (the parser already bounded it by its recursion limit)."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(node, dict):
            stack.extend((v, level + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, level + 1) for v in node)
    return deepest


def _is_utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _repair(node: Any) -> Any:
    """Replace lone surrogates (half an emoji from a truncated tweet) in free text with U+FFFD."""
    if isinstance(node, str):
        return node if _is_utf8(node) else _SURROGATE.sub("\ufffd", node)
    if isinstance(node, dict):
        return {_repair(k): _repair(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_repair(v) for v in node]
    return node


def _decode(raw: bytes) -> dict[str, Any] | Rejected:
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejected("not_utf8", f"value is not valid UTF-8 (byte {exc.start}: {exc.reason})")
    try:
        obj = json.loads(
            decoded, object_pairs_hook=_no_duplicate_keys, parse_int=_bounded_int,
            parse_float=_finite_float, parse_constant=_no_constants,
        )
    except _Refused as exc:
        return Rejected(exc.kind, str(exc))
    except json.JSONDecodeError as exc:
        return Rejected("malformed_json", f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    except RecursionError:
        return Rejected("too_deep", f"JSON nests deeper than {MAX_NESTING} levels")
    if not isinstance(obj, dict):
        return Rejected("schema", f"expected a JSON object, got {type(obj).__name__}")
    if _depth(obj) > MAX_NESTING:
        return Rejected("too_deep", f"JSON nests deeper than {MAX_NESTING} levels")
    return obj


def _post_id(obj: dict[str, Any]) -> str | None:
    """The record's id as far as it can be read, for the dead letter (stored, so always valid UTF-8)."""
    value = obj.get("post_id")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = str(value)[:128]
    return text if _is_utf8(text) else None


def _describe(err: ValidationError) -> str:
    parts = []
    for e in err.errors()[:5]:
        loc = ".".join(str(p) for p in e["loc"]) or "record"
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts)


def parse_post(
    raw: bytes | None,
    resolver: BrandResolver,
    *,
    max_text_chars: int,
    keep_unknown_brand: bool = False,
    max_record_bytes: int = 1_000_000,
) -> Post | Rejected:
    try:
        return _parse(raw, resolver, max_text_chars=max_text_chars, keep_unknown_brand=keep_unknown_brand,
                      max_record_bytes=max_record_bytes)
    except Exception as exc:  # noqa: BLE001 - total by contract: a new failure mode is a dead letter, not a crash
        return Rejected("invalid", f"record could not be validated: {type(exc).__name__}: {exc}"[:500])


def _parse(
    raw: bytes | None, resolver: BrandResolver, *, max_text_chars: int, keep_unknown_brand: bool, max_record_bytes: int
) -> Post | Rejected:
    if raw is None or len(raw) == 0:
        return Rejected("empty", "record value is empty")
    if len(raw) > max_record_bytes:
        return Rejected("too_large", f"record is {len(raw)} bytes, limit is {max_record_bytes}")
    obj = _decode(raw)
    if isinstance(obj, Rejected):
        return obj
    post_id = _post_id(obj)
    for name in IDENTIFIERS:
        value = obj.get(name)
        if isinstance(value, str) and not _is_utf8(value):
            return Rejected("schema", f"{name}: not valid Unicode (lone surrogate)", post_id)
    obj = _repair(obj)
    text = obj.get("text")
    if isinstance(text, str) and len(text.strip()) > max_text_chars:
        return Rejected("too_large", f"text has {len(text.strip())} characters, limit is {max_text_chars}", post_id)
    try:
        post = Post.model_validate(obj)
    except ValidationError as exc:
        return Rejected("schema", _describe(exc), post_id)

    if post.brand:
        brand = resolver.canonical(post.brand)
        if brand is None and not keep_unknown_brand:
            return Rejected("unknown_brand", f"brand {_shown(post.brand)} is not configured (known: {', '.join(resolver.brands)})", post.post_id)
        brand = brand or post.brand
    else:
        brand = resolver.resolve(post.text)
        if brand is None:
            if not keep_unknown_brand:
                return Rejected("unknown_brand", "no brand given and no brand rule matched the text", post.post_id)
            brand = UNKNOWN_BRAND
    return post.model_copy(update={"brand": brand})
