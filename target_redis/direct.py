"""The direct path: RECORD lines of plain streams go from the input line to the
sink's pending batch without the SDK's per-record machinery (record copy, map
transform, metadata hooks, per-record property lookups).

A stream is plain when its only stream map is the SDK's identity map without
flattening, its sink is a RedisSink without record metadata, and the target runs its
fast path. Each record is first checked with nothing changed: decoding, validation,
key properties, its row. A line or record that any check refuses takes the SDK's
path, which raises, warns or sets it aside exactly as before. Then the SDK's steps
follow in the SDK's order: warnings about the record's fields, the row on the
pending batch, tallies, the record counter metric, the drain when full, the
max-age drain (sdk_seam.RECORD_STEPS, pinned by the contract test).
"""

from __future__ import annotations

import dataclasses
import time
import typing as t

import msgspec
from singer_sdk.mapper import SameRecordTransform

from target_redis.reader import DECODER
from target_redis.rows import number
from target_redis.sinks import RedisSink
from target_redis.validation import CompiledValidator


class DirectHost(t.Protocol):
    """What the direct path needs from the target (the SDK's state, via the seam)."""

    mapper: t.Any
    records_since_state: int

    @property
    def max_record_age_seconds(self) -> float:
        """The SDK drains every sink when a record waited this long."""

    @property
    def last_full_drain_at(self) -> float:
        """When the SDK last drained every sink (``time.time()``)."""

    def active_sink(self, stream: str) -> t.Any:
        """The stream's current sink."""

    def log_full(self, sink: t.Any) -> None:
        """The SDK's line before draining a full sink."""

    def drain_one(self, sink: t.Any) -> None:
        """Write the sink's pending batch."""

    def drain_if_old(self) -> None:
        """The SDK's max-age drain."""


class Envelope(msgspec.Struct):
    """The parts of a Singer message the direct path reads; the record stays raw."""

    type: t.Any = None
    stream: t.Any = None
    record: msgspec.Raw = msgspec.Raw(b"")
    time_extracted: t.Any = None


_ENVELOPE = msgspec.json.Decoder(Envelope, float_hook=number)
_UNKNOWN: t.Final = object()


_RAW_NUMBERS = msgspec.json.Decoder(float_hook=msgspec.Raw)
"""For rows that only re-encode the record: a number with a fraction or an exponent
stays its own text (msgspec.Raw), which costs less than a Decimal."""


@dataclasses.dataclass(slots=True)
class Lane:
    """One plain stream's sink and what its records are checked with."""

    sink: RedisSink
    decode: t.Callable[[msgspec.Raw], t.Any]
    check: t.Callable[[msgspec.Raw, dict], bool]
    key_properties: tuple[str, ...]
    max_rows: int
    max_bytes: int
    increment: t.Callable[[], None]
    """The sink's record counter metric's."""
    row: t.Callable[[dict, t.Any, t.Any], t.Any]
    """The plan's row builder."""
    check_fields: t.Callable[[dict], None]
    add_row: t.Callable[[t.Any, dict], None]
    max_age_seconds: float
    """The SDK drains every sink when a record waited this long."""


class DirectRecords:
    """Takes the RECORD lines of plain streams (``take``), leaving the rest."""

    def __init__(self, target: DirectHost) -> None:
        """Lanes are found on a stream's first record, again after each SCHEMA."""
        self.target = target
        self.lanes: dict[str, Lane | None] = {}

    def reset(self) -> None:
        """Forget every lane (a SCHEMA message may have changed a stream's sink or maps)."""
        self.lanes.clear()

    def take(self, line: str | bytes) -> bool:
        """Load the line if it is a plain stream's valid RECORD; False to leave it to
        the SDK's path (which then handles it from the start)."""
        try:
            message = _ENVELOPE.decode(line)
        except Exception:  # the SDK's path reports it
            return False
        stream = message.stream
        if message.type != "RECORD" or type(stream) is not str:
            return False
        lane = self.lanes.get(stream, _UNKNOWN)
        if lane is _UNKNOWN:
            lane = self.lanes[stream] = self._lane(stream)
        if not isinstance(lane, Lane):
            return False
        target = self.target
        sink = lane.sink
        if target.active_sink(stream) is not sink:  # a new SCHEMA
            del self.lanes[stream]
            return False
        try:
            record = lane.decode(message.record)
            if type(record) is not dict or not lane.check(message.record, record):
                return False
            for name in lane.key_properties:
                if name not in record:
                    return False
            row = lane.row(record, message.time_extracted, record)
        except Exception:  # the SDK's path raises it, or sets the record aside
            return False
        lane.check_fields(record)  # _validate_and_parse's warnings
        context = sink.batch_context(record)
        sink.tally_record_read()
        lane.add_row(row, context)  # process_record
        lane.increment()
        if sink.batch_records_read >= lane.max_rows or (
            lane.max_bytes and context["bytes"] >= lane.max_bytes
        ):
            target.log_full(sink)
            target.drain_one(sink)
        if time.time() - target.last_full_drain_at > lane.max_age_seconds:
            target.drain_if_old()
        target.records_since_state += 1
        return True

    def _lane(self, stream: str) -> Lane | None:
        target = self.target
        maps = target.mapper.stream_maps.get(stream) or []
        if len(maps) != 1:
            return None
        (stream_map,) = maps
        if (
            type(stream_map) is not SameRecordTransform
            or stream_map.flattening_enabled
            or stream_map.stream_alias != stream
        ):
            return None
        sink = target.active_sink(stream)
        if type(sink) is not RedisSink or sink.include_sdc_metadata_properties:
            return None
        validator = sink.record_validator
        if validator is not None and not isinstance(validator, CompiledValidator):
            return None
        # Numbers are read only by keys, fields, scores and the validator's dict.
        reads_numbers = not sink.plan.plain_rows or (
            validator is not None and validator.decoder is None
        )
        return Lane(
            sink=sink,
            decode=DECODER.decode if reads_numbers else _RAW_NUMBERS.decode,
            check=_checker(validator),
            key_properties=tuple(sink.key_properties or ()),
            max_rows=sink.max_size,
            max_bytes=sink.max_bytes,
            increment=sink.record_counter_metric.increment,
            row=sink.plan.row,
            check_fields=sink.check_fields,
            add_row=sink.add_row,
            max_age_seconds=target.max_record_age_seconds,
        )


def _checker(validator: CompiledValidator | None) -> t.Callable[[msgspec.Raw, dict], bool]:
    """True when the record is valid (the SDK's path gives the reason when not): its
    JSON is checked by the schema's msgspec type, else the record by the validator."""
    if validator is None:
        return lambda raw, record: True
    accepts = validator.accepts
    decoder = validator.decoder
    if decoder is None:
        return lambda raw, record: accepts(record)
    decode = decoder.decode

    def check(raw: msgspec.Raw, record: dict) -> bool:
        try:
            decode(raw)
        except msgspec.ValidationError:
            return accepts(DECODER.decode(raw))  # numbers as Decimals, as on the SDK's path
        return True

    return check
