"""RediSearch indexes from a stream's Singer schema (the ``search_index`` setting): the
index's attributes, and which companion values (search_values.py) records get. Pure,
no I/O (search_index.py creates the index).

A property becomes an attribute queried by its own name (``@amount``): integers and
numbers NUMERIC SORTABLE; booleans TAG; dates and date-times NUMERIC SORTABLE over a
companion holding epoch milliseconds, queried by the companion's name
(``@created_at__epoch_ms``; ``RETURN created_at`` still gives the tap's text); arrays of scalars TAG
(hashes: over a companion joining the values with the separator, ``<name>__tags``;
JSON documents: ``$.name[*]``); strings TAG with an ``enum`` or a ``maxLength`` up to
64, else TEXT; a JSON document's objects by their scalar leaves (``@address_city``),
a hash's objects not at all. A vector (``vectors``) is FLOAT32 bytes in a hash, a JSON
array in a document.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t

from target_redis.errors import TargetRedisError
from target_redis.search_settings import FLAGS, KINDS, SearchSettings, Vector
from target_redis.search_values import Companions

DATE_SUFFIX = "__epoch_ms"
TAGS_SUFFIX = "__tags"
SHORT_STRING = 64
"""A string with a ``maxLength`` up to this is a TAG (a code, an id), else TEXT."""
SCALARS = frozenset({"string", "integer", "number", "boolean"})
KEYWORDS = frozenset(
    {
        *("SORTABLE", "UNF", "NOSTEM", "NOINDEX", "PHONETIC", "WEIGHT", "SEPARATOR"),
        *("CASESENSITIVE", "WITHSUFFIXTRIE", "INDEXEMPTY", "INDEXMISSING"),
    }
)
"""Attribute options: FT.CREATE reads a hash field of such a name as the option of the
attribute before it."""
MAX_TEXT = 128
"""RediSearch's limit of TEXT attributes in an index."""
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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
        if not json and name.upper() in KEYWORDS:
            skipped.append(f"{name} (an FT.CREATE option's name; rename it with a stream map)")
            continue
        found = _attribute(name, schema, search, json=json, override=override, stream=stream)
        if isinstance(found, str):
            skipped.append(f"{name} ({found})")
            continue
        for attribute, companion in found:
            if attribute.words[0] == "TEXT" and _texts(attributes) >= MAX_TEXT:
                skipped.append(f"{attribute.name} (beyond {MAX_TEXT} TEXT attributes)")
                continue
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
    companions = Companions(stream, tuple(dates), tuple(tags), search.separator, search.vectors)
    return IndexPlan(tuple(attributes), tuple(skipped), companions)


def _texts(attributes: list[Attribute]) -> int:
    return sum(1 for a in attributes if a.words[0] == "TEXT")


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
    queried_as = companion if companion.endswith(DATE_SUFFIX) else name  # @birthday__epoch_ms
    return [(Attribute(source, queried_as, words), companion)]


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
