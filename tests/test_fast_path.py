"""The fast path (msgspec, compiled validation, packed pipelines) against the plain
SDK path: same Redis contents, same accept/reject decisions."""

from __future__ import annotations

import decimal
import json
import typing as t

import pytest
import redis
import simplejson
from helpers import hashes
from hypothesis import given, settings
from hypothesis import strategies as st
from singer_sdk.exceptions import InvalidRecord
from singer_sdk.sinks.core import JSONSchemaValidator

from devtools.server import RedisServer
from target_redis import rows as layouts
from target_redis.reader import PlainReader
from target_redis.target import TargetRedis
from target_redis.validation import CompiledValidator

D = decimal.Decimal


class PlainTargetRedis(TargetRedis):
    """The SDK's own reader, validator, timestamp parsing and simplejson encoding."""

    fast_path = False
    message_reader_class = PlainReader


PROPERTIES = {
    "id": {"type": "integer"},
    "text": {"type": ["null", "string"]},
    "num": {"type": ["null", "number"]},
    "big": {"type": ["null", "integer"]},
    "flag": {"type": ["null", "boolean"]},
    "when": {"type": ["null", "string"], "format": "date-time"},
    "day": {"type": ["null", "string"], "format": "date"},
    "at": {"type": ["null", "string"], "format": "time"},
    "nested": {"type": ["null", "object"]},
    "list": {"type": ["null", "array"]},
}
RECORDS: list[dict[str, t.Any]] = [
    {
        "id": 1,
        "text": "plain",
        "num": D("0.1"),
        "big": 2**70,
        "flag": True,
        "when": "2024-01-02T03:04:05Z",
        "day": "2024-01-02",
        "at": "03:04:05",
    },
    {"id": 2, "text": 'Zoë 李雷 🚀 \u2028 \u0000 \t " \\ /', "num": D("1E+20"), "big": -(2**63)},
    {"id": 3, "num": D("-0.0"), "when": "2024-01-02T03:04:05.123456+05:30", "nested": None},
    {"id": 4, "num": D("2.50"), "nested": {"a": [1, D("1e-7"), None, {"b": []}], "c": "ü"}},
    {"id": 5, "list": [[], [[1, 2], [D("3.0")]], "x", None, True], "when": "2024-01-02T03:04:05"},
    {"id": 6, "text": "", "num": D("123456789012345678901234567890.5"), "day": None},
    {"id": 7, "text": "\ud7ff\ue000\uffff", "when": "2024-02-29T23:59:59.9Z"},
]


def lines(records: t.Iterable[dict], *, ascii_escapes: bool) -> str:
    out = [
        json.dumps(
            {
                "type": "SCHEMA",
                "stream": "s",
                "key_properties": ["id"],
                "schema": {"type": "object", "properties": PROPERTIES},
            }
        )
    ]
    for i, record in enumerate(records):
        message = {
            "type": "RECORD",
            "stream": "s",
            "record": record,
            "time_extracted": f"2024-06-01T00:00:0{i % 10}Z",
        }
        out.append(simplejson.dumps(message, use_decimal=True, ensure_ascii=ascii_escapes))
    out.append(json.dumps({"type": "STATE", "value": {"n": D("0.5").__float__()}}))
    return "\n".join(out) + "\n"


def contents(client: redis.Redis, namespace: str) -> dict[str, dict[str, str]]:
    return {
        key[len(namespace) :]: fields for key, fields in hashes(client, f"{namespace}:*").items()
    }


def run_with(target_class: type[TargetRedis], config: dict, text: str) -> list[dict]:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        target = target_class(config=dict(config))
        target.process_lines(io.StringIO(text))
        target.process_endofpipe()
        target.close()
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.mark.parametrize("load_method", ["append-only", "upsert"])
@pytest.mark.parametrize("ascii_escapes", [False, True])
def test_same_redis_contents_as_plain_path(
    server: RedisServer, r: redis.Redis, load_method: str, ascii_escapes: bool
) -> None:
    text = lines(RECORDS * 2, ascii_escapes=ascii_escapes)
    config = server.config(load_method=load_method, batch_size_rows=3)
    fast = run_with(TargetRedis, {**config, "namespace": "fast"}, text)
    plain = run_with(PlainTargetRedis, {**config, "namespace": "plain"}, text)
    assert fast == plain == [{"n": 0.5}]
    fast_rows, plain_rows = contents(r, "fast"), contents(r, "plain")
    assert fast_rows == plain_rows
    assert len(fast_rows) == (len(RECORDS) if load_method == "upsert" else 2 * len(RECORDS))
    stored = json.loads(fast_rows[":s:1"]["_airbyte_data"], parse_float=D)
    assert stored["big"] == 2**70 and stored["when"] == "2024-01-02T03:04:05Z"


def test_stream_maps_work_on_fast_path(server: RedisServer, r: redis.Redis) -> None:
    maps = {"s": {"label": "'#' + str(id)", "text": "__NULL__", "__alias__": "renamed"}}
    text = lines(RECORDS[:3], ascii_escapes=False)
    for cls, ns in ((TargetRedis, "fast"), (PlainTargetRedis, "plain")):
        run_with(cls, server.config(namespace=ns, stream_maps=maps), text)
    assert contents(r, "fast") == contents(r, "plain")
    first = json.loads(r.hget("fast:renamed:1", "_airbyte_data"))
    assert first["label"] == "#1" and "text" not in first


BAD_RECORDS = [
    ({"id": "1"}, "id"),
    ({"id": 1, "num": "x"}, "num"),
    ({"id": 1, "flag": 1}, "flag"),
    ({"id": 1.5}, "id"),
    ({"id": 1, "nested": []}, "nested"),
]


def test_non_iso_dates_are_stored_as_sent_on_both_paths(
    server: RedisServer, r: redis.Redis
) -> None:
    text = lines([{"id": 1, "when": "yesterday"}], ascii_escapes=False)
    for cls, ns in ((TargetRedis, "fast"), (PlainTargetRedis, "plain")):
        run_with(cls, server.config(namespace=ns), text)
    assert contents(r, "fast") == contents(r, "plain")
    assert json.loads(r.hget("fast:s:1", "_airbyte_data"))["when"] == "yesterday"


@pytest.mark.parametrize(("record", "field"), BAD_RECORDS)
def test_invalid_records_rejected_on_both_paths(
    server: RedisServer, r: redis.Redis, record: dict, field: str
) -> None:
    text = lines([record], ascii_escapes=False)
    errors = []
    for cls in (TargetRedis, PlainTargetRedis):
        with pytest.raises((InvalidRecord, ValueError)) as caught:
            run_with(cls, server.config(), text)
        errors.append(str(caught.value))
    # Both reject; the fast path's message also names the field (the SDK's may not).
    assert f"{field} must be" in errors[0] or f"'{field}'" in errors[0], errors
    assert r.keys("*") == []


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=10), json_values, max_size=6))
def test_encoders_agree(record: dict) -> None:
    assert layouts.encode_data(record) == layouts.encode_data_plain(record)


SCHEMA = {"type": "object", "properties": PROPERTIES, "required": ["id"]}
FAST, PLAIN = CompiledValidator(SCHEMA), JSONSchemaValidator(SCHEMA)


def decision(validator: t.Any, record: dict) -> bool:
    try:
        validator.validate(record)
    except InvalidRecord:
        return False
    return True


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from([*PROPERTIES, "other"]), json_values, max_size=6))
def test_validators_agree(record: dict) -> None:
    assert decision(FAST, record) == decision(PLAIN, record)
