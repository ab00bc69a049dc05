"""Per-stream settings: the ``streams`` setting overrides the top-level ones for stream
names or glob patterns (``"public-*"``). An exact name wins over a pattern, the longest
pattern over a shorter one; one entry applies, merged over the top-level settings.

Every entry is checked at start, before any input is read (``entries``), so a
combination that cannot work stops the run with a line naming the entry.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import typing as t

from target_redis import settings
from target_redis.cache_types import CACHE_TYPES
from target_redis.errors import TargetRedisError
from target_redis.load_methods import check_combination

if t.TYPE_CHECKING:
    from target_redis.cache_types import CacheType
    from target_redis.connection import ServerInfo


@dataclasses.dataclass(frozen=True)
class StreamSettings:
    """What one stream (or one ``streams`` entry) is loaded with."""

    where: str
    """``""`` for the top-level settings, `` (streams 'public-*')`` for an entry."""
    namespace: str
    cache_type: str
    load_method: str
    overwrite_keys: str
    hard_delete: bool
    ttl_seconds: int
    stream_maxlen: int

    def cache(self, server: ServerInfo) -> CacheType:
        """The stream's cache type, with its settings and the server's commands."""
        return CACHE_TYPES[self.cache_type](
            ttl_seconds=self.ttl_seconds, stream_maxlen=self.stream_maxlen
        ).for_server(server)


def _settings(config: t.Mapping[str, t.Any], where: str) -> StreamSettings:
    return StreamSettings(
        where=where,
        namespace=settings.value(config, "namespace"),
        cache_type=settings.value(config, "cache_type"),
        load_method=settings.value(config, "load_method"),
        overwrite_keys=settings.value(config, "overwrite_keys"),
        hard_delete=bool(settings.value(config, "hard_delete")),
        ttl_seconds=int(settings.value(config, "ttl_seconds")),
        stream_maxlen=int(settings.value(config, "stream_maxlen")),
    )


def for_stream(config: t.Mapping[str, t.Any], stream: str) -> StreamSettings:
    """The settings stream ``stream`` is loaded with."""
    entries: t.Mapping[str, t.Any] = config.get("streams") or {}
    if stream in entries:
        return _settings({**config, **entries[stream]}, f" (streams '{stream}')")
    patterns = [p for p in entries if fnmatch.fnmatchcase(stream, p)]
    if not patterns:
        return _settings(config, "")
    pattern = max(patterns, key=len)
    return _settings({**config, **entries[pattern]}, f" (streams '{pattern}')")


def entries(config: t.Mapping[str, t.Any]) -> list[StreamSettings]:
    """The top-level settings and every ``streams`` entry, each checked."""
    found = [_settings(config, "")]
    for name, overrides in (config.get("streams") or {}).items():
        found.append(_settings({**config, **overrides}, f" (streams '{name}')"))
    for each in found:
        check_combination(each.load_method, each.cache_type, each.where)
    return found


def fakeredis_refusal(
    each: StreamSettings, config: t.Mapping[str, t.Any], label: str
) -> TargetRedisError | None:
    """fakeredis keeps JSON documents out of sight of EXPIRE, UNLINK and TYPE: what
    needs them is refused."""
    if CACHE_TYPES[each.cache_type].module_command is None:
        return None
    needs = [
        name
        for name, needed in (
            ("load_method: overwrite", each.load_method == "overwrite"),
            ("ttl_seconds", bool(each.ttl_seconds)),
            ("hard_delete", each.hard_delete),
            (
                "process_activate_version_messages",
                settings.value(config, "process_activate_version_messages"),
            ),
        )
        if needed
    ]
    if not needs:
        return None
    return TargetRedisError(
        f"Setting 'cache_type: {each.cache_type}'{each.where} with {', '.join(needs)}: "
        f"{label} cannot expire, delete or tell the type of JSON documents (EXPIRE, UNLINK "
        "and TYPE ignore them); use a Redis server with RedisJSON, or append-only / upsert "
        "without them."
    )
