"""The target's settings: schema, allowed values, defaults and descriptions, declared
once here (README, the plugin definition and meltano.yml are generated from it).

Code reads a setting with ``value(config, name)``, which falls back to the default
declared here; ``coerce_strings`` turns settings given as text (Airbyte configs, the
environment, Meltano's flattened objects) into the declared types before validation.
Cache types and load methods are named by their registries.
"""

from __future__ import annotations

import contextlib
import json
import re
import typing as t

from singer_sdk import typing as th

from target_redis.cache_types import CACHE_TYPES as _CACHE_CLASSES
from target_redis.connection_settings import CONNECTION, TRANSPORT
from target_redis.load_methods import LOAD_METHODS as _LOAD_CLASSES
from target_redis.search_settings import SETTING_SCHEMA as _SEARCH_INDEX
from target_redis.value_settings import NAMES as _VALUE_NAMES
from target_redis.value_settings import VALUE_SETTINGS

LOAD_METHODS = list(_LOAD_CLASSES)
CACHE_TYPES = list(_CACHE_CLASSES)
OVERWRITE_KEYS = ["auto", "ids", "primary-key"]
ON_INVALID_RECORD = ["fail", "skip", "dead_letter"]
RECORD_FORMATS = ["airbyte", "fields"]
JSON_INEXACT_NUMBERS = ["double", "string"]
ON_UPDATE = ["replace", "merge"]
BATCH_SIZE_BYTES = 64 * 1024 * 1024


def _cache_type_description() -> str:
    record = ", ".join(c.summary for c in _CACHE_CLASSES.values() if not c.single_key)
    single = ", ".join(c.summary for c in _CACHE_CLASSES.values() if c.single_key)
    return (
        f"Redis data type. Per record at `N:S:<id>`: {record}. One key `N:S` per stream: "
        f"{single}. Single-key types support append-only and overwrite."
    )


