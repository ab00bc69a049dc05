"""msgspec types from JSON schemas: never more lenient than jsonschema, and the direct
path's decisions (msgspec type, then the compiled validator) equal the SDK's."""

from __future__ import annotations

import json
import typing as t

import msgspec
import pytest
import redis
from helpers import record_msg, run_target, schema_msg, singer_lines
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from singer_sdk.exceptions import InvalidRecord
from singer_sdk.sinks.core import JSONSchemaValidator

from devtools.server import RedisServer
from target_redis.direct import _checker
from target_redis.reader import DECODER
from target_redis.schema_types import record_decoder
from target_redis.validation import CompiledValidator

NAMES = ["a", "b", "c"]


def direct_accepts(schema: dict[str, t.Any], raw: bytes | msgspec.Raw) -> bool:
    """The direct path's decision on a record's JSON (no key properties)."""
    line = b'{"record":' + bytes(msgspec.Raw(raw)) + b"}"
    return _checker(CompiledValidator(schema), frozenset())(DECODER.decode(raw), line)


SCALARS = ["null", "boolean", "integer", "number", "string"]


def _typed(kinds: list[str]) -> dict[str, t.Any]:
    return {"type": kinds[0] if len(kinds) == 1 else kinds}


def _object(
    properties: dict, required: list[str], extra: t.Any, null: bool, annotate: bool
) -> dict[str, t.Any]:
    schema: dict[str, t.Any] = {"type": ["object", "null"] if null else "object"}
    if properties:
        schema["properties"] = properties
    if required:
        schema["required"] = required
    if extra is not None:
        schema["additionalProperties"] = extra
    if annotate:
        schema["description"] = "annotated"
    return schema


def _array(items: t.Any, null: bool) -> dict[str, t.Any]:
    schema: dict[str, t.Any] = {"type": ["array", "null"] if null else "array"}
    if items is not None:
        schema["items"] = items
    return schema


scalar_schemas = st.one_of(
    st.lists(st.sampled_from(SCALARS), min_size=1, max_size=3, unique=True).map(_typed),
    st.just({"type": ["null", "string"], "format": "date-time"}),
    st.just({}),
    st.just({"type": "integer", "minimum": 0}),  # a keyword msgspec types leave out
    st.just({"enum": ["x", 1]}),
)
schemas = st.recursive(
    scalar_schemas,
    lambda children: st.one_of(
        st.builds(
            _object,
            st.dictionaries(st.sampled_from(NAMES), children, max_size=3),
            st.lists(st.sampled_from(NAMES), max_size=2, unique=True),
            st.one_of(st.none(), st.booleans(), children),
            st.booleans(),
            st.booleans(),
        ),
        st.builds(_array, st.one_of(st.none(), children), st.booleans()),
    ),
    max_leaves=8,
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([0.5, 1.0, -0.0, 1e20, 2.5e-8])
    | st.text(max_size=4),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(NAMES), children, max_size=3)
    ),
    max_leaves=10,
)
records = st.dictionaries(st.sampled_from(NAMES), json_values, max_size=3)


def sdk_decision(schema: dict, record: dict) -> bool:
    try:
        JSONSchemaValidator(schema).validate(record)
    except InvalidRecord:
        return False
    return True


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schemas.filter(lambda s: "object" in str(s.get("type"))), records)
def test_types_are_never_more_lenient_and_decisions_match(schema: dict, record: dict) -> None:
    schema = {**schema, "type": "object"}
    raw = msgspec.Raw(json.dumps(record).encode())
    decoded = DECODER.decode(raw)
    expected = sdk_decision(schema, decoded)
    decoder = record_decoder(schema)
    if decoder is not None:
        try:
            decoder.decode(raw)
        except msgspec.ValidationError:
            pass
        else:
            assert expected, f"msgspec accepted what jsonschema refuses: {schema} {record}"
    assert direct_accepts(schema, raw) == expected


@pytest.mark.parametrize(
    ("schema", "translates"),
    [
        ({"properties": {"a": {"type": ["null", "integer"]}}}, True),
        ({"type": "object", "properties": {"a": {"type": "object", "required": ["b"]}}}, True),
        ({"properties": {"a": {"type": "array", "items": {"type": "string"}}}}, True),
        ({"properties": {"a": {"type": "string", "format": "date-time"}}}, True),
        ({"properties": {"a": {"type": "integer", "minimum": 1}}}, False),
        ({"properties": {"a": {"anyOf": [{"type": "string"}]}}}, False),
        ({"properties": {"a": {"$ref": "#/definitions/x"}}, "definitions": {"x": {}}}, False),
        ({"properties": {"a": {}}, "additionalProperties": False}, False),
        ({"properties": {"a": {"type": "array", "items": [{"type": "string"}]}}}, False),
        ({"properties": {"a": {"properties": {"b": {"type": "string"}}}}}, False),
        # msgspec refuses such field names (ValueError): the validator decides instead
        ({"properties": {'quo"te': {"type": "string"}}}, False),
        ({"properties": {"back\\slash": {"type": "string"}}}, False),
        ({"properties": {"o": {"type": "object", "properties": {"tab\t": {}}}}}, False),
    ],
)
def test_which_schemas_translate(schema: dict, translates: bool) -> None:
    assert (record_decoder(schema) is not None) is translates


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        (b'{"n": 1.0}', False),  # a Decimal, so no integer to the SDK's validator either
        (b'{"n": 123456789012345678901234567890}', True),
        (b'{"n": true}', False),
        (b'{"n": "1"}', False),
        (b'{"n": null}', True),
        (b'{"x": [1, {"y": 2}]}', True),
    ],
)
def test_integer_edge_cases(text: bytes, valid: bool) -> None:
    schema = {"type": "object", "properties": {"n": {"type": ["null", "integer"]}}}
    assert direct_accepts(schema, text) is valid
    assert sdk_decision(schema, DECODER.decode(text)) is valid


def test_a_number_msgspec_cannot_hold_is_judged_by_the_validator() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "number"}}}
    text = b'{"x": 1e400}'
    decoder = record_decoder(schema)
    assert decoder is not None
    with pytest.raises(msgspec.ValidationError):
        decoder.decode(text)
    assert direct_accepts(schema, text) is True
    assert sdk_decision(schema, DECODER.decode(text)) is True


def test_a_property_name_with_a_quote_loads(server: RedisServer, r: redis.Redis) -> None:
    """It stopped the run ('Renamed field names must not contain...'), a valid input."""
    props = {"id": {"type": "integer"}, 'say "hi"': {"type": "string"}, "a\\b": {"type": "string"}}
    record = {"id": 1, 'say "hi"': "x", "a\\b": "y"}
    config = server.config(record_format="fields", load_method="upsert")
    run_target(config, singer_lines(schema_msg("s", props, ["id"]), record_msg("s", record)))
    assert r.hgetall(":s:1") == {"id": "1", 'say "hi"': "x", "a\\b": "y"}
