"""The one place target-redis touches singer-sdk's private members.

Everything private the project overrides, reads or writes, and the one SDK body it
mirrors, is here, each with the SDK behaviour it adapts and why. target.py, sinks.py,
direct.py and reader.py subclass these classes and use their public hooks only.
tests/test_sdk_contract.py pins what this module relies on (members, signatures, the
SDK's per-record steps), so a singer-sdk change fails CI loudly instead of skipping
a step silently. The pin is ``singer-sdk~=0.54.9``.
"""

from __future__ import annotations

import copy
import typing as t

from singer_sdk import Target
from singer_sdk.exceptions import MissingKeyPropertiesError

# Private SDK modules: its ISO 8601 parsers (wider than Python 3.10's fromisoformat)
# and its test for date-like properties, so dates are checked as the SDK checks them.
from singer_sdk.helpers._compat import (
    date_fromisoformat,
    datetime_fromisoformat,
    time_fromisoformat,
)
from singer_sdk.helpers._typing import get_datelike_property_type

# Private: what the CLI's --config option hands ``invoke``.
from singer_sdk.plugin_base import _ConfigInput
from singer_sdk.singerlib.encoding import SimpleSingerReader
from singer_sdk.sinks import BatchSink

if t.TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.sinks import Sink

__all__ = ["ConfigInput", "SeamReader", "SeamSink", "SeamTarget", "date_checks"]

ConfigInput = _ConfigInput

DATE_PARSERS: dict[str, t.Callable[[str], t.Any]] = {
    "date-time": datetime_fromisoformat,
    "date": date_fromisoformat,
    "time": time_fromisoformat,
}

RECORD_STEPS = (
    "_assert_line_requires",
    "_assert_sink_exists",
    "copy",
    "transform",
    "_assert_sink_exists",
    "get_sink",
    "_get_context",
    "_add_sdc_metadata_to_record",
    "_remove_sdc_metadata_from_record",
    "_validate_and_parse",
    "preprocess_record",
    "_singer_validate_message",
    "tally_record_read",
    "process_record",
    "increment",
    "_after_process_record",
    "info",
    "drain_one",
    "_handle_max_record_age",
)
"""The calls of singer-sdk 0.54's ``Target._process_record_message``, in order.
``SeamTarget.sdk_record`` mirrors them and direct.py follows their order for plain
streams; the contract test compares this with the installed SDK's body."""


def date_checks(properties: t.Mapping[str, t.Any]) -> tuple[tuple[str, str, t.Any], ...]:
    """(name, format, parser) of each date, time or date-time property, as the SDK
    finds them."""
    return tuple(
        (name, kind, DATE_PARSERS[kind])
        for name, prop in properties.items()
        if (kind := get_datelike_property_type(prop)) in DATE_PARSERS
    )


class RecordSource(t.NamedTuple):
    """A RECORD message's own values, handed to the sink with its record."""

    time_extracted: t.Any
    record: t.Any
    """The record as the tap sent it (before stream maps)."""
    line: int
    """The input line it came on."""


class SeamReader(SimpleSingerReader):
    """The SDK's line reader."""

    def remember_line(self, line: t.Any) -> None:
        """The SDK reader's ``_current_message``: the line in hand (the SDK's
        ``process_lines`` sets it; ours replaces that loop)."""
        self._current_message = line

    @property
    def current_line(self) -> t.Any:
        """The line in hand."""
        return self._current_message

    def _process_unknown_message(self, message_dict: dict) -> None:
        # The SDK logs and goes on; an unknown message type is bad input here.
        self.unknown_message(message_dict)

    def unknown_message(self, message: dict) -> None:
        """A message of a type the SDK does not know."""
        raise NotImplementedError


