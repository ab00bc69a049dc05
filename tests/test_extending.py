"""Adding a cache type is one class and its registry entry: a list capped at
``stream_maxlen`` entries, registered here as a user of the package would, loads and
reads back with nothing else changed (the settings' allowed values follow the registry
at import; here the schema is patched, as the import already happened)."""

from __future__ import annotations

import typing as t

import fakeredis
import pytest

from target_redis import settings
from target_redis.cache_types import CACHE_TYPES, ListType
from target_redis.testing import load

if t.TYPE_CHECKING:
    from target_redis.rows import Command, Row


class CappedListType(ListType):
    """A LIST of the records' JSON keeping the newest ``stream_maxlen`` entries."""

    name = "capped_list"
    summary = "`capped_list` (RPUSH, then LTRIM to `stream_maxlen`)"

    def add_commands(self, key: str, rows: t.Sequence[Row]) -> list[Command]:
        """RPUSH, then LTRIM to the newest ``stream_maxlen``."""
        trim: list[Command] = [("LTRIM", key, str(-self.stream_maxlen), "-1")] if rows else []
        return super().add_commands(key, rows) + trim


def test_a_new_cache_type_is_one_class_and_its_registry_entry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(CACHE_TYPES, CappedListType.name, CappedListType)
    allowed = [*settings.SCHEMA["properties"]["cache_type"]["enum"], CappedListType.name]
    monkeypatch.setitem(settings.SCHEMA["properties"]["cache_type"], "enum", allowed)
    client = fakeredis.FakeRedis(decode_responses=True)
    schema = {"properties": {"id": {"type": "integer"}}}
    lines = [
        {"type": "SCHEMA", "stream": "s", "schema": schema, "key_properties": ["id"]},
        *({"type": "RECORD", "stream": "s", "record": {"id": i}} for i in range(1, 6)),
    ]
    config = {"cache_type": "capped_list", "stream_maxlen": 3}
    load(lines, client, config)
    assert client.lrange(":s", 0, -1) == ['{"id":3}', '{"id":4}', '{"id":5}']
    manifest = client.hgetall(":{:s}:target-redis-manifest:s")
    assert (manifest["cache_type"], manifest["keys"]) == ("capped_list", "single-key")
    load(lines, client, {**config, "load_method": "overwrite"})
    assert client.lrange(":s", 0, -1) == ['{"id":3}', '{"id":4}', '{"id":5}']
