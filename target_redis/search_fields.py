"""RediSearch indexes from a stream's Singer schema (the ``search_index`` setting): the
setting itself, the index's attributes, and the companion values records get so an
index can use them. Pure, no I/O (search_index.py creates the index).

A property becomes an attribute queried by its own name (``@amount``): integers and
numbers NUMERIC SORTABLE; booleans TAG; dates and date-times NUMERIC SORTABLE over a
companion holding epoch milliseconds (``<name>__epoch_ms``); arrays of scalars TAG
(hashes: over a companion joining the values with the separator, ``<name>__tags``;
JSON documents: ``$.name[*]``); strings TAG with an ``enum`` or a ``maxLength`` up to
64, else TEXT; a JSON document's objects by their scalar leaves (``@address_city``),
a hash's objects not at all. A vector (``vectors``) is FLOAT32 bytes in a hash, a JSON
array in a document.
"""

from __future__ import annotations

import dataclasses
import decimal
import re
import struct
import typing as t

from target_redis.errors import RejectedRecord, TargetRedisError
from target_redis.rows import date_ms, field_values

DATE_SUFFIX = "__epoch_ms"
TAGS_SUFFIX = "__tags"
SHORT_STRING = 64
"""A string with a ``maxLength`` up to this is a TAG (a code, an id), else TEXT."""
KINDS = ("TEXT", "TAG", "NUMERIC")
FLAGS = ("SORTABLE", "NOINDEX")
DISTANCES = ("L2", "IP", "COSINE")
ALGORITHMS = ("FLAT", "HNSW")
SCALARS = frozenset({"string", "integer", "number", "boolean"})
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

SETTING_SCHEMA: dict[str, t.Any] = {
    "type": ["boolean", "object", "null"],
    "properties": {
        "create": {"type": "boolean"},
        "name": {"type": "string"},
        "tag_separator": {"type": "string", "minLength": 1, "maxLength": 1},
        "fields": {"type": "object", "additionalProperties": {"type": "string"}},
        "vectors": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {
                    "dim": {"type": "integer", "minimum": 1},
                    "distance": {"type": "string", "enum": list(DISTANCES)},
                    "algorithm": {"type": "string", "enum": list(ALGORITHMS)},
                },
                "required": ["dim"],
                "additionalProperties": False,
            },
        },
    },
    "additionalProperties": False,
    "description": (
        "`true`: at the stream's SCHEMA, create (or extend) a RediSearch index over its "
        "keys, `ON HASH` for `record_format: fields` hashes and `ON JSON` for `cache_type: "
        "json`, named `idx:<stream>` (`idx:<namespace>:<stream>` with a namespace), and "
        "write values an index can use beside each record's own: dates as epoch "
        "milliseconds in `<name>__epoch_ms`, a hash's arrays of scalars joined in "
        "`<name>__tags`. Attributes are queried by the property's name: integers and "
        "numbers NUMERIC SORTABLE, booleans TAG, dates NUMERIC SORTABLE (epoch ms), "
        "arrays of scalars TAG, strings TAG with an `enum` or a `maxLength` up to 64, "
        "else TEXT; a document's objects by their scalar leaves (`@address_city`). An "
        "object instead sets `create` (false: write the values, leave the index to you), "
        "`name`, `tag_separator` (one character, default `,`; a value holding it is an "
        "invalid record), `fields` (per property: `TEXT`, `TAG`, `NUMERIC`, each "
        "optionally with `SORTABLE` / `NOINDEX`, or `skip`) and `vectors` (per property: "
        '`{"dim": 384, "distance": "COSINE", "algorithm": "HNSW"}`; distance L2, IP or '
        "COSINE, algorithm FLAT or HNSW). Needs the search module and a prefix of the "
        "stream's own (its `N:S:` keys, or a `key_template` whose text before the first "
        "placeholder ends with `:`); not in `cluster_mode`."
    ),
}


@dataclasses.dataclass(frozen=True)
class Vector:
    """A property stored and indexed as a vector."""

    dim: int
    distance: str = "COSINE"
    algorithm: str = "HNSW"


@dataclasses.dataclass(frozen=True)
class SearchSettings:
    """A stream's ``search_index``."""

    create: bool = True
    name: str = ""
    separator: str = ","
    fields: t.Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    """Per-property overrides: ``("TAG", "SORTABLE")``, ``()`` to skip it."""
    vectors: t.Mapping[str, Vector] = dataclasses.field(default_factory=dict)

    def index_name(self, namespace: str, stream: str) -> str:
        """``name``, else ``idx:<stream>`` or ``idx:<namespace>:<stream>``."""
        if self.name:
            return self.name
        return f"idx:{namespace}:{stream}" if namespace else f"idx:{stream}"


