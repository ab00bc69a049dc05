"""A stream's RediSearch index (``search_index``): created at the stream's SCHEMA,
extended (``FT.ALTER``) when a schema adds properties, rebuilt when an attribute
changes, and owned through the stream's manifest (fields ``search_index`` and
``search_definition``): an index of that name the manifest does not record is
refused, never dropped.

A rebuild drops the index without its documents (``FT.DROPINDEX`` without ``DD``) and
creates it again; RediSearch then indexes the stream's keys in the background.
"""

from __future__ import annotations

import dataclasses
import json
import typing as t

from target_redis import search_fields
from target_redis.errors import TargetRedisError
from target_redis.stream_settings import searchable

if t.TYPE_CHECKING:
    import logging

    from target_redis.keyspace import KeySpace
    from target_redis.search_fields import Attribute
    from target_redis.search_settings import SearchSettings
    from target_redis.search_values import Companions
    from target_redis.stream_settings import StreamSettings
    from target_redis.writer import Writer

NAME_FIELD = "search_index"
DEFINITION_FIELD = "search_definition"


@dataclasses.dataclass(frozen=True)
class Definition:
    """An index: its name, what it is ``ON``, the key prefix it selects, its attributes."""

    name: str
    on: str
    prefix: str
    attributes: tuple[Attribute, ...]

    def create_command(self) -> tuple[str, ...]:
        """``FT.CREATE``."""
        # MAXTEXTFIELDS: without it FT.ALTER cannot add a 33rd TEXT attribute.
        on = ("ON", self.on, "PREFIX", "1", self.prefix)
        head = ("FT.CREATE", self.name, *on, "MAXTEXTFIELDS", "SCHEMA")
        return (*head, *(word for each in self.attributes for word in each.args()))

    def text(self) -> str:
        """What the manifest records (to compare with the next run's)."""
        return json.dumps(
            {
                "on": self.on,
                "prefix": self.prefix,
                "attributes": {a.name: a.args() for a in self.attributes},
            },
            ensure_ascii=False,
        )

    def changes(self, recorded: str) -> tuple[list[Attribute], list[str]]:
        """Against the recorded definition: the attributes to add, and what else
        changed (a rebuild: the prefix, a type, a removed attribute)."""
        try:
            old = json.loads(recorded)
            before: dict[str, list[str]] = dict(old["attributes"])
            where = (old["on"], old["prefix"])
        except (ValueError, KeyError, TypeError):
            return [], ["its recorded definition is unreadable"]
        changed = []
        if where != (self.on, self.prefix):
            now_on = f"ON {self.on} PREFIX {self.prefix!r}"
            changed.append(f"ON {where[0]} PREFIX {where[1]!r} became {now_on}")
        now = {a.name: a for a in self.attributes}
        for name, words in before.items():
            if name not in now:
                changed.append(f"attribute '{name}' was removed")
            elif now[name].args() != words:
                was, became = " ".join(words[3:]), " ".join(now[name].args()[3:])
                changed.append(f"attribute '{name}' was {was}, now {became}")
        added = [a for a in self.attributes if a.name not in before]
        return added, changed


