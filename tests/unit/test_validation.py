"""Every kind of bad input becomes a Rejected with a reason; good input becomes a Post with a brand."""

import json

import pytest

from streams.core.brand_rules import BrandResolver
from streams.worker.validation import Rejected, parse_post

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
        # Hostile records that once crashed the agent or stalled a partition, and their relatives.
        (b'{"post_id": "a\\ud800", "text": "@united hi", "created_at": "2015-02-24T11:35:00Z"}', "schema"),
        (b'{"post_id": "9", "brand": "United\\udc00", "text": "hi", "created_at": "2015-02-24T11:35:00Z"}', "schema"),
        (b"[" * 5000 + b"]" * 5000, "too_deep"),
        (post(metadata=json.loads("[" * 40 + "]" * 40)), "too_deep"),
        (b'{"post_id": "9", "text": "@united", "created_at": "2015-02-24T11:35:00Z", "metadata": ' + b"[" * 5000 + b"]" * 5000 + b"}", "too_deep"),
        (b'{"post_id": "9", "text": "@united hi", "created_at": "2015-02-24T11:35:00Z", "metadata": {"x": NaN}}', "malformed_json"),
        (b'{"post_id": "9", "text": "@united hi", "created_at": "2015-02-24T11:35:00Z", "metadata": {"x": -Infinity}}', "malformed_json"),
        (b'{"post_id": "9", "text": "@united hi", "created_at": "2015-02-24T11:35:00Z", "metadata": {"x": 1e999}}', "malformed_json"),
        (b'{"post_id": ' + b"9" * 5000 + b', "text": "@united hi", "created_at": "2015-02-24T11:35:00Z"}', "malformed_json"),
        (b'{"post_id": "9", "text": "@united hi", "text": "@delta hi", "created_at": "2015-02-24T11:35:00Z"}', "malformed_json"),
        (post(created_at="0001-01-01T00:00:00+14:00"), "schema"),
        (post(created_at=10**30), "schema"),
        (b'{"post_id": "9", "text": "@united", "created_at": "2015-02-24T11:35:00Z", "metadata": "' + b"x" * 1_000_001 + b'"}', "too_large"),
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


def test_lone_surrogates_in_free_text_are_repaired_not_rejected():
    """Truncated tweets cut emoji in half; the post is kept with U+FFFD where the half was."""
    raw = b'{"post_id": "9", "text": "@united great \\ud83d", "author": "a\\udc00", "created_at": "2015-02-24T11:35:00Z", "metadata": {"k\\ud800": ["\\udfff"]}}'
    p = parse(raw)
    assert not isinstance(p, Rejected), p
    assert p.text == "@united great \ufffd" and p.author == "a\ufffd"
    assert p.metadata == {"k\ufffd": ["\ufffd"]}
    assert parse(b'{"post_id": "9", "text": "@united \\ud83d\\ude00", "created_at": "2015-02-24T11:35:00Z"}').text == "@united \U0001F600"


def test_text_limit_is_the_setting_not_a_schema_constant():
    long = "@united " + "x" * 20_000
    assert isinstance(parse(post(text=long)), Rejected)
    p = parse_post(post(text=long), R, max_text_chars=50_000)
    assert not isinstance(p, Rejected) and len(p.text) == len(long)


def test_reach_comes_from_metadata_when_the_source_reports_it():
    p = parse(post(metadata={"retweet_count": 12, "followers": "340", "other": True}))
    assert (p.reposts, p.followers) == (12, 340)
    p = parse(post(metadata={"retweets": -5, "followers_count": 10**15}))
    assert (p.reposts, p.followers) == (0, 2**32 - 1)
    assert parse(post(metadata={"retweets": "many"})).reposts == 0