def parse(value: t.Any, where: str) -> SearchSettings | None:
    """The ``search_index`` setting (``true``, ``false``, or an object); one line
    naming the setting for what cannot work."""
    if value is None or value is False or value == {}:
        return None
    if value is True:
        return SearchSettings()
    if not isinstance(value, t.Mapping):
        _refuse(where, f"expected true, false or an object, not {value!r}")
    overrides = {}
    for name, text in (value.get("fields") or {}).items():
        overrides[name] = _override(str(text), name, where)
    vectors = {}
    for name, spec in (value.get("vectors") or {}).items():
        dim = spec.get("dim") if isinstance(spec, t.Mapping) else None
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
            _refuse(where, f"vector '{name}' needs 'dim', a positive integer")
        distance = str(spec.get("distance", "COSINE")).upper()
        algorithm = str(spec.get("algorithm", "HNSW")).upper()
        if distance not in DISTANCES or algorithm not in ALGORITHMS:
            _refuse(where, f"vector '{name}': distance L2, IP or COSINE, algorithm FLAT or HNSW")
        vectors[name] = Vector(dim, distance, algorithm)
    separator = str(value.get("tag_separator", ","))
    if len(separator) != 1:
        _refuse(where, f"tag_separator must be one character, not {separator!r}")
    return SearchSettings(
        create=bool(value.get("create", True)),
        name=str(value.get("name") or ""),
        separator=separator,
        fields=overrides,
        vectors=vectors,
    )


def _override(text: str, name: str, where: str) -> tuple[str, ...]:
    words = tuple(text.upper().split())
    if words == ("SKIP",):
        return ()
    kinds = [w for w in words if w in KINDS]
    if not words or len(kinds) > 1 or any(w not in KINDS + FLAGS for w in words):
        _refuse(
            where,
            f"fields '{name}': {text!r} is not TEXT, TAG or NUMERIC (optionally with "
            "SORTABLE / NOINDEX), nor skip",
        )
    return words


def _refuse(where: str, why: str) -> t.NoReturn:
    msg = f"Setting 'search_index'{where}: {why}."
    raise TargetRedisError(msg)


# The index's attributes


@dataclasses.dataclass(frozen=True)
class Attribute:
    """One attribute of the index: where its value is, its name, its type."""

    source: str
    """A hash field, or a JSON path."""
    name: str
    words: tuple[str, ...]
    """``NUMERIC SORTABLE``, ``TAG SEPARATOR ,``, ``VECTOR HNSW 6 TYPE FLOAT32 ...``."""

    def args(self) -> list[str]:
        """As FT.CREATE's SCHEMA takes it."""
        return [self.source, "AS", self.name, *self.words]


@dataclasses.dataclass(frozen=True)
class IndexPlan:
    """What a stream's index holds, and what records get for it."""

    attributes: tuple[Attribute, ...]
    skipped: tuple[str, ...]
    """``name (why)`` of the properties left out."""
    companions: Companions


def plan(
    properties: t.Mapping[str, t.Any], search: SearchSettings, *, json: bool, stream: str
) -> IndexPlan:
    """The attributes and companions of a stream whose schema has ``properties``
    (``json``: RedisJSON documents, else hashes of fields)."""
    attributes: list[Attribute] = []
    skipped: list[str] = []
    dates: list[tuple[str, str]] = []
    tags: list[tuple[str, str]] = []
    taken = set(properties)
    for name in [*search.fields, *search.vectors]:
        if name not in properties:
            msg = f"Setting 'search_index': stream '{stream}' has no property {name!r}."
            raise TargetRedisError(msg)
    for name, schema in properties.items():
        override = search.fields.get(name)
        if override == ():
            skipped.append(f"{name} (skip)")
            continue
        found = _attribute(name, schema, search, json=json, override=override, stream=stream)
        if isinstance(found, str):
            skipped.append(f"{name} ({found})")
            continue
        for attribute, companion in found:
            if companion:
                if companion in taken:
                    msg = (
                        f"Setting 'search_index': stream '{stream}' has a property "
                        f"{companion!r}, the name of {name!r}'s companion value; rename it "
                        "with a stream map, or skip it in 'fields'."
                    )
                    raise TargetRedisError(msg)
                taken.add(companion)
                (dates if companion.endswith(DATE_SUFFIX) else tags).append((name, companion))
            attributes.append(attribute)
    names = [a.name for a in attributes]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        msg = f"Setting 'search_index': stream '{stream}' has two attributes named {twice[0]!r}."
        raise TargetRedisError(msg)
    companions = Companions(
        stream, tuple(dates), tuple(tags), search.separator, dict(search.vectors), json=json
    )
    return IndexPlan(tuple(attributes), tuple(skipped), companions)


