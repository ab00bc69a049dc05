"""The ``search_index`` setting: its schema, and what a stream's value means. Pure."""

from __future__ import annotations

import dataclasses
import typing as t

from target_redis.errors import TargetRedisError

KINDS = ("TEXT", "TAG", "NUMERIC")
FLAGS = ("SORTABLE", "NOINDEX")
DISTANCES = ("L2", "IP", "COSINE")
ALGORITHMS = ("FLAT", "HNSW")

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
        "numbers NUMERIC SORTABLE, booleans TAG, dates NUMERIC SORTABLE by their "
        "companion's name (`@created_at__epoch_ms`), "
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
