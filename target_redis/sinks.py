"""RedisSink: the SDK's sink for one stream, handing its records to the stream's plan.

The SDK hands over validated records with the message's own values; the plan turns
each into a Row (plan.StreamPlan.row) on the pending batch, and ``process_batch``
gives the batch to the load method. Its pipeline may still be in flight when that
returns: ``Writer.settle`` reads the replies before any STATE line. An invalid record
stops the run, or is set aside under ``on_invalid_record`` (target.py).
"""

from __future__ import annotations

import typing as t

from singer_sdk.exceptions import InvalidRecord

from target_redis import settings
from target_redis.cache_types import RecordType
from target_redis.errors import (
    REDIS_ERRORS,
    BadInputError,
    TargetRedisError,
    explain_redis_error,
)
from target_redis.rows import Row
from target_redis.sdk_seam import RecordSource, SeamSink, date_checks
from target_redis.validation import CompiledValidator

if t.TYPE_CHECKING:
    from singer_sdk.sinks.core import BaseJSONSchemaValidator

    from target_redis.plan import StreamPlan
    from target_redis.progress import Progress


class SinkHost(t.Protocol):
    """What a sink needs from its target."""

    fast_path: bool
    encode: t.Callable[[t.Mapping[str, t.Any]], str]

    def plan_for(
        self, stream: str, key_properties: t.Sequence[str] | None, properties: t.Any
    ) -> StreamPlan:
        """The stream's plan, started."""

    def progress_for(self, stream: str) -> Progress:
        """The stream's progress counter."""

    def warn_once(self, topic: str, message: str, *args: t.Any) -> None:
        """A warning, once per topic."""

    def drain_one(self, sink: t.Any) -> None:
        """Write the sink's pending batch."""