def _types(schema: t.Any) -> tuple[set[str], str]:
    """The non-null JSON types a property's schema allows, and its ``format``."""
    if not isinstance(schema, t.Mapping):
        return set(), ""
    kinds = schema.get("type")
    found = {kinds} if isinstance(kinds, str) else set(kinds or ())
    fmt = str(schema.get("format") or "")
    for member in [*(schema.get("anyOf") or ()), *(schema.get("oneOf") or ())]:
        more, more_fmt = _types(member)
        found |= more
        fmt = fmt or more_fmt
    found.discard("null")
    return found, fmt


def _path(parents: tuple[str, ...]) -> str:
    return "$" + "".join(
        f".{p}" if _IDENTIFIER.fullmatch(p) else '["' + p.replace('"', '\\"') + '"]'
        for p in parents
    )


def _attribute(
    name: str,
    schema: t.Any,
    search: SearchSettings,
    *,
    json: bool,
    override: tuple[str, ...] | None,
    stream: str,
) -> list[tuple[Attribute, str]] | str:
    """The attributes of one top-level property with the companion each reads (``""``:
    the property's own value), or why it has none."""
    kinds, fmt = _types(schema)
    source = _path((name,)) if json else name
    vector = search.vectors.get(name)
    if vector is not None:
        return [(_vector(name, schema, kinds, vector, source, stream), "")]
    if len(kinds) != 1:
        return "no single type" if kinds else "no type"
    kind = next(iter(kinds))
    if kind == "object":
        if not json:
            return "an object: JSON text in a hash"
        return _leaves(name, schema, (name,)) or "an object without scalar leaves"
    inferred, companion = _inferred(name, kind, fmt, schema, json=json)
    if inferred is None:
        return "an array of non-scalars" if kind == "array" else f"type {kind}"
    words = inferred
    if override:
        chosen = next((w for w in override if w in KINDS), inferred[0])
        if chosen == "NUMERIC" and (kind in ("boolean", "array", "object")):
            msg = (
                f"Setting 'search_index' fields '{name}': a {kind} cannot be NUMERIC "
                "(every document would fail indexing)."
            )
            raise TargetRedisError(msg)
        if chosen != inferred[0] and kind == "string" and companion.endswith(DATE_SUFFIX):
            companion = ""  # a date as TEXT or TAG: its own text
        words = (chosen, *(w for w in override if w in FLAGS))
    if words[0] == "TAG" and kind == "array" and not json:
        words = ("TAG", "SEPARATOR", search.separator, *words[1:])
    if companion and not (json and kind == "array"):
        source = _path((companion,)) if json else companion
    elif json and kind == "array":
        source, companion = _path((name,)) + "[*]", ""
    return [(Attribute(source, name, words), companion)]


def _vector(
    name: str, schema: t.Any, kinds: set[str], vector: Vector, source: str, stream: str
) -> Attribute:
    items, _ = _types(schema.get("items")) if isinstance(schema, t.Mapping) else (set(), "")
    if kinds != {"array"} or not items or not items <= {"integer", "number"}:
        msg = (
            f"Setting 'search_index': vector '{name}' of stream '{stream}' must be an "
            "array of numbers in the schema."
        )
        raise TargetRedisError(msg)
    words = ("VECTOR", vector.algorithm, "6", "TYPE", "FLOAT32", "DIM", str(vector.dim))
    return Attribute(source, name, (*words, "DISTANCE_METRIC", vector.distance))


def _inferred(
    name: str, kind: str, fmt: str, schema: t.Any, *, json: bool
) -> tuple[tuple[str, ...] | None, str]:
    """The attribute's words for a property of ``kind``, and its companion's name."""
    if kind in ("integer", "number"):
        return ("NUMERIC", "SORTABLE"), ""
    if kind == "boolean":
        return ("TAG",), ""
    if kind == "string":
        if fmt in ("date", "date-time"):
            return ("NUMERIC", "SORTABLE"), name + DATE_SUFFIX
        short = schema.get("maxLength")
        if schema.get("enum") or (isinstance(short, int) and short <= SHORT_STRING):
            return ("TAG",), ""
        return ("TEXT",), ""
    if kind == "array":
        items, _ = _types(schema.get("items"))
        if len(items) == 1 and items <= SCALARS:
            return ("TAG",), "" if json else name + TAGS_SUFFIX
    return None, ""


