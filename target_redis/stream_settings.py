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
from target_redis.load_methods import LOAD_METHODS
from target_redis.record_formats import RECORD_FORMATS
from target_redis.record_values import RecordValues
from target_redis.row_settings import RowSettings
from target_redis.search_settings import SearchSettings
from target_redis.search_settings import parse as parse_search
from target_redis.templates import KeyTemplate

if t.TYPE_CHECKING:
    from target_redis.cache_types import CacheType
    from target_redis.load_method import LoadMethod
    from target_redis.record_formats import RecordFormat
    from target_redis.server import ServerInfo


@dataclasses.dataclass(frozen=True)
class StreamSettings:
    """What one stream (or one ``streams`` entry) is loaded with."""

    where: str
    """``""`` for the top-level settings, `` (streams 'public-*')`` for an entry."""
    namespace: str
    cache_type: str
    record_format: str
    """``fields`` only where it applies (hash, stream); else ``airbyte``."""
    merge: bool
    """``on_update: merge``."""
    key_template: str
    score_field: str
    json_inexact_numbers: str
    load_method: str
    overwrite_keys: str
    hard_delete: bool
    ttl_seconds: int
    stream_maxlen: int
    search: SearchSettings | None = None
    """``search_index``."""
    member_field: str = ""
    value_field: str = ""
    expire_at_field: str = ""
    ttl_field: str = ""

    @property
    def cache_class(self) -> type[CacheType]:
        """The cache type's class."""
        return CACHE_TYPES[self.cache_type]

    @property
    def format_class(self) -> type[RecordFormat]:
        """The record format's class."""
        return RECORD_FORMATS[self.record_format]

    @property
    def method_class(self) -> type[LoadMethod]:
        """The load method's class."""
        return LOAD_METHODS[self.load_method]

    def row_settings(self, stream: str, max_record_bytes: int) -> RowSettings:
        """What shapes stream ``stream``'s rows beyond its plan's objects."""
        return RowSettings(
            score_field=self.score_field,
            json_inexact_numbers=self.json_inexact_numbers,
            max_record_bytes=max_record_bytes,
            values=RecordValues(
                stream,
                self.member_field or self.value_field,
                self.expire_at_field,
                self.ttl_field,
                members=bool(self.member_field),
            ),
        )

    def cache(self, server: ServerInfo) -> CacheType:
        """The stream's cache type, with its settings and the server's commands."""
        return CACHE_TYPES[self.cache_type](
            ttl_seconds=self.ttl_seconds,
            stream_maxlen=self.stream_maxlen,
            per_record_expiry=bool(self.expire_at_field or self.ttl_field),
        ).for_server(server)