SCHEMA = th.PropertiesList(
    *CONNECTION,
    th.Property(
        "namespace",
        th.StringType,
        default="",
        description=(
            "Key prefix: records of stream S go to `<namespace>:S:<id>`. Empty by "
            "default, which gives Airbyte's `:S:<id>`."
        ),
    ),
    th.Property(
        "cache_type",
        th.StringType,
        default="hash",
        allowed_values=CACHE_TYPES,
        description=_cache_type_description(),
    ),
    th.Property(
        "record_format",
        th.StringType,
        default="airbyte",
        allowed_values=RECORD_FORMATS,
        description=(
            "What a record's value holds: `airbyte` (the `_airbyte_ab_id`, "
            "`_airbyte_emitted_at` and `_airbyte_data` fields) or `fields` (one hash field, "
            "or stream entry field, per top-level property: strings as they are, numbers "
            "with the tap's text, booleans `true`/`false`, objects and arrays as compact "
            "JSON, null properties left out). For `cache_type` `hash` and `stream`; the "
            "other types hold the record's JSON either way."
        ),
    ),
    th.Property(
        "key_template",
        th.StringType,
        description=(
            "The full key of a record, built from its values: `user:{id}`, "
            "`order:{customer_id}:{order_no}` (the namespace is not prepended; `{{` and "
            "`}}` are literal braces). With one placeholder the value is used as it is; "
            "with several, `\\` and `:` are escaped in each and a `:` must separate them. "
            "For `upsert` and `overwrite`, with at least one placeholder. With a "
            "collection `cache_type` (`set`, `list`, `stream`, `sorted_set`): without "
            "placeholders it names the stream's key (`active_users`); with them, each "
            "record goes to the collection its values name (`orders:{customer_id}`): "
            "append-only and overwrite for all four, upsert for sorted sets and sets "
            "with `member_field`."
        ),
    ),
    th.Property(
        "score_field",
        th.StringType,
        description=(
            "`cache_type: sorted_set`: the property whose value scores a member (a number "
            "as the tap wrote it, a date or date-time as epoch milliseconds)."
        ),
    ),
    *VALUE_SETTINGS,
    th.Property(
        "on_update",
        th.StringType,
        default="replace",
        allowed_values=ON_UPDATE,
        description=(
            "Upsert of a key that holds a record: `replace` (the key then holds exactly the "
            "new record) or `merge` (the new record's properties overwrite, absent ones "
            "stay, nulls remove). Atomic per key. `merge` applies to `record_format: "
            "fields` hashes and `cache_type: json` under `load_method: upsert`."
        ),
    ),
    th.Property(
        "json_inexact_numbers",
        th.StringType,
        default="double",
        allowed_values=JSON_INEXACT_NUMBERS,
        description=(
            "`cache_type: json`: RedisJSON holds numbers as 64-bit integers or doubles, so "
            "`12345678901234567890123` or `0.1000000000000000055` would change. `double` "
            "stores them as RedisJSON does (a warning names the stream and property once); "
            "`string` stores them as their exact text (not NUMERIC-indexable)."
        ),
    ),
    th.Property(
        "ttl_seconds",
        th.IntegerType(minimum=0),
        default=0,
        description=(
            "Expiry set on every key written (records, counters, single keys); a rewrite "
            "refreshes it. 0: keys do not expire."
        ),
    ),
    th.Property(
        "stream_maxlen",
        th.IntegerType(minimum=0),
        default=0,
        description=(
            "`cache_type: stream`: trim to about this many entries (`XADD MAXLEN ~`). "
            "0: no trimming."
        ),
    ),
    th.Property(
        "search_index",
        th.CustomType(_SEARCH_INDEX),
        default=False,
        description=_SEARCH_INDEX["description"],
    ),
    th.Property(
        "load_method",
        th.StringType,
        default="append-only",
        allowed_values=LOAD_METHODS,
        description=(
            "`append-only` adds records with new ids; `overwrite` replaces the stream's "
            "records when the stream completes (old ones stay if the run fails); "
            "`upsert` keeps one record per primary key, the latest winning."
        ),
    ),
    th.Property(
        "overwrite_keys",
        th.StringType,
        default="auto",
        allowed_values=OVERWRITE_KEYS,
        description=(
            "How `overwrite` keys per-record types: `ids` from the counter (Airbyte's "
            "full refresh), `primary-key` as upsert does (Airbyte's \"Overwrite + "
            'Deduped"; one key per key value), or `auto`: what the stream holds '
            "(primary keys after upsert, else ids). Changing it converts the stream."
        ),
    ),
    th.Property(
        "batch_size_rows",
        th.IntegerType(minimum=1),
        default=10_000,
        description=(
            "A stream's pending batch is written once it holds this many records, or "
            "`batch_size_bytes`."
        ),
    ),
    th.Property(
        "batch_size_bytes",
        th.IntegerType(minimum=0),
        default=BATCH_SIZE_BYTES,
        description=(
            "A stream's pending batch is written once it holds this many bytes of record "
            "JSON (with `record_format: fields`, of field values too), or `batch_size_rows` "
            "records, whichever comes first. Peak memory stays within about twice this "
            "above the idle process, for every shape. 0: no byte limit."
        ),
    ),
    th.Property(
        "batch_file_dirs",
        th.ArrayType(th.StringType),
        description=(
            "The directories BATCH messages may name files in (a file elsewhere, after "
            "resolving `..` and links, stops the run). Unset: any local path or `file://` "
            "URL the target's user may read. Not the SDK's `batch_config`, which says "
            "where a tap writes its files."
        ),
    ),
    th.Property(
        "on_invalid_record",
        th.StringType,
        default="fail",
        allowed_values=ON_INVALID_RECORD,
        description=(
            "A record that fails schema validation or lacks a key property: `fail` stops "
            "the run (no STATE after it); `skip` logs it (stream, input line, reason) and "
            "goes on; `dead_letter` also appends it to the Redis stream "
            "`N:{N:S}:target-redis-dead-letter:S` (fields `line`, `stream`, `input_line`, "
            "`reason`, `at`)."
        ),
    ),
    th.Property(
        "max_invalid_records",
        th.IntegerType(minimum=0),
        default=0,
        description=(
            "With `skip` or `dead_letter`: stop the run once more than this many invalid "
            "records were set aside. 0: no limit."
        ),
    ),
    th.Property(
        "hard_delete",
        th.BooleanType,
        default=False,
        description=(
            "Delete the key of a record whose `_sdc_deleted_at` is set (upsert), or drop "
            "such records (append-only, overwrite). When false they are stored with that field."
        ),
    ),
    th.Property(
        "process_activate_version_messages",
        th.BooleanType,
        default=False,
        description=(
            "Act on ACTIVATE_VERSION: remove (hard_delete) or mark deleted the records of "
            "older versions. Needs `add_record_metadata: true` (the version of each record "
            "is kept in `_sdc_table_version`). Off: the messages are ignored."
        ),
    ),
    *TRANSPORT,
    th.Property(
        "state_checkpoint_seconds",
        th.NumberType(minimum=0),
        default=60,
        description=(
            "At the first STATE message this long after the last emitted state, write "
            "every pending batch and emit that state. 0: only at the end (and the SDK's "
            "5-minute drain)."
        ),
    ),
    th.Property(
        "state_checkpoint_records",
        th.IntegerType(minimum=0),
        default=0,
        description=(
            "As `state_checkpoint_seconds`, after this many records since the last "
            "emitted state. 0: off."
        ),
    ),
    th.Property(
        "wait_for_replicas",
        th.IntegerType(minimum=0),
        default=0,
        description=(
            "After each pipeline, `WAIT` until this many replicas acknowledged it (in a "
            "cluster: the replicas of every master written to); fewer within "
            "`wait_timeout_ms` fails the run (no state for that data). 0: off."
        ),
    ),
    th.Property(
        "wait_timeout_ms",
        th.IntegerType(minimum=0),
        default=1000,
        description="How long `WAIT` may block for `wait_for_replicas`.",
    ),
).to_dict()

