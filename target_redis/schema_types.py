"""msgspec types from a stream's JSON schema: records checked while msgspec decodes them
(objects become Structs: faster to build than dicts, and unknown keys are skipped).

Only schemas made of ``type``, ``properties``, ``required``, ``items``,
``additionalProperties`` and annotations translate (anything else gives None, and the
compiled validator does all the work). The type is never more lenient than the
schema: what it accepts, jsonschema accepts. It may be stricter (``1e400`` is a valid
JSON Schema number, out of range for msgspec), so a refusal is only a reason to ask
the compiled validator, which decides.
"""

from __future__ import annotations

import functools
import operator
import typing as t

import msgspec

_ANNOTATIONS = frozenset(
    {
        *("format", "description", "title", "default", "examples", "$comment"),
        *("readOnly", "writeOnly", "deprecated", "$schema", "definitions", "$defs"),
    }
)
_STRUCTURE = frozenset({"type", "properties", "required", "items", "additionalProperties"})
_SCALARS: dict[str, t.Any] = {
    "null": None,
    "boolean": bool,
    "integer": int,
    "string": str,
}


class Unsupported(Exception):
    """The schema uses something a msgspec type cannot express exactly."""


def record_decoder(schema: dict[str, t.Any]) -> msgspec.json.Decoder | None:
    """A decoder that accepts a record's JSON only if the schema does; None when the
    schema does not translate."""
    try:
        record_type = _translate({"type": "object", **schema})
        return msgspec.json.Decoder(record_type)
    except (Unsupported, TypeError, ValueError, RecursionError):
        return None  # ValueError: a property name msgspec refuses ('"', '\\', controls)


def _translate(schema: t.Any) -> t.Any:
    if schema is True or schema == {}:
        return t.Any
    if not isinstance(schema, dict) or not _STRUCTURE.union(_ANNOTATIONS).issuperset(schema):
        raise Unsupported
    kinds = schema.get("type")
    if kinds is None:
        if _STRUCTURE.intersection(schema):
            raise Unsupported  # properties apply only to objects: needs a type check
        return t.Any
    if isinstance(kinds, str):
        kinds = [kinds]
    if not isinstance(kinds, list) or not kinds or not all(isinstance(k, str) for k in kinds):
        raise Unsupported
    members = [_member(kind, schema) for kind in dict.fromkeys(kinds)]
    if float in members and int in members:
        members.remove(int)
    return functools.reduce(operator.or_, members) if len(members) > 1 else members[0]


def _member(kind: str, schema: dict[str, t.Any]) -> t.Any:
    """The type of one of the schema's JSON types."""
    if kind in _SCALARS:
        return _SCALARS[kind]
    if kind == "number":
        return float  # msgspec's float takes JSON integers too
    if kind == "object":
        return _object(schema)
    if kind == "array":
        return _array(schema)
    raise Unsupported


def _object(schema: dict[str, t.Any]) -> t.Any:
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    extra = schema.get("additionalProperties", True)
    if not isinstance(properties, dict) or not isinstance(required, list):
        raise Unsupported
    if not all(isinstance(name, str) for name in required):
        raise Unsupported
    if not properties and not required:
        if extra is True or extra == {}:
            return dict
        if extra is False:
            raise Unsupported
        return dict[str, _translate(extra)]  # type: ignore[misc]
    if extra is not True and extra != {}:
        raise Unsupported  # extra keys would go unchecked
    fields: list[tuple[str, t.Any, t.Any]] = []
    names = list(dict.fromkeys([*properties, *required]))
    for index, name in enumerate(names):
        kind = _translate(properties[name]) if name in properties else t.Any
        if name in required:
            fields.append((f"f{index}", kind, msgspec.field(name=name)))
        else:
            fields.append((f"f{index}", kind, msgspec.field(default=msgspec.UNSET, name=name)))
    fields.sort(key=lambda field: field[2].default is not msgspec.NODEFAULT)  # required first
    return msgspec.defstruct("Record", fields, gc=False)


def _array(schema: dict[str, t.Any]) -> t.Any:
    items = schema.get("items", True)
    if isinstance(items, list):
        raise Unsupported  # tuple validation
    return list[_translate(items)]  # type: ignore[misc]