class SeamSink(BatchSink):
    """The SDK's batch sink, with the private steps target-redis changes."""

    def _remove_sdc_metadata_from_record(self, record: dict) -> None:
        # The SDK removes every _sdc_* field the tap sent (tap-postgres' LOG_BASED
        # "_sdc_deleted_at": null among them) when add_record_metadata is off; the
        # record is stored as the tap sent it instead.
        return

    def _remove_sdc_metadata_from_schema(self) -> None:
        # Likewise for the schema: the tap's own _sdc_* properties stay declared, so
        # they are validated and do not warn as fields without a schema.
        return

    def _validate_and_parse(self, record: dict) -> dict:
        # The SDK's logs a traceback for an invalid record; the CLI reports it in one
        # line instead, naming this stream (a BATCH file's record has no message).
        self.validate_record(record)
        self.check_timestamps(record)
        return record

    def _singer_validate_message(self, record: dict) -> None:
        # As the SDK's; a missing key property names this stream.
        try:
            super()._singer_validate_message(record)
        except MissingKeyPropertiesError as exc:
            exc.stream = self.stream_name  # type: ignore[attr-defined]
            raise

    def _after_process_record(self, context: dict) -> None:
        # The SDK's logs the whole pending batch at DEBUG after every record
        # (quadratic: 20k records did not finish in two minutes).
        return

    def sdk_check_timestamps(self, record: dict) -> None:
        """The SDK's own date, time and date-time parsing of the record (the plain
        path), on a copy; ValueError for a value it cannot parse."""
        self._parse_timestamps_in_record(dict(record), self.schema, self.datetime_error_treatment)

    def validate_record(self, record: dict) -> None:
        """Raise InvalidRecord (naming the stream) when the record breaks the schema."""
        raise NotImplementedError

    def check_timestamps(self, record: dict) -> None:
        """Check the record's dates (the record is not changed)."""
        raise NotImplementedError

    def take_record(self, record: dict, context: dict, source: RecordSource) -> None:
        """The SDK's ``process_record``, with the message's own values."""
        raise NotImplementedError

    @property
    def record_validator(self) -> t.Any:
        """The SDK's ``_validator``: what ``get_validator`` returned."""
        return self._validator

    @property
    def pending_batch(self) -> dict | None:
        """The SDK's ``_pending_batch``: the batch context being filled, if any."""
        return self._pending_batch

    def batch_context(self, record: dict) -> dict:
        """The pending batch's context, started by the SDK's ``_get_context`` if none."""
        return self._pending_batch or self._get_context(record)

    def count_read(self) -> int:
        """``tally_record_read()``, its body (pinned by the contract test) without the
        call; the records in the pending batch."""
        self._total_records_read += 1
        self._batch_records_read += 1
        return self._batch_records_read

    @property
    def warned_missing_fields(self) -> set[str]:
        """The SDK's ``_warned_missing_fields``: properties warned about already."""
        return t.cast("set[str]", self._warned_missing_fields)


