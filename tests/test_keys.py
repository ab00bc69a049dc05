"""Key naming and primary-key encoding (pure, no I/O)."""

from __future__ import annotations

import decimal
import fnmatch

import pytest

from target_redis.keys import (
    encode_pk,
    escape_glob,
    parse_id_suffix,
    record_key,
    records_pattern,
    stream_key,
)


def test_empty_namespace_gives_leading_colon() -> None:
    assert stream_key("", "users") == ":users"
    assert record_key("", "users", 7) == ":users:7"
    assert record_key("prod", "users", 7) == "prod:users:7"


@pytest.mark.parametrize(
    ("values", "suffix"),
    [
        ([42], "42"),
        (["a:b"], "a:b"),
        ([True], "true"),
        ([decimal.Decimal("1.50")], "1.50"),
        ([1, "x"], "1:x"),
        (["a:b", "c"], "a\\:b:c"),
        (["a", "b:c"], "a:b\\:c"),
        (["a\\", ":b"], "a\\\\:\\:b"),
        ([{"k": [1, 2]}], '{"k":[1,2]}'),
        (["", ""], ":"),
    ],
)
def test_encode_pk(values: list, suffix: str) -> None:
    assert encode_pk(values) == suffix


def test_composite_keys_with_colons_do_not_collide() -> None:
    candidates = [
        ("a:b", "c"),
        ("a", "b:c"),
        ("a:b:c", ""),
        ("", "a:b:c"),
        ("a\\", "b"),
        ("a", "\\b"),
        ("a\\:", "b"),
        ("a", ":b"),
    ]
    encoded = {encode_pk(list(c)) for c in candidates}
    assert len(encoded) == len(candidates)


def test_scan_pattern_is_literal_for_glob_characters() -> None:
    pattern = records_pattern("ns[1]", "s*t?\\")
    assert pattern == "ns\\[1\\]:s\\*t\\?\\\\:*"
    assert escape_glob("plain") == "plain"


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (":users:12", 12),
        (":users:0012", None),
        (":users:12a", None),
        (":users:x:12", None),
        (":users:", None),
        (":users2:12", None),
        (":users:١٢", None),  # non-ASCII digits are not ids
    ],
)
def test_parse_id_suffix(key: str, expected: int | None) -> None:
    assert parse_id_suffix(key, ":users") == expected


def test_pattern_of_one_stream_does_not_match_longer_stream_name() -> None:
    # fnmatch is close enough to Redis globbing for a pattern without escapes.
    assert not fnmatch.fnmatchcase(":users2:1", records_pattern("", "users"))
    assert fnmatch.fnmatchcase(":users:1", records_pattern("", "users"))
