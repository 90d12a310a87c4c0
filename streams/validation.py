"""Turn raw Kafka record bytes into a valid :class:`~streams.schemas.Post` or a rejection reason.

This is the only place input is judged. Every failure has a short machine-readable kind and a
human-readable reason, which travel with the original bytes to the dead-letter topic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pydantic import ValidationError

from streams.brands import UNKNOWN_BRAND, BrandResolver
from streams.schemas import Post


@dataclass(frozen=True, slots=True)
class Rejected:
    kind: str  # e.g. "not_utf8", "malformed_json", "schema", "too_large", "unknown_brand"
    reason: str
    post_id: str | None = None


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
    if raw is None or len(raw) == 0:
        return Rejected("empty", "record value is empty")
    if len(raw) > max_record_bytes:
        return Rejected("too_large", f"record is {len(raw)} bytes, limit is {max_record_bytes}")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejected("not_utf8", f"value is not valid UTF-8 (byte {exc.start}: {exc.reason})")
    try:
        obj = json.loads(decoded)
    except json.JSONDecodeError as exc:
        return Rejected("malformed_json", f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    if not isinstance(obj, dict):
        return Rejected("schema", f"expected a JSON object, got {type(obj).__name__}")
    post_id = obj.get("post_id")
    post_id = str(post_id) if isinstance(post_id, (str, int)) and not isinstance(post_id, bool) else None
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
            return Rejected("unknown_brand", f"brand {post.brand!r} is not configured (known: {', '.join(resolver.brands)})", post.post_id)
        brand = brand or post.brand
    else:
        brand = resolver.resolve(post.text)
        if brand is None:
            if not keep_unknown_brand:
                return Rejected("unknown_brand", "no brand given and no brand rule matched the text", post.post_id)
            brand = UNKNOWN_BRAND
    return post.model_copy(update={"brand": brand})