class SearchIndex:
    """Keeps one stream's index in step with its schema."""

    def __init__(
        self,
        settings: SearchSettings,
        space: KeySpace,
        writer: Writer,
        logger: logging.Logger,
        claimed: dict[str, str],
    ) -> None:
        """``claimed``: the index prefixes of this run's streams (shared), prefix -> stream.
        Nothing is read until ``schema``."""
        self.settings = settings
        self.space = space
        self.writer = writer
        self.logger = logger
        self.claimed = claimed
        self._current = ""
        self._skipped: tuple[str, ...] = ()

    def schema(self, properties: t.Mapping[str, t.Any], on: str, prefix: str) -> Companions:
        """At each SCHEMA of the stream: the index made to match it (with ``create``),
        and the companion values its records get."""
        stream = self.space.stream
        found = search_fields.plan(properties, self.settings, json=on == "JSON", stream=stream)
        if found.skipped and found.skipped != self._skipped:
            self.logger.info(
                "Stream '%s': search_index leaves out %s.", stream, ", ".join(found.skipped)
            )
            self._skipped = found.skipped
        if self.settings.create:
            self._claim(prefix)
            name = self.settings.index_name(self.space.namespace, stream)
            self.ensure(Definition(name, on, prefix, found.attributes))
        return found.companions

    def _claim(self, prefix: str) -> None:
        """Refuse a prefix another stream's index of this run selects keys by."""
        stream = self.space.stream
        for other, owner in self.claimed.items():
            if owner != stream and (other.startswith(prefix) or prefix.startswith(other)):
                msg = (
                    f"Setting 'search_index': streams '{owner}' and '{stream}' would both "
                    f"index keys under {min(other, prefix, key=len)!r}, so each index would "
                    "hold the other's records; give one a key_template of its own."
                )
                raise TargetRedisError(msg)
        self.claimed[prefix] = stream

    def ensure(self, definition: Definition) -> None:
        """Create, keep, extend or rebuild the index to match ``definition``."""
        text = definition.text()
        if text == self._current:
            return
        stream = self.space.stream
        if not definition.attributes:
            self.logger.warning(
                "Stream '%s': search_index has no property to index; index %s not created.",
                stream,
                definition.name,
            )
            return
        manifest = self.space.manifest_key
        recorded_name, recorded = self.writer.call(
            "reading the search index's record", "HMGET", manifest, NAME_FIELD, DEFINITION_FIELD
        )
        names = self.writer.call("listing search indexes", "FT._LIST")
        exists = definition.name in [_text(n) for n in names or ()]
        if exists and recorded_name != definition.name:
            msg = (
                f"Stream '{stream}': search index '{definition.name}' exists and is not this "
                f"stream's (its manifest {manifest} does not record it). Nothing was written; "
                "drop it (FT.DROPINDEX) or set search_index's 'name'."
            )
            raise TargetRedisError(msg)
        record = ("HSET", manifest, NAME_FIELD, definition.name, DEFINITION_FIELD, text)
        if not exists:
            self.writer.call("recording the search index", *record)
            self._create(definition)
            self.logger.info("Stream '%s': search index %s created.", stream, definition.name)
        else:
            self._update(definition, recorded or "", record)
        self._current = text

    def _update(self, definition: Definition, recorded: str, record: tuple[str, ...]) -> None:
        stream = self.space.stream
        added, changed = definition.changes(recorded)
        if changed:
            self.writer.call("recording the search index", *record)
            self.writer.call("dropping the search index", "FT.DROPINDEX", definition.name)
            self._create(definition)
            self.logger.info(
                "Stream '%s': search index %s rebuilt (%s); RediSearch indexes the stream's "
                "keys again in the background.",
                stream,
                definition.name,
                "; ".join(changed),
            )
        elif added:
            self.writer.call("recording the search index", *record)
            words = [w for a in added for w in a.args()]
            alter = ("FT.ALTER", definition.name, "SCHEMA", "ADD", *words)
            self.writer.call("extending the search index", *alter)
            self.logger.info(
                "Stream '%s': search index %s extended with %s.",
                stream,
                definition.name,
                ", ".join(a.name for a in added),
            )

    def _create(self, definition: Definition) -> None:
        try:
            self.writer.call("creating the search index", *definition.create_command())
        except TargetRedisError as exc:
            stream = self.space.stream
            msg = f"Stream '{stream}': creating search index {definition.name} failed: {exc}"
            raise TargetRedisError(msg) from None


def _text(value: t.Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def search_for(
    each: StreamSettings,
    space: KeySpace,
    writer: Writer,
    logger: logging.Logger,
    claimed: dict[str, str],
) -> SearchIndex | None:
    """A stream's search index (``search_index``), where it applies; where it does not
    (set at the top level, so other shapes are skipped), one line says so."""
    if each.search is None:
        return None
    if not searchable(each):
        logger.info(
            "Stream '%s': search_index skipped (cache_type %s, record_format %s).",
            space.stream,
            each.cache_type,
            each.record_format,
        )
        return None
    return SearchIndex(each.search, space, writer, logger, claimed)