class RedisSink(SeamSink):
    """Writes one stream's batches to Redis; each batch is one pipeline (or ~1 MiB
    parts of one)."""

    MAX_SIZE_DEFAULT = 10000

    def __init__(
        self,
        target: SinkHost,
        stream_name: str,
        schema: dict,
        key_properties: t.Sequence[str] | None,
    ) -> None:
        """Bind the sink to the target's shared writer and resolve its load method."""
        self.target = target  # before super(): the SDK asks for the validator there
        super().__init__(t.cast("t.Any", target), stream_name, schema, key_properties)
        # Here, not in setup(): the SDK logs a second ERROR line for a failed setup().
        self.plan = target.plan_for(stream_name, self.key_properties, self.schema["properties"])
        self.encode = target.encode
        self.max_bytes = int(settings.value(self.config, "batch_size_bytes"))
        properties = self.schema["properties"]
        self._known_fields = set(properties)
        self._open_schema = bool(self.schema.get("additionalProperties", False))
        self._date_checks = date_checks(properties)
        """The date properties not warned about yet."""
        self.progress = target.progress_for(stream_name)

    def get_validator(self) -> BaseJSONSchemaValidator | None:
        """A compiled validator (the SDK's jsonschema one on the plain path)."""
        if not self.validate_schema or not self.target.fast_path:
            return super().get_validator()
        return CompiledValidator(self.schema)

    def validate_record(self, record: dict) -> None:
        """Raise InvalidRecord, naming this stream, when the record breaks the schema."""
        try:
            if self.record_validator is not None:
                self.record_validator.validate(record)
        except InvalidRecord as exc:
            exc.stream = self.stream_name  # type: ignore[attr-defined]
            raise

    def check_timestamps(self, record: dict) -> None:
        """Check date, time and date-time values without changing them: the tap's text
        is what gets stored. JSON Schema formats are annotations, so a value that does
        not parse is stored as sent, with one warning per property."""
        if not self.target.fast_path:
            try:
                self.sdk_check_timestamps(record)
            except ValueError:
                self._check_dates(record)
            return
        self.check_fields(record)

    def check_fields(self, record: dict) -> None:
        """Warn once per property about a date that is not ISO 8601 and about a field
        the schema does not declare (the record is not changed)."""
        self._check_dates(record)
        if not self._open_schema and not self._known_fields.issuperset(record):
            for name in record.keys() - self._known_fields:
                if record[name] is not None and name not in self.warned_missing_fields:
                    self.logger.warning("No schema for record field '%s'", name)
                    self.warned_missing_fields.add(name)

    def _check_dates(self, record: dict) -> None:
        for name, kind, parse in self._date_checks:
            value = record.get(name)
            if isinstance(value, str):
                try:
                    parse(value)
                except ValueError:
                    self._date_checks = tuple(c for c in self._date_checks if c[0] != name)
                    self.logger.warning(
                        "Stream '%s': property '%s' (format %s) has a value that is not "
                        "ISO 8601, e.g. %r; such values are stored as sent (warned once).",
                        self.stream_name,
                        name,
                        kind,
                        value[:40],
                    )

    def take_record(self, record: dict, context: dict, source: RecordSource) -> None:
        """Turn a validated record into a Row on the pending batch (``source``: the
        message's time_extracted, its record as the tap sent it, its input line)."""
        # The SDK counted the record already: a record set aside (on_invalid_record)
        # must leave a batch, possibly empty, for the drain to find.
        context.setdefault("records", [])
        self.add_row(self.plan.row(record, source.time_extracted, source.record), context)

    def process_record(self, record: dict, context: dict) -> None:
        """The SDK's hook, for a caller without the message: as ``take_record``."""
        self.take_record(record, context, RecordSource(None, record, 0))

    def add_row(self, row: Row, context: dict) -> None:
        """Put a row on the pending batch (``context``)."""
        if self.progress.first is None:
            self.progress.started()
        records = context.get("records")
        if records is None:
            context["records"] = records = []
        records.append(row)
        size = len(row.text)
        if row.fields:  # held as well as the JSON: the budget counts what the batch holds
            size += sum(map(len, row.fields))
        context["bytes"] = context.get("bytes", 0) + size

    @property
    def is_full(self) -> bool:
        """Full at ``batch_size_rows`` records or ``batch_size_bytes`` of record JSON
        (and, with ``record_format: fields``, of field names and values)."""
        if super().is_full:
            return True
        pending = (self.pending_batch or {}).get("bytes", 0)
        return bool(self.max_bytes) and pending >= self.max_bytes

    def process_batch(self, context: dict) -> None:
        """Write the batch (its replies are read by ``Writer.settle``, before the next
        STATE line and before any other Redis call)."""
        rows: list[t.Any] | None = context.get("records")
        if rows is None:
            # A drain re-entered (e.g. a signal during a drain) without the batch:
            # treating it as empty would let the SDK emit state for unwritten data.
            msg = (
                f"Stream '{self.stream_name}': a batch was drained without its "
                "records (interrupted drain); stopping without emitting state."
            )
            raise TargetRedisError(msg)
        try:
            written = self.plan.load.write(rows)
            deletes = sum(1 for row in rows if row.deleted)
            self.progress.add(len(rows) - deletes, deletes)
        except REDIS_ERRORS as exc:
            detail = explain_redis_error(exc)
            msg = (
                f"Stream '{self.stream_name}': writing a batch of {len(rows)} records "
                f"to Redis failed: {detail}"
            )
            raise TargetRedisError(msg) from exc
        self.logger.debug("Stream '%s': batch of %d records written.", self.stream_name, written)

    def activate_version(self, new_version: int) -> None:
        """Remove (hard_delete) or mark deleted what versions before ``new_version``
        wrote, after writing this stream's pending batch."""
        cache = self.plan.cache
        if not isinstance(cache, RecordType):
            self.target.warn_once(
                f"activate-single:{self.stream_name}",
                "Stream '%s': ACTIVATE_VERSION is ignored for cache_type %s (use "
                "load_method overwrite, which replaces the key atomically).",
                self.stream_name,
                cache.name,
            )
            return
        if not self.include_sdc_metadata_properties:
            msg = (
                f"Stream '{self.stream_name}': ACTIVATE_VERSION needs each record's "
                "version; set add_record_metadata: true (or process_activate_version_"
                "messages: false). Nothing was deleted."
            )
            raise BadInputError(msg)
        self.target.drain_one(self)
        removed = self.plan.load.retire(new_version, self.encode)
        self.logger.info(
            "Stream '%s': version %d active; %d records of older versions %s.",
            self.stream_name,
            new_version,
            removed,
            "deleted" if self.plan.load.setup.hard_delete else "marked deleted",
        )
