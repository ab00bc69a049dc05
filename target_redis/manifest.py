"""Stream manifests: how a stream's key space was written. Pure, no I/O.

A manifest is a small HASH at ``N:{N:S}:target-redis-manifest:S`` (keys.side_key:
same cluster slot as ``N:S``, outside every stream's ``N:S:*``), readable with
``redis-cli HGETALL``. A run compares it with what it is about to write and refuses
to mix key schemes; overwrite, which replaces the whole key space, may change them.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import typing as t

from target_redis.collection_schemes import SingleKey
from target_redis.key_schemes import Ids, KeyScheme
from target_redis.schemes import KEY_SCHEMES

UNKNOWN = "unknown"
"""Per-record keys written before manifests existed (ids or primary keys)."""


@dataclasses.dataclass(frozen=True)
class Manifest:
    """What a stream's key space holds."""

    cache_type: str
    keys: str
    key_properties: tuple[str, ...] = ()
    load_method: str = ""
    """The method of the run that wrote it last (informative)."""
    record_format: str = "airbyte"
    """What a record's value holds: ``airbyte`` (``_airbyte_data``) or ``fields``."""
    key_template: str = ""
    """The ``key_template`` the records are keyed by (``keys: template``), or the single
    key's (a template without placeholders)."""
    mixed_with: str = ""
    """Set while an overwrite that changes the scheme has not finished: what it replaces."""
    key_index: str = ""
    """The SET of record keys the stream wrote (ownership.py); empty in manifests written
    before 0.3, which kept no such record."""

    @property
    def scheme(self) -> type[KeyScheme] | None:
        """The key scheme that wrote the key space (None: unknown, or a newer one)."""
        return KEY_SCHEMES.get(self.keys)

    def describe(self) -> str:
        """``hash records keyed by ids``, ``a list at the stream's key``..."""
        kind = self.cache_type
        if self.record_format != "airbyte":
            kind = f"{self.cache_type} ({self.record_format})"
        scheme = self.scheme
        if scheme is None:
            return "records with a counter but no manifest (Airbyte or target-redis before 0.2)"
        return scheme.describe(kind, self.key_properties, self.key_template)

    def same_space(self, other: Manifest) -> bool:
        """Whether ``other`` writes the same kind of keys as this one holds."""
        scheme = self.scheme
        return (
            self.cache_type == other.cache_type
            and self.record_format == other.record_format
            and self.keys == other.keys
            and (
                scheme is None
                or not scheme.by_columns
                or self.key_properties == other.key_properties
            )
            and self.key_template == other.key_template
        )

    def fields(self, stream: str, namespace: str, version: str) -> dict[str, str]:
        """The HASH fields (``mixed_with`` only when set)."""
        fields = {
            "stream": stream,
            "namespace": namespace,
            "cache_type": self.cache_type,
            "keys": self.keys,
            "key_properties": json.dumps(list(self.key_properties), ensure_ascii=False),
            "load_method": self.load_method,
            "record_format": self.record_format,
            "key_template": self.key_template,
            "key_index": self.key_index,
            "written_by": f"target-redis {version}",
            "updated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"
            ),
        }
        if self.mixed_with:
            fields["mixed_with"] = self.mixed_with
        return fields

    @classmethod
    def from_fields(cls, fields: t.Mapping[str, str]) -> Manifest | None:
        """The manifest a HASH holds (None for an empty or unreadable one)."""
        if not fields.get("cache_type") or not fields.get("keys"):
            return None
        try:
            columns = json.loads(fields.get("key_properties") or "[]")
        except ValueError:
            columns = []
        return cls(
            cache_type=fields["cache_type"],
            keys=fields["keys"],
            key_properties=tuple(str(c) for c in columns) if isinstance(columns, list) else (),
            load_method=fields.get("load_method", ""),
            record_format=fields.get("record_format") or "airbyte",
            key_template=fields.get("key_template", ""),
            mixed_with=fields.get("mixed_with", ""),
            key_index=fields.get("key_index", ""),
        )


def held_without_manifest(
    stream_key_type: str, single_key_types: t.Mapping[str, str]
) -> Manifest | None:
    """What a stream without a manifest holds, judged by the type of its key ``N:S``:
    nothing, a counter (per-record keys of unknown scheme: Airbyte's layout or an
    earlier target-redis), or a single-key type (``single_key_types``: Redis TYPE ->
    cache type)."""
    if stream_key_type in ("none", ""):
        return None
    if stream_key_type == "string":
        return Manifest(cache_type="per-record", keys=UNKNOWN)
    name = single_key_types.get(stream_key_type, stream_key_type)
    return Manifest(cache_type=name, keys=SingleKey.name)


def conflicts(held: Manifest | None, planned: Manifest) -> bool:
    """Whether writing ``planned`` next to ``held`` would mix key schemes. A stream
    without a manifest whose ``N:S`` is a counter is adopted by ids only: its keys could
    be counter ids, which keys by primary key or template would be written next to."""
    if held is None:
        return False
    if held.scheme is None:
        return planned.keys != Ids.name
    return bool(held.mixed_with) or not held.same_space(planned)
