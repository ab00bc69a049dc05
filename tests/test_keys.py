"""Key naming and primary-key encoding (pure, no I/O)."""

from __future__ import annotations

import decimal
import fnmatch

import fakeredis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from target_redis.keys import (
    encode_pk,
    escape_glob,
    parse_id_suffix,
    record_key,
    records_pattern,
    stream_key,
)
from target_redis.keyspace import KeySpace
from target_redis.server import ServerInfo
from target_redis.writer import Writer


def test_empty_namespace_gives_leading_colon() -> None:
    assert stream_key("", "users") == ":users"
    assert record_key("", "users", 7) == ":users:7"
    assert record_key("prod", "users", 7) == "prod:users:7"


@pytest.mark.parametrize(
    ("values", "suffix"),
    [
        ([42], "42"),
        (["a:b"], "a:b"),
        ([True], "\\true"),
        (["true"], "true"),
        (["\\true"], "\\\\true"),
        ([[1]], "\\[1]"),
        (["[1]"], "[1]"),
        ([decimal.Decimal("1.50")], "1.50"),
        ([1, "x"], "1:x"),
        (["a:b", "c"], "a\\:b:c"),
        (["a", "b:c"], "a:b\\:c"),
        (["a\\", ":b"], "a\\\\:\\:b"),
        ([{"k": [1, 2]}], '\\{"k":[1,2]}'),
        (["", ""], ":"),
    ],
)
def test_encode_pk(values: list, suffix: str) -> None:
    assert encode_pk(values) == suffix


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.sampled_from(list('\\:"[]{}tf1 .eE-a')), max_size=6),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=6,
)


def _same_text_number(a: object, b: object) -> bool:
    # The one stated exception: a number and a string with the same text share a key.
    numbers = (int, decimal.Decimal)
    pair = {type(a), type(b)}
    return (
        any(issubclass(k, numbers) and not issubclass(k, bool) for k in pair)
        and str in pair
        and str(a) == str(b)
    )


@settings(max_examples=2000, deadline=None)
@given(st.lists(JSON.filter(lambda v: v is not None), min_size=1, max_size=3), st.data())
def test_distinct_json_values_give_distinct_keys(first: list, data: st.DataObject) -> None:
    second = data.draw(
        st.lists(JSON.filter(lambda v: v is not None), min_size=len(first), max_size=len(first))
    )
    if encode_pk(first) != encode_pk(second):
        return
    # Same key: the values are equal as JSON, or differ only by the stated exception.
    for a, b in zip(first, second, strict=True):
        equal = a == b and isinstance(a, bool) == isinstance(b, bool)
        assert equal or _same_text_number(a, b), (first, second)


def test_values_of_different_json_types_give_different_keys() -> None:
    values = [True, "true", "\\true", [1], "[1]", "\\[1]", {"a": 1}, '{"a":1}', False, "false"]
    assert len({encode_pk([v]) for v in values}) == len(values)
    assert encode_pk([1]) == encode_pk(["1"])  # the stated exception


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


# Property tests: names and values full of separators, glob characters and unicode.

TEXT = st.characters(blacklist_categories=("Cs",))  # text that can be UTF-8 encoded
NASTY = st.text(alphabet=st.sampled_from(list(":*?[]\\^-!ab1é🚀 ")) | TEXT, max_size=8)


@settings(max_examples=500, deadline=None)
@given(
    st.integers(1, 3).flatmap(
        lambda n: st.tuples(
            st.lists(NASTY, min_size=n, max_size=n), st.lists(NASTY, min_size=n, max_size=n)
        )
    )
)
def test_distinct_primary_keys_give_distinct_keys(pair: tuple[list[str], list[str]]) -> None:
    first, second = pair
    if first != second:
        assert encode_pk(first) != encode_pk(second)


NAME = st.text(
    alphabet=st.sampled_from(list("*?[]\\^-!ab1é🚀 ")) | TEXT.filter(lambda c: c != ":"), max_size=6
)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(NAME, NAME, NASTY), min_size=2, max_size=2, unique=True))
def test_keys_unique_across_streams_without_colons_in_names(
    items: list[tuple[str, str, str]],
) -> None:
    (n1, s1, pk1), (n2, s2, pk2) = items
    assert record_key(n1, s1, encode_pk([pk1])) != record_key(n2, s2, encode_pk([pk2]))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(NASTY, NASTY.filter(bool)), min_size=2, max_size=4, unique=True))
def test_overwrite_cleanup_touches_only_its_own_keyspace(streams: list[tuple[str, str]]) -> None:
    client = fakeredis.FakeRedis(decode_responses=True)
    written: dict[tuple[str, str], set[str]] = {}
    for namespace, stream in streams:
        client.incrby(stream_key(namespace, stream), 3)
        keys = {record_key(namespace, stream, ab_id) for ab_id in (1, 2, 3)}
        keys.add(record_key(namespace, stream, encode_pk(["k:1"])))
        for key in keys:
            client.hset(key, "_airbyte_ab_id", "1")
        written[(namespace, stream)] = keys
    before = set(client.keys("*"))
    namespace, stream = streams[0]
    space = KeySpace(namespace, stream)
    writer = Writer(client, ServerInfo((7, 0)))
    writer.remove(space.own_records(writer.scan(space.pattern), writer))
    removed = before - set(client.keys("*"))
    # Only record keys of this exact key space (N:S as joined text) were removed, and
    # none that another stream wrote too (its counter tells it apart).
    others = set().union(*(k for s, k in written.items() if stream_key(*s) != space.key))
    assert removed == written[streams[0]] - others