class SeamTarget(Target):
    """The SDK's target, with the private steps target-redis changes."""

    # Messages: the SDK's private callbacks, routed to public hooks.

    def _process_schema_message(self, message_dict: dict) -> None:
        self.check_schema_message(message_dict)
        super()._process_schema_message(message_dict)

    def _process_record_message(self, message_dict: dict) -> None:
        self.process_record_message(message_dict)

    def _process_state_message(self, message_dict: dict) -> None:
        super()._process_state_message(message_dict)
        self.after_state_message(message_dict)

    def _process_activate_version_message(self, message_dict: dict) -> None:
        self.check_activate_version(message_dict)
        super()._process_activate_version_message(message_dict)

    def _process_batch_message(self, message_dict: dict) -> None:
        # The SDK's hands the whole file to the sink; here each line takes the RECORD
        # path (stream maps, validation, on_invalid_record) instead.
        self.process_batch_message(message_dict)

    def sdk_record(self, message_dict: dict, line: int) -> None:
        """Mirrors ``Target._process_record_message`` (``RECORD_STEPS``), except that
        the sink's ``take_record`` receives the message's own values with the record:
        nothing reads a "current message" shared by all streams."""
        self._assert_line_requires(message_dict, requires={"stream", "record"})
        stream_name = message_dict["stream"]
        if stream_name not in self.mapper.stream_maps:
            self._assert_sink_exists(stream_name)
        raw = message_dict["record"]
        source = RecordSource(message_dict.get("time_extracted"), raw, line)
        for stream_map in self.mapper.stream_maps[stream_name]:
            raw_record = copy.copy(raw)
            transformed = stream_map.transform(raw_record)
            if transformed is None:
                continue  # filtered out by the map
            self._assert_sink_exists(stream_map.stream_alias)
            sink = t.cast("SeamSink", self.get_sink(stream_map.stream_alias, record=transformed))
            context = sink._get_context(transformed)
            if sink.include_sdc_metadata_properties:
                sink._add_sdc_metadata_to_record(transformed, message_dict, context)
            else:
                sink._remove_sdc_metadata_from_record(transformed)
            sink._validate_and_parse(transformed)
            transformed = sink.preprocess_record(transformed, context)
            sink._singer_validate_message(transformed)
            sink.tally_record_read()
            sink.take_record(transformed, context, source)
            sink.record_counter_metric.increment()
            sink._after_process_record(context)
            if sink.is_full:
                self.log_full(sink)
                self.drain_one(sink)
        self._handle_max_record_age()

    def log_full(self, sink: Sink) -> None:
        """The SDK's line before draining a full sink (logsafe.py demotes it)."""
        self.logger.info(
            "Target sink for '%s' is full. Current size is '%s'. Draining...",
            sink.stream_name,
            sink.current_size,
        )

    def check_schema_message(self, message: dict) -> None:
        """Refuse a SCHEMA message the SDK would mishandle."""

    def process_record_message(self, message: dict) -> None:
        """A RECORD message (``sdk_record`` takes it through the SDK's steps)."""
        raise NotImplementedError

    def after_state_message(self, message: dict) -> None:
        """After the SDK took in a STATE message."""

    def check_activate_version(self, message: dict) -> None:
        """Refuse an ACTIVATE_VERSION message the SDK would mishandle."""

    def process_batch_message(self, message: dict) -> None:
        """A BATCH message."""
        raise NotImplementedError

    # Draining, state, config, signals.

    def _drain_all(self, sink_list: t.Iterable[Sink], parallelism: int) -> None:
        # The SDK starts a thread pool (~50 ms) even for a single sink.
        sinks = list(sink_list)
        super()._drain_all(sinks, 1 if len(sinks) < 2 else parallelism)

    def drain_parked(self) -> None:
        """Drain the sinks the SDK parked at a schema change (``_sinks_to_clear``)."""
        self._drain_all(self._sinks_to_clear, 1)

    def drain_active(self) -> None:
        """Drain every active sink (``_sinks_active``) as the SDK's end of input does."""
        self._drain_all(list(self._sinks_active.values()), self.max_parallelism)

    def _write_state_message(self, state: dict) -> None:
        # The SDK's writes with stdlib json.dumps, which fails on Decimals.
        self.write_state(state)

    def write_state(self, state: dict) -> None:
        """Write one STATE line."""
        raise NotImplementedError

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        # The SDK's messages echo the offending value, which may be a secret.
        return self.validate_config(raise_errors=raise_errors)

    def validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Check the settings against the schema; the problems found."""
        raise NotImplementedError

    @property
    def given_config(self) -> dict:
        """The SDK's ``_config``: the settings as given (before defaults)."""
        return t.cast("dict", self._config)

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        # The SDK's drains and exits from inside the signal handler, whatever the
        # target was doing; the hook stops at a message boundary instead.
        self.on_signal(signum)

    def on_signal(self, signum: int) -> None:
        """SIGTERM or SIGINT arrived."""
        raise NotImplementedError

    @classmethod
    def about_or_continue(cls, *, about: bool, about_format: str | None) -> None:
        """``PluginBase.invoke``: print ``--about`` and exit, else return. Skips
        ``Target.invoke``, which would run the target without our error handling."""
        super(Target, cls).invoke(about=about, about_format=about_format)

    # What the SDK keeps about sinks and drains.

    def active_sink(self, stream: str) -> Sink | None:
        """The SDK's ``_sinks_active``: the stream's current sink."""
        return self._sinks_active.get(stream)

    def active_sinks(self) -> list[Sink]:
        """Every current sink."""
        return list(self._sinks_active.values())

    @property
    def max_record_age_seconds(self) -> float:
        """``_MAX_RECORD_AGE_IN_MINUTES``: the SDK drains every sink when a record
        waited this long."""
        return float(self._MAX_RECORD_AGE_IN_MINUTES) * 60

    age_drain_due: float = 0.0
    """``time.time()`` from which the SDK's max-age drain may be due (a millisecond
    early): the direct path asks ``drain_if_old`` only then. 0: not known yet."""

    def _reset_max_record_age(self) -> None:
        # As the SDK's (a full drain), keeping ``age_drain_due`` with it.
        super()._reset_max_record_age()
        self.reset_age_drain_due()

    def drain_if_old(self) -> None:
        """The SDK's ``_handle_max_record_age``."""
        self._handle_max_record_age()
        self.reset_age_drain_due()

    def reset_age_drain_due(self) -> None:
        """``age_drain_due`` from the SDK's last full drain."""
        self.age_drain_due = self._last_full_drain_at + self.max_record_age_seconds - 0.001
