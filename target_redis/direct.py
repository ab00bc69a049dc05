"""The direct path: RECORD lines of plain streams go from the input line to the
sink's pending batch without the SDK's per-record machinery (record copy, map
transform, metadata hooks, per-record property lookups).

A stream is plain when its only stream map is the SDK's identity map without
flattening, its sink is a RedisSink without record metadata, and the target runs its
fast path. Each record is first checked with nothing changed: decoding, validation,
key properties, its row. A line or record that any check refuses takes the SDK's
path, which raises, warns or sets it aside exactly as before. The line is decoded
once, message and record together; the schema's msgspec type then checks the record
from the line. Then the SDK's steps follow in the SDK's order: warnings about the
record's fields, the row on the pending batch, tallies, the record counter metric,
the drain when full, the max-age drain (sdk_seam.RECORD_STEPS, pinned by the
contract test; the bookkeeping it repeats without calling the SDK is pinned by body).
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

    age_drain_due: float
    """From when the SDK's max-age drain may be due (``time.time()``)."""

    def active_sink(self, stream: str) -> t.Any:
        """The stream's current sink."""

    def log_full(self, sink: t.Any) -> None:
        """The SDK's line before draining a full sink."""

    def drain_one(self, sink: t.Any) -> None:
        """Write the sink's pending batch."""

    def drain_if_old(self) -> None:
        """The SDK's max-age drain."""


class Message(msgspec.Struct):
    """The parts of a Singer message the direct path reads."""

    type: t.Any = None
    stream: t.Any = None
    record: t.Any = None
    time_extracted: t.Any = None


_MESSAGES: dict[bool, t.Callable[[str | bytes], Message]] = {
    # Rows that only re-encode the record: a number with a fraction or an exponent
    # stays its own text (msgspec.Raw), which costs less than a Decimal.
    True: msgspec.json.Decoder(Message, float_hook=msgspec.Raw).decode,
    False: msgspec.json.Decoder(Message, float_hook=number).decode,
}
_UNKNOWN: t.Final = object()


@dataclasses.dataclass(slots=True)
class Lane:
    """One plain stream's sink and what its records are checked with."""

    sink: RedisSink
    raw_numbers: bool
    """Its records' numbers with a fraction or an exponent are msgspec.Raw (else Decimals)."""
    valid: t.Callable[[t.Any, str | bytes], bool]
    """Whether the record (from the line) is an object, valid, with its key properties."""
    max_rows: int
    max_bytes: int
    counter: t.Any
    """The sink's record counter metric."""
    plain_row: t.Callable[[dict, t.Any], t.Any]
    """The plan's row builder for records that only need their JSON (else None)."""
    row: t.Callable[[dict, t.Any, t.Any], t.Any]
    """The plan's row builder."""
    check_fields: t.Callable[[dict], None]
    add_row: t.Callable[[t.Any, dict], None]
    metric_due: float = 0.0
    """``time.time()`` from which the counter may log its metric line (0: not known)."""


class DirectRecords:
    """Takes the RECORD lines of plain streams (``take``), leaving the rest."""

    def __init__(self, target: DirectHost) -> None:
        """Lanes are found on a stream's first record, again after each SCHEMA."""
        self.target = target
        self.lanes: dict[str, Lane | None] = {}
        self.raw_numbers = True
        """How the last line's lane had its numbers decoded."""

    def reset(self) -> None:
        """Forget every lane (a SCHEMA message may have changed a stream's sink or maps)."""
        self.lanes.clear()

    def take(self, line: str | bytes) -> bool:
        """Load the line if it is a plain stream's valid RECORD; False to leave it to
        the SDK's path (which then handles it from the start)."""
        found = self._message(line)
        if found is None:
            return False
        message, lane = found
        target = self.target
        sink = lane.sink
        record = message.record
        try:
            if not lane.valid(record, line):
                return False
            time_extracted = message.time_extracted
            row = lane.plain_row(record, time_extracted) or lane.row(record, time_extracted, record)
        except Exception:  # the SDK's path raises it, or sets the record aside
            return False
        lane.check_fields(record)  # _validate_and_parse's warnings
        context = sink.batch_context(record)
        read = sink.count_read()  # tally_record_read
        lane.add_row(row, context)  # process_record
        counter = lane.counter  # its increment(), with one clock reading for both checks
        counter.value += 1
        now = time.time()
        if now > lane.metric_due:
            counter.increment(0)  # the SDK's own test, and its metric line when due
            lane.metric_due = counter.last_log_time + counter.log_interval - 0.001
        if read >= lane.max_rows or (lane.max_bytes and context["bytes"] >= lane.max_bytes):
            target.log_full(sink)
            target.drain_one(sink)
            now = time.time()
        if now > target.age_drain_due:
            target.drain_if_old()
        target.records_since_state += 1
        return True

    def _message(self, line: str | bytes) -> tuple[Message, Lane] | None:
        """The line decoded once, with its lane; None unless a plain stream's RECORD.
        Its numbers are decoded as the last line's lane had them (streams come in
        runs), again when its own lane has them the other way."""
        raw_numbers = self.raw_numbers
        try:
            message = _MESSAGES[raw_numbers](line)
        except Exception:  # the SDK's path reports it
            return None
        stream = message.stream
        if message.type != "RECORD" or type(stream) is not str:
            return None
        lane = self.lanes.get(stream, _UNKNOWN)
        if lane is _UNKNOWN:
            lane = self.lanes[stream] = self._lane(stream)
        if not isinstance(lane, Lane):
            return None
        if self.target.active_sink(stream) is not lane.sink:  # a new SCHEMA
            del self.lanes[stream]
            return None
        if lane.raw_numbers is not raw_numbers:
            self.raw_numbers = lane.raw_numbers
            message = _MESSAGES[lane.raw_numbers](line)
        return message, lane

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
            raw_numbers=not reads_numbers,
            valid=_checker(validator, frozenset(sink.key_properties or ())),
            max_rows=sink.max_size,
            max_bytes=sink.max_bytes,
            counter=sink.record_counter_metric,
            plain_row=sink.plan.plain_row,
            row=sink.plan.row,
            check_fields=sink.check_fields,
            add_row=sink.add_row,
        )


def _checker(
    validator: CompiledValidator | None, key_properties: frozenset[str]
) -> t.Callable[[t.Any, str | bytes], bool]:
    """Whether a record is an object, valid (the SDK's path gives the reason when not)
    and has its key properties. Valid: its line decodes with the record as the
    schema's msgspec type, or, where that refuses it or there is none, the validator
    accepts the record."""
    accepts = validator.accepts if validator is not None else None
    typed = None
    if validator is not None and validator.decoder is not None:
        checked = msgspec.defstruct("Checked", [("record", validator.decoder.type)])
        typed = msgspec.json.Decoder(checked).decode

    def valid(record: t.Any, line: str | bytes) -> bool:
        if type(record) is not dict:
            return False
        if typed is not None:
            try:
                typed(line)
            except msgspec.ValidationError:  # numbers as Decimals, as on the SDK's path
                if not accepts(DECODER.decode(line)["record"]):  # type: ignore[misc]
                    return False
        elif accepts is not None and not accepts(record):
            return False
        return record.keys() >= key_properties

    return valid