def _leaves(
    name: str, schema: t.Mapping[str, t.Any], parents: tuple[str, ...]
) -> list[tuple[Attribute, str]]:
    """A JSON document's scalar leaves under ``parents`` (``@a_b`` at ``$.a.b``); dates
    inside objects are TAGs (their text), since companions are top-level."""
    found: list[tuple[Attribute, str]] = []
    for child, sub in (schema.get("properties") or {}).items():
        kinds, _ = _types(sub)
        path = (*parents, child)
        attribute_name = "_".join(path)
        if kinds == {"object"} and isinstance(sub, t.Mapping):
            found += _leaves(name, sub, path)
        elif len(kinds) == 1:
            inferred, _ = _inferred(child, next(iter(kinds)), "", sub, json=True)
            if inferred is not None:
                source = _path(path) + ("[*]" if kinds == {"array"} else "")
                found.append((Attribute(source, attribute_name, inferred), ""))
    return found


# Companion values


@dataclasses.dataclass(frozen=True)
class Companions:
    """The values a record gets beside its own so an index can use them."""

    stream: str
    dates: tuple[tuple[str, str], ...] = ()
    """(property, companion): epoch milliseconds of a date / date-time."""
    tags: tuple[tuple[str, str], ...] = ()
    """(property, companion): a hash's array of scalars joined by ``separator``."""
    separator: str = ","
    vectors: t.Mapping[str, Vector] = dataclasses.field(default_factory=dict)
    json: bool = False

    def __bool__(self) -> bool:
        return bool(self.dates or self.tags or self.vectors)

    def apply(self, record: dict[str, t.Any]) -> dict[str, t.Any]:
        """The record with its companions (a null or absent property's is null or
        absent); RejectedRecord for a value an index cannot use."""
        extra: dict[str, t.Any] = {}
        for name, companion in self.dates:
            if name in record:
                extra[companion] = self._date(name, record[name])
        for name, companion in self.tags:
            if name in record:
                extra[companion] = self._tags(name, record[name])
        for name, vector in self.vectors.items():
            if record.get(name) is not None:
                self._check_vector(name, record[name], vector.dim)
        return {**record, **extra} if extra else record

    def _date(self, name: str, value: t.Any) -> int | None:
        if value is None:
            return None
        try:
            if not isinstance(value, str):
                raise ValueError
            return date_ms(value)
        except ValueError:
            self._reject(name, f"holds {str(value)[:40]!r}, not a date or date-time")

    def _tags(self, name: str, value: t.Any) -> str | None:
        if not value:
            return None
        if not isinstance(value, list):
            self._reject(name, "is not an array")
        texts = field_values({str(i): v for i, v in enumerate(value) if v is not None})[0][1::2]
        for text in texts:
            if self.separator in text:
                self._reject(
                    name, f"holds {text[:40]!r}, which contains tag_separator {self.separator!r}"
                )
        return self.separator.join(texts) or None

    def _check_vector(self, name: str, value: t.Any, dim: int) -> None:
        if not isinstance(value, list) or len(value) != dim:
            self._reject(name, f"is not an array of {dim} numbers (its vector's dim)")
        for item in value:
            if isinstance(item, bool) or not isinstance(item, (int, float, decimal.Decimal)):
                self._reject(name, f"holds {str(item)[:40]!r} in a vector of numbers")

    def _reject(self, name: str, why: str) -> t.NoReturn:
        msg = f"Stream '{self.stream}': property '{name}' {why} (search_index)."
        raise RejectedRecord(msg)

    def field_values(
        self, record: t.Mapping[str, t.Any]
    ) -> tuple[tuple[str | bytes, ...], tuple[str, ...]]:
        """rows.field_values, with vectors as FLOAT32 bytes."""
        values, nulls = field_values(record)
        if not self.vectors:
            return values, nulls
        out: list[str | bytes] = list(values)
        for index in range(0, len(out), 2):
            name = out[index]
            vector = record.get(name) if isinstance(name, str) else None
            if name in self.vectors and isinstance(vector, list):
                out[index + 1] = struct.pack(f"<{len(vector)}f", *map(float, vector))
        return tuple(out), nulls
