"""Overwrite (full refresh) bookkeeping: once per stream per run, finished only at a
successful end of input.

Per-record types: remember the counter at the stream's first SCHEMA; at the end,
remove record keys with ids at or below it (the new records got higher ids).
Single-key types: build the new key in a temporary key of the same cluster slot and
swap it in with one RENAME at the end.
"""

from __future__ import annotations

import logging
import typing as t
import uuid

from target_redis.cache_types import temp_key_for
from target_redis.keys import stream_key

if t.TYPE_CHECKING:
    from target_redis.cache_types import Layout
    from target_redis.writer import Writer


class Overwrites:
    """The overwrites of one run."""

    def __init__(self, writer: Writer, layout: Layout, logger: logging.Logger) -> None:
        """Nothing started yet; the run id names temporary keys."""
        self.writer = writer
        self.layout = layout
        self.logger = logger
        self._run_id = uuid.uuid4().hex[:12]
        self._floors: dict[tuple[str, str], int] = {}
        self._temp_keys: dict[tuple[str, str], str] = {}

    def start(self, namespace: str, stream: str) -> None:
        """First SCHEMA of the stream in this run (later calls do nothing)."""
        key = (namespace, stream)
        if key in self._floors or key in self._temp_keys:
            return
        if self.layout.cache.single_key:
            self._temp_keys[key] = temp_key_for(namespace, stream, self._run_id)
            self.logger.info("Stream '%s': overwrite builds in %s.", stream, self._temp_keys[key])
            return
        floor = self.writer.read_counter(stream_key(namespace, stream))
        self._floors[key] = floor
        self.logger.info(
            "Stream '%s': overwrite will replace records with ids up to %d.", stream, floor
        )

    def temp_key(self, namespace: str, stream: str) -> str:
        """Where a single-key overwrite is being built."""
        return self._temp_keys[(namespace, stream)]

    def finish(self) -> None:
        """At a successful end of input: retire what the earlier runs wrote."""
        for (namespace, stream), floor in self._floors.items():
            removed = self.writer.remove_ids_up_to(
                namespace, stream, floor, self.layout.cache.redis_type
            )
            self.logger.info(
                "Stream '%s': overwrite removed %d records of earlier runs.", stream, removed
            )
        for (namespace, stream), temp in self._temp_keys.items():
            swapped = self.writer.swap_in(
                temp, stream_key(namespace, stream), self.layout.ttl_seconds
            )
            self.logger.info(
                "Stream '%s': overwrite %s.", stream, "swapped in" if swapped else "left it empty"
            )
        self._floors.clear()
        self._temp_keys.clear()