def _settings(config: t.Mapping[str, t.Any], where: str) -> StreamSettings:
    cache_type = settings.value(config, "cache_type")
    record_format = settings.value(config, "record_format")
    return StreamSettings(
        where=where,
        namespace=settings.value(config, "namespace"),
        cache_type=cache_type,
        record_format=RECORD_FORMATS[record_format].for_cache(cache_type).name,
        merge=settings.value(config, "on_update") == "merge",
        key_template=settings.value(config, "key_template") or "",
        score_field=settings.value(config, "score_field") or "",
        json_inexact_numbers=settings.value(config, "json_inexact_numbers"),
        load_method=settings.value(config, "load_method"),
        overwrite_keys=settings.value(config, "overwrite_keys"),
        hard_delete=bool(settings.value(config, "hard_delete")),
        ttl_seconds=int(settings.value(config, "ttl_seconds")),
        stream_maxlen=int(settings.value(config, "stream_maxlen")),
        search=parse_search(settings.value(config, "search_index"), where),
        member_field=settings.value(config, "member_field") or "",
        value_field=settings.value(config, "value_field") or "",
        expire_at_field=settings.value(config, "expire_at_field") or "",
        ttl_field=settings.value(config, "ttl_field") or "",
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
    searched_here = [False]
    for name, overrides in (config.get("streams") or {}).items():
        found.append(_settings({**config, **overrides}, f" (streams '{name}')"))
        searched_here.append("search_index" in overrides)
    namespaces = sorted({each.namespace for each in found})
    for each, here in zip(found, searched_here, strict=True):
        parsed = template(each)
        each.method_class.check(each.cache_class, parsed, each.where)
        each.cache_class.check(each.score_field, parsed, each.where, CACHE_TYPES.values())
        _check_merge(each)
        _check_template_prefix(each, namespaces)
        _check_search(each, config, refuse_shape=here)
        _check_values(each, config)
    _check_index_prefixes(found)
    return found


def _check_index_prefixes(found: list[StreamSettings]) -> None:
    """An index selects keys by prefix: a stream's index may not take in the keys of
    another entry's template (``item:{id}`` and ``item:{sku}:x`` share ``item:``)."""
    prefixes = []
    for each in found:
        parsed = template(each)
        if parsed is not None and parsed.placeholders:
            prefixes.append((each, parsed.prefix))
    for each, prefix in prefixes:
        if not (each.search and each.search.create and searchable(each)):
            continue
        for other, theirs in prefixes:
            if other is not each and (theirs.startswith(prefix) or prefix.startswith(theirs)):
                msg = (
                    f"Setting 'search_index'{each.where}: its index would select the keys "
                    f"under {prefix!r}, where key_template{other.where} "
                    f"({other.key_template!r}) puts records too; give each a prefix of its own."
                )
                raise TargetRedisError(msg)


def searchable(each: StreamSettings) -> bool:
    """``search_index`` applies: ``record_format: fields`` hashes, JSON documents."""
    return each.cache_class.searchable(each.format_class.field_values)


def _check_search(
    each: StreamSettings, config: t.Mapping[str, t.Any], *, refuse_shape: bool
) -> None:
    """``search_index`` set on a shape it applies to needs an index prefix of the
    stream's own and numbers an index reads; on other shapes it is refused where a
    ``streams`` entry sets it (and skipped, with a line, where it comes from the top)."""
    search = each.search
    if search is None:
        return
    if not searchable(each):
        if not refuse_shape:
            return
        why = (
            f"it applies to 'record_format: fields' hashes and 'cache_type: json', not "
            f"cache_type {each.cache_type} with record_format {each.record_format}"
        )
    elif each.json_inexact_numbers == "string" and each.cache_class.doubles:
        why = (
            "with 'json_inexact_numbers: string' a number may be stored as text, which a "
            "NUMERIC attribute cannot index (the document would drop out of the index)"
        )
    elif search.create and settings.value(config, "cluster_mode"):
        why = (
            "a cluster's search indexes are per node (Redis Stack) or need Redis Query "
            "Engine's cluster support; not in cluster_mode (or use create: false)"
        )
    else:
        parsed = template(each)
        if parsed is None or not parsed.placeholders or parsed.prefix.endswith(":"):
            return
        why = (
            f"key_template {each.key_template!r}: an index selects keys by prefix, so the "
            "template's text before its first placeholder must end with ':' (such as "
            "'user:{id}')"
        )
    msg = f"Setting 'search_index'{each.where}: {why}."
    raise TargetRedisError(msg)


def template(each: StreamSettings) -> KeyTemplate | None:
    """The parsed ``key_template`` (refused when it cannot give distinct keys)."""
    return KeyTemplate(each.key_template, each.where) if each.key_template else None


def _check_template_prefix(each: StreamSettings, namespaces: t.Sequence[str]) -> None:
    """A template's keys must stay out of every namespace's stream keys (``N:S``,
    ``N:S:*``, side keys ``N:{...``): its text before the first placeholder may neither
    be empty nor start, or be the start of, ``N:`` for a namespace the settings name."""
    parsed = template(each)
    if parsed is None:
        return
    prefix = parsed.prefix
    if not prefix:
        why = "it starts with a placeholder, so its keys could be any key"
    else:
        inside = [n for n in namespaces if f"{n}:".startswith(prefix) or prefix.startswith(f"{n}:")]
        if not inside:
            return
        why = (
            f"its keys could fall among namespace '{inside[0]}''s stream keys "
            f"('{inside[0]}:<stream>...')"
        )
    msg = (
        f"Setting 'key_template'{each.where} ({each.key_template!r}): {why}; start it with "
        "a prefix of its own, outside every namespace's keys, such as 'user:{id}' "
        "(the namespace is not prepended to template keys)."
    )
    raise TargetRedisError(msg)


def _check_values(each: StreamSettings, config: t.Mapping[str, t.Any]) -> None:
    """``member_field``, ``value_field`` and the expiry fields where they apply."""
    cache = each.cache_class
    why = ""
    if each.member_field and not cache.member_by_field:
        why = "'member_field' applies to cache_type set, sorted_set and list"
    elif each.value_field and not cache.value_by_field:
        why = "'value_field' applies to cache_type string"
    elif each.expire_at_field and each.ttl_field:
        why = "'expire_at_field' and 'ttl_field' both give an expiry: set one"
    elif (each.expire_at_field or each.ttl_field) and cache.single_key and not grouped(each):
        why = (
            "'expire_at_field' / 'ttl_field' apply to keys of one record (hash, json, "
            "string) and to collections per group (key_template placeholders); the "
            "stream's one collection would expire with all its records"
        )
    elif grouped_upsert(each) and cache.name == "set" and not each.member_field:
        why = (
            "'load_method: upsert' of a set per group needs 'member_field' (a record's JSON "
            "cannot be found again to move or remove it)"
        )
    elif each.value_field and settings.value(config, "process_activate_version_messages"):
        why = (
            "'value_field' with process_activate_version_messages: a string holding one "
            "value keeps no _sdc_table_version to tell versions apart"
        )
    if why:
        msg = f"Setting {why}{each.where}; here it is cache_type {each.cache_type}."
        raise TargetRedisError(msg)


def grouped(each: StreamSettings) -> bool:
    """A collection per group (key_template placeholders on a collection type)."""
    parsed = template(each)
    return parsed is not None and bool(parsed.placeholders) and each.cache_class.single_key


def grouped_upsert(each: StreamSettings) -> bool:
    """Upsert of a collection per group."""
    return grouped(each) and each.load_method == "upsert"


def _check_merge(each: StreamSettings) -> None:
    """Merging takes a cache type that merges the record format, and a load method
    that lays records over stored ones."""
    if not each.merge:
        return
    fields = each.format_class.field_values
    if not each.cache_class.can_merge(fields) or not each.method_class.merges:
        msg = (
            f"Setting 'on_update: merge'{each.where} applies to 'record_format: fields' "
            "hashes and 'cache_type: json' under 'load_method: upsert'; here it is "
            f"cache_type {each.cache_type}, record_format {each.record_format}, load_method "
            f"{each.load_method}."
        )
        raise TargetRedisError(msg)


def fakeredis_refusal(
    each: StreamSettings, config: t.Mapping[str, t.Any], label: str
) -> TargetRedisError | None:
    """fakeredis keeps JSON documents out of sight of EXPIRE, UNLINK and TYPE, and its
    JSON.MERGE keeps nulls (and fails on a new key): what needs them is refused."""
    if each.cache_class.module_command is None:
        return None
    needs = [
        name
        for name, needed in (
            (f"load_method: {each.load_method}", each.method_class.replaces_key_space),
            ("ttl_seconds", bool(each.ttl_seconds)),
            ("hard_delete", each.hard_delete),
            ("on_update: merge", each.merge),
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
        f"{label} cannot expire, delete, merge or tell the type of JSON documents (EXPIRE, "
        "UNLINK and TYPE ignore them, JSON.MERGE keeps nulls); use a Redis server with "
        "RedisJSON, or append-only / upsert without them."
    )