STREAM_SETTINGS = (
    "namespace",
    "cache_type",
    "record_format",
    "on_update",
    "key_template",
    "score_field",
    "json_inexact_numbers",
    "load_method",
    "overwrite_keys",
    "hard_delete",
    "ttl_seconds",
    "stream_maxlen",
    "search_index",
    *_VALUE_NAMES,
)
"""The settings ``streams`` may override per stream."""


def _streams_property() -> dict[str, t.Any]:
    overridable = {
        name: {k: v for k, v in SCHEMA["properties"][name].items() if k != "default"}
        for name in STREAM_SETTINGS
    }
    return {
        "type": ["object", "null"],
        "properties": {},
        "additionalProperties": {
            "type": "object",
            "properties": overridable,
            "additionalProperties": False,
        },
        "description": (
            "Settings per stream: an object whose keys are stream names or glob patterns "
            '(`"public-*"`) and whose values override any of '
            + ", ".join(f"`{name}`" for name in STREAM_SETTINGS)
            + ' for those streams, e.g. `{"orders": {"load_method": "upsert"}, "events-*": '
            '{"cache_type": "stream", "ttl_seconds": 86400}}`. An exact name wins over a '
            "pattern, the longest pattern over a shorter one. From the environment or "
            "Meltano: the same object as JSON text."
        ),
    }


SCHEMA["properties"]["streams"] = _streams_property()

DEFAULTS: dict[str, t.Any] = {
    name: prop["default"] for name, prop in SCHEMA["properties"].items() if "default" in prop
}


def value(config: t.Mapping[str, t.Any], name: str) -> t.Any:
    """A top-level setting's value, or its declared default when unset or empty."""
    found = config.get(name)
    return DEFAULTS.get(name) if found is None or found == "" else found


def coerce_strings(config: dict[str, t.Any], schema: dict[str, t.Any]) -> None:
    """Accept settings given as text where a boolean or number is expected, as
    Airbyte configs (``"ssl": "false"``, ``"port": "6379"``) and ``--config ENV`` give
    them: ``true``/``false``, integer text, number text. Anything else is left for
    validation to refuse, naming the setting."""
    for name, prop in (schema.get("properties") or {}).items():
        value = config.get(name)
        types = prop.get("type", [])
        types = [types] if isinstance(types, str) else types
        if isinstance(value, str) and "object" in types and value.strip().startswith("{"):
            with contextlib.suppress(ValueError):  # JSON text from the environment
                config[name] = value = json.loads(value)
        if isinstance(value, dict) and "object" in types:
            coerce_strings(value, prop)
            entry = prop.get("additionalProperties")
            if isinstance(entry, dict):  # an object of objects, such as 'streams'
                config[name] = value = _nested(value, entry)
                for item in value.values():
                    if isinstance(item, dict):
                        coerce_strings(item, entry)
        if not isinstance(value, str):
            continue
        text = value.strip()
        if "boolean" in types and text.lower() in ("true", "false"):
            config[name] = text.lower() == "true"
        elif "integer" in types and re.fullmatch(r"[+-]?\d+", text):
            config[name] = int(text)
        elif "number" in types:
            with contextlib.suppress(ValueError):
                config[name] = float(text)


def _nested(value: dict[str, t.Any], entry: dict[str, t.Any]) -> dict[str, t.Any]:
    """Meltano hands an object of objects over flattened (``{"orders.cache_type":
    "list"}``): nest it again, splitting at the last dot before a known key (stream names
    may hold dots)."""
    known = set(entry.get("properties") or {})
    nested: dict[str, t.Any] = {}
    for key, item in value.items():
        outer, _, inner = key.rpartition(".")
        if isinstance(item, dict):
            nested.setdefault(key, {}).update(item)
        elif outer and inner in known:
            nested.setdefault(outer, {})[inner] = item
        else:
            nested[key] = item  # left for validation to refuse, naming it
    return nested
