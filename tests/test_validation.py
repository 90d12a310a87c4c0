"""Every kind of bad input becomes a Rejected with a reason; good input becomes a Post with a brand."""

import json

import pytest

from streams.brands import BrandResolver
from streams.validation import Rejected, parse_post

R = BrandResolver.from_file(None)


def post(**kw):
    base = {"post_id": "1", "text": "@united lost my bag", "created_at": "2015-02-24T11:35:00Z"}
    base.update(kw)
    return json.dumps(base).encode()


def parse(raw, keep=False):
    return parse_post(raw, R, max_text_chars=10_000, keep_unknown_brand=keep)


def test_valid_post_gets_brand_from_handle():
    p = parse(post())
    assert not isinstance(p, Rejected)
    assert p.brand == "United" and p.created_at.tzinfo is not None


@pytest.mark.parametrize(
    "raw, kind",
    [
        (b"", "empty"),
        (b"{not json", "malformed_json"),
        (b"\xff\xfe\x00garbage", "not_utf8"),
        (b"[1, 2]", "schema"),
        (json.dumps({"text": "@united hi", "created_at": "2015-02-24T11:35:00Z"}).encode(), "schema"),  # no id
        (post(text=""), "schema"),
        (post(text="   "), "schema"),
        (post(text="x" * 10_001), "too_large"),
        (post(created_at="yesterday-ish"), "schema"),
        (post(created_at="2999-01-01T00:00:00Z"), "schema"),
        (post(text="no brand mentioned here"), "unknown_brand"),
        (post(brand="Acme Airlines"), "unknown_brand"),
        (b'{"post_id": "9", "text": "@united \\ud800", "created_at": "2015-02-24T11:35:00Z"}', "schema"),
    ],
)
def test_bad_input_is_rejected_with_reason(raw, kind):
    r = parse(raw)
    assert isinstance(r, Rejected), r
    assert r.kind == kind
    assert r.reason


def test_reason_names_the_field():
    r = parse(json.dumps({"post_id": "7", "created_at": "2015-02-24T11:35:00Z"}).encode())
    assert isinstance(r, Rejected) and "text" in r.reason and r.post_id == "7"


def test_unknown_brand_can_be_kept():
    p = parse(post(text="nothing about airlines"), keep=True)
    assert not isinstance(p, Rejected) and p.brand == "unknown"


def test_explicit_brand_is_canonicalised_and_numeric_id_kept_exact():
    p = parse(post(brand="virgin america", post_id=570306133677760513))
    assert not isinstance(p, Rejected)
    assert p.brand == "Virgin America" and p.post_id == "570306133677760513"


def test_brand_rules_precedence_and_file(tmp_path):
    assert R.resolve("flying #jetblue today with @united") == "United"  # handle beats hashtag
    assert R.resolve("Virgin America was great") == "Virgin America"
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"brands": [{"brand": "Acme", "handles": ["acme"], "keywords": ["acme corp"]}]}))
    r = BrandResolver.from_file(rules)
    assert r.resolve("love @ACME") == "Acme" and r.resolve("acme corp rocks") == "Acme" and r.resolve("@united") is None
    with pytest.raises(ValueError, match="cannot read brand rules"):
        BrandResolver.from_file(tmp_path / "missing.json")
