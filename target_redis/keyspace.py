"""One stream's key space: its keys, and which keys under ``N:S:`` are its own.

Stream ``S`` in namespace ``N`` writes its counter or single key ``N:S``, its records
``N:S:<suffix>``, and aside from them (keys.side_key) its manifest and an overwrite's
temporary key. The prefix ``N:S:`` is shared with streams whose names extend ``S``
after a colon: ``N:S:9`` is the counter of stream ``S:9`` and ``N:S:9:1`` its first
record. A key under ``N:S:`` belongs to another stream when it, or the key ``N:S:P``
of one of its colon-prefixes ``P``, is another stream's counter (an integer STRING)
or single key (a type no record has), or when stream ``S:P`` has a manifest.
"""

from __future__ import annotations

import dataclasses
import typing as t

from target_redis.cache_types import RECORD_REDIS_TYPES
from target_redis.keys import record_key, records_pattern, side_key, stream_key

if t.TYPE_CHECKING:
    from target_redis.writer import Writer


@dataclasses.dataclass(frozen=True)
class KeySpace:
    """The keys of stream ``stream`` in ``namespace``."""

    namespace: str
    stream: str

    @property
    def key(self) -> str:
        """``N:S``: the id counter, or the single key of a single-key type."""
        return stream_key(self.namespace, self.stream)

    @property
    def manifest_key(self) -> str:
        """Where the stream's manifest is kept."""
        return side_key(self.namespace, self.stream, "manifest")

    @property
    def lease_key(self) -> str:
        """Held by a running overwrite of the stream."""
        return side_key(self.namespace, self.stream, "lease")

    @property
    def index_key(self) -> str:
        """A SET of every record key the stream wrote by primary key or key template."""
        return side_key(self.namespace, self.stream, "keys")

    @property
    def members_key(self) -> str:
        """Collections per group under upsert: a HASH of each member's collection."""
        return side_key(self.namespace, self.stream, "members")

    @property
    def extended_key(self) -> str:
        """A SET of the streams whose names extend this one's after a ``:``."""
        return side_key(self.namespace, self.stream, "extended-by")

    def extends(self) -> list[KeySpace]:
        """The streams whose names this one's extends (``a`` and ``a:b`` for ``a:b:c``)."""
        parts = self.stream.split(":")
        names = [":".join(parts[:n]) for n in range(1, len(parts))]
        return [KeySpace(self.namespace, name) for name in names if name]

    def written_key(self, run_id: str) -> str:
        """A SET of the keys overwrite run ``run_id`` wrote."""
        return side_key(self.namespace, self.stream, f"written:{run_id}")

    @property
    def pattern(self) -> str:
        """SCAN pattern of every key under ``N:S:``."""
        return records_pattern(self.namespace, self.stream)

    def record_key(self, suffix: str | int) -> str:
        """``N:S:<suffix>``."""
        return record_key(self.namespace, self.stream, suffix)

    def temp_key(self, run_id: str) -> str:
        """Where a single-key overwrite of run ``run_id`` is built."""
        return side_key(self.namespace, self.stream, f"tmp:{run_id}")

    def suffix(self, key: str) -> str:
        """What follows ``N:S:`` in ``key``."""
        return key[len(self.key) + 1 :]

    def prefixes(self, key: str) -> list[str]:
        """The colon-prefixes ``P`` of the key's suffix (``a`` and ``a:b`` for ``a:b:c``)."""
        parts = self.suffix(key).split(":")
        return [":".join(parts[:n]) for n in range(1, len(parts))]

    def own_records(
        self, keys: t.Sequence[str], writer: Writer, redis_type: str | None = None
    ) -> list[str]:
        """Those of ``keys`` (all under ``N:S:``) that are this stream's records (of
        ``redis_type`` only, when given)."""
        facts = writer.types_and_values(keys)
        own = [
            key
            for key, (kind, value) in zip(keys, facts, strict=True)
            if key_kind(kind, value) == "record" and redis_type in (None, kind)
        ]
        prefixes = sorted({p for key in own for p in self.prefixes(key)})
        if not prefixes:
            return own
        prefix_keys = [self.record_key(p) for p in prefixes]
        manifests = [side_key(self.namespace, f"{self.stream}:{p}", "manifest") for p in prefixes]
        prefix_kinds = [key_kind(*facts) for facts in writer.types_and_values(prefix_keys)]
        has_manifest = writer.exist_each(manifests)
        foreign = {
            prefix
            for prefix, kind, manifest in zip(prefixes, prefix_kinds, has_manifest, strict=True)
            if kind == "other" or manifest
        }
        return [key for key in own if not foreign.intersection(self.prefixes(key))]


def key_kind(redis_type: str, value: str | None) -> str:
    """``record`` (a type records have), ``other`` (another stream's counter or single
    key) or ``none`` (no such key)."""
    if redis_type == "none":
        return "none"
    if redis_type == "string":
        return "other" if value is not None and value.lstrip("-").isdigit() else "record"
    return "record" if redis_type in RECORD_REDIS_TYPES else "other"
