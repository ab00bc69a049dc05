"""TargetRedis: settings, capabilities, sink routing and fixes to SDK state handling."""

from __future__ import annotations

import sys
import time
import typing as t
import uuid

import click
import redis
from singer_sdk.exceptions import (
    ConfigValidationError,
    InvalidRecord,
    MissingKeyPropertiesError,
)
from singer_sdk.helpers.capabilities import PluginCapabilities, TargetCapabilities
from singer_sdk.plugin_base import JSONSchemaValidator
from singer_sdk.singerlib.json import serialize_json

from target_redis import __version__, cli, logsafe, rows, settings, startup, stream_settings
from target_redis.batch_files import BatchLine, batch_records
from target_redis.connection import adopt, connect
from target_redis.direct import DirectRecords
from target_redis.errors import (
    REDIS_ERRORS,
    BadInputError,
    RejectedRecord,
    TargetRedisError,
    describe_config_error,
)
from target_redis.invalid import InvalidRecords
from target_redis.keyspace import KeySpace
from target_redis.load_method import LoadMethod, StreamSetup
from target_redis.load_methods import load_method_for, warn_incremental
from target_redis.plan import StreamPlan
from target_redis.progress import Progress
from target_redis.reader import COLLIDING_KEYS, FastReader, PlainReader, stream_name
from target_redis.sdk_seam import ConfigInput, SeamTarget
from target_redis.search_index import search_for
from target_redis.sinks import RedisSink
from target_redis.stopping import StopControl
from target_redis.validation import check_references

if t.TYPE_CHECKING:
    from singer_sdk.sinks import Sink


BATCH_LINE = "__target_redis_batch_line__"
"""Set on a RECORD message made from a BATCH file's line: where the line came from."""


class TargetRedis(SeamTarget):
    """Singer target for Redis, compatible with Airbyte's destination-redis layout."""

    name = "target-redis"
    package_name = "target-redis"
    default_sink_class = RedisSink
    message_reader_class: type[PlainReader] = FastReader
    fast_path: t.ClassVar[bool] = True
    """msgspec reading and encoding, compiled validation, cheap date checks. False
    gives the SDK's own ways (the differential tests compare the two)."""
    direct_path: t.ClassVar[bool] = True
    """On the fast path, plain streams' records skip the SDK's per-record machinery
    (direct.py). False sends every record through the SDK's path."""
    capabilities: t.ClassVar[list] = [
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.STRUCTURED_LOGGING,
        PluginCapabilities.ACTIVATE_VERSION,
        PluginCapabilities.BATCH,
        TargetCapabilities.VALIDATE_RECORDS,
        TargetCapabilities.HARD_DELETE,
    ]
    config_jsonschema = settings.SCHEMA

    def __init__(
        self,
        *,
        config: dict | None = None,
        parse_env_config: bool = False,
        validate_config: bool = True,
        setup_mapper: bool = True,
        message_reader: PlainReader | None = None,
        client: redis.Redis | None = None,
        emit_state: t.Callable[[str], None] | None = None,
    ) -> None:
        """Validate settings, then connect and authenticate before any input.
        ``client``: write through this redis-py client instead of connecting;
        ``emit_state``: receives each STATE line instead of standard output."""
        logsafe.install()
        super().__init__(
            config=config,
            parse_env_config=parse_env_config,
            validate_config=validate_config,
            setup_mapper=setup_mapper,
            message_reader=message_reader,
        )
        known = self.config_jsonschema["properties"]
        unknown = startup.check_settings(self.config, self.given_config, known)
        startup.log_unknown(self.logger, unknown)
        shapes = stream_settings.entries(self.config)  # refuses what cannot work
        self.connection = adopt(client) if client is not None else connect(self.config)
        self._emit_state = emit_state
        self._run_id = uuid.uuid4().hex[:12]
        self.writer = startup.writer_for(self.connection, self.config, self._run_id)
        startup.check_server(self.connection, self.writer, shapes, self.config, self.logger)
        self.encode = rows.encode_data if self.fast_path else rows.encode_data_plain
        self._progress: dict[str, Progress] = {}
        self.plans: dict[str, StreamPlan] = {}
        self._index_prefixes: dict[str, str] = {}
        """The key prefixes this run's search indexes select, with their streams."""
        self._known_streams: dict[str, set[str]] = {}
        self._warned: set[str] = set()
        self.invalid = InvalidRecords(
            settings.value(self.config, "on_invalid_record"),
            settings.value(self.config, "max_invalid_records"),
            self.writer,
            self.logger,
        )
        self._checkpoint_seconds = float(settings.value(self.config, "state_checkpoint_seconds"))
        self._checkpoint_records = settings.value(self.config, "state_checkpoint_records")
        self.records_since_state = 0
        """RECORD messages since the last STATE line (``state_checkpoint_records``)."""
        self._last_state_at = time.monotonic()
        self._last_emitted_state: dict | None = None
        self.stop = StopControl(self.logger, self.writer.retrier.stop_soon)
        self.direct = DirectRecords(self)
        if self.fast_path and self.direct_path and isinstance(self.message_reader, FastReader):
            self.message_reader.direct = self.direct.take

    @classmethod
    def get_plugin_version(cls) -> str:
        """The package's own version (no scan of installed packages' metadata)."""
        return __version__

    # Settings

    def validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Check the settings; each problem names the setting and the rule, never the
        value (it may be a secret)."""
        schema = self.config_jsonschema
        self.append_builtin_config(schema)
        settings.coerce_strings(self.given_config, schema)
        validator = JSONSchemaValidator(schema)
        errors = [describe_config_error(e) for e in validator.iter_errors(self.given_config)]
        if errors and raise_errors:
            # The details in the message: pytest and the CLI show them, not a generic line.
            raise ConfigValidationError("; ".join(errors), errors=errors, schema=schema)
        for error in errors:
            self.logger.warning("Config: %s", error)
        return errors

    def close(self) -> None:
        """Give back overwrite leases, release the Redis connection and the SSH tunnel."""
        self.writer.discard()  # only a failing run has a batch left unacknowledged
        for load in self.loads():
            load.release()
        self.writer.drop_marks()
        self.connection.close()
        self.stop.close()

    @property
    def input_line(self) -> int:
        """The number of the input line in hand (0 before any)."""
        return int(getattr(self.message_reader, "line_number", 0))

    def progress_for(self, stream: str) -> Progress:
        """The stream's progress counter, shared by its sinks across schema changes."""
        if stream not in self._progress:
            self._progress[stream] = Progress(stream, self.logger)
        return self._progress[stream]

    def warn_once(self, topic: str, message: str, *args: t.Any) -> None:
        """Log a warning the first time ``topic`` comes up in this run."""
        if topic not in self._warned:
            self._warned.add(topic)
            self.logger.warning(message, *args)

    # Messages

    def check_schema_message(self, message_dict: dict) -> None:
        """Refuse a SCHEMA without properties or with references that do not resolve;
        the direct path finds its lanes again."""
        stream = stream_name(message_dict)
        schema = message_dict.get("schema")
        if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
            msg = f"SCHEMA for stream '{stream}' has no 'properties' object."
            raise BadInputError(msg)
        problem = check_references(schema)
        if problem:
            raise BadInputError(f"SCHEMA for stream '{stream}': {problem}.")
        self.direct.reset()

    def process_record_message(self, message_dict: dict) -> None:
        """A RECORD message, or a BATCH file's line made one: through the SDK's steps,
        an invalid record stopping the run or set aside (``on_invalid_record``)."""
        batch_line: BatchLine | None = message_dict.pop(BATCH_LINE, None)
        stream = stream_name(message_dict)
        if not isinstance(message_dict.get("record"), dict):
            msg = f"RECORD of stream '{stream}' is not a JSON object."
            raise BadInputError(msg)
        try:
            if message_dict.pop(COLLIDING_KEYS, False):
                msg = (
                    f"Stream '{stream}': two keys of the record are the same once their lone "
                    "surrogates (such as \\ud800) are replaced by U+FFFD."
                )
                raise RejectedRecord(msg)
            self.sdk_record(message_dict, self.input_line)
        except (InvalidRecord, MissingKeyPropertiesError, RejectedRecord) as exc:
            where = batch_line.where if batch_line is not None else None
            if where is not None:
                exc.batch_file = where  # type: ignore[union-attr]
            if not self.invalid.tolerated:
                raise
            reason = exc.error_message if isinstance(exc, InvalidRecord) else str(exc)
            reader_line = getattr(self.message_reader, "current_line", b"")
            line = batch_line.text if batch_line is not None else reader_line
            namespace = stream_settings.for_stream(self.config, stream).namespace
            self.invalid.set_aside(stream, namespace, reason, self.input_line, line, where)
            self.progress_for(stream).invalid += 1
        self.records_since_state += 1

    def after_state_message(self, message_dict: dict) -> None:
        """Warn about an incremental stream under overwrite, renew leases, and write
        every pending batch when a checkpoint is due."""
        warn_incremental(self.loads(), message_dict.get("value"))
        for load in self.loads():
            load.keepalive()
        if self._checkpoint_due():
            self.drain_all()  # every pending batch is written before the state line

    def _checkpoint_due(self) -> bool:
        if self._checkpoint_records and self.records_since_state >= self._checkpoint_records:
            return True
        elapsed = time.monotonic() - self._last_state_at
        return bool(self._checkpoint_seconds) and elapsed >= self._checkpoint_seconds

    def check_activate_version(self, message_dict: dict) -> None:
        """Refuse an ACTIVATE_VERSION before its SCHEMA or without an integer version."""
        stream = stream_name(message_dict)
        if stream not in self.mapper.stream_maps:
            msg = f"ACTIVATE_VERSION for stream '{stream}' arrived before its SCHEMA."
            raise BadInputError(msg)
        version = message_dict.get("version")
        wanted = settings.value(self.config, "process_activate_version_messages")
        if wanted and (not isinstance(version, int) or isinstance(version, bool)):
            msg = f"ACTIVATE_VERSION for stream '{stream}': 'version' must be an integer."
            raise BadInputError(msg)

    def process_batch_message(self, message_dict: dict) -> None:
        """Each line of the BATCH's files through the RECORD path (stream maps,
        flattening, validation, on_invalid_record), in input order."""
        stream = stream_name(message_dict)
        if stream not in self.mapper.stream_maps:
            msg = f"BATCH for stream '{stream}' arrived before its SCHEMA."
            raise BadInputError(msg)
        budget = int(settings.value(self.config, "batch_size_bytes"))
        dirs = self.config.get("batch_file_dirs")
        for record in batch_records(stream, message_dict, dirs, budget, BATCH_LINE):
            self.process_record_message(record)

    def get_sink(
        self,
        stream_name: str,
        *,
        record: dict | None = None,
        schema: dict | None = None,
        key_properties: t.Sequence[str] | None = None,
    ) -> Sink:
        """Return the stream's sink; on a schema change, drain the old sink first.

        The SDK parks the old sink until the next full drain, so the new sink
        could write a newer record before the old sink writes an older one.
        """
        previous = self.active_sink(stream_name)
        sink = super().get_sink(
            stream_name, record=record, schema=schema, key_properties=key_properties
        )
        if previous is not None and sink is not previous:
            self.drain_one(previous)
        return sink

    # Load methods

    def plan_for(
        self,
        stream: str,
        key_properties: t.Sequence[str] | None,
        properties: t.Mapping[str, t.Any],
    ) -> StreamPlan:
        """The stream's plan for this run (one per stream, shared by its sinks), started
        at its first SCHEMA: manifest read, key scheme chosen, conflicts refused."""
        if stream in self.plans:
            self.plans[stream].schema(properties)
            return self.plans[stream]
        each = stream_settings.for_stream(self.config, stream)
        setup = StreamSetup(
            space=KeySpace(each.namespace, stream),
            cache=each.cache(self.connection.server),
            record_format=each.format_class(),
            writer=self.writer,
            key_properties=tuple(key_properties or ()),
            hard_delete=each.hard_delete,
            logger=self.logger,
            warn_once=self.warn_once,
            version=__version__,
            run_id=self._run_id,
            overwrite_keys=each.overwrite_keys,
            template=stream_settings.template(each),
            merge=each.merge,
            known_streams=self._known_streams.setdefault(each.namespace, set()),
            bare_values=bool(each.member_field or each.value_field),
        )
        plan = StreamPlan(
            load_method_for(each.load_method, setup),
            each.row_settings(stream, self.connection.server.max_bulk_bytes),
            self.encode,
            self.warn_once,
            search_for(each, setup.space, self.writer, self.logger, self._index_prefixes),
        )
        self.plans[stream] = plan
        try:
            plan.start(properties)
        except REDIS_ERRORS as exc:
            msg = f"Stream '{stream}': reading its manifest failed: {exc}"
            raise TargetRedisError(msg) from exc
        return plan

    def loads(self) -> list[LoadMethod]:
        """Every stream's load method in this run."""
        return [plan.load for plan in self.plans.values()]

    # Draining and state

    def process_endofpipe(self) -> None:
        """Write every pending batch, finish overwrites, then let the SDK emit state."""
        self.drain_parked()
        self.drain_active()
        self.writer.settle()
        for load in self.loads():
            try:
                load.finish()
            except REDIS_ERRORS as exc:
                msg = f"Stream '{load.stream}': finishing the {load.name} failed: {exc}"
                raise TargetRedisError(msg) from exc
        super().process_endofpipe()
        if self._progress:
            summary = "; ".join(p.summary() for p in self._progress.values())
            self.logger.info("Load complete: %s.", summary)

    def write_state(self, state: dict) -> None:
        """One STATE line, after Redis acknowledged every batch sent; a state equal to
        the last one is not repeated (every drain would, and Meltano stores each)."""
        self.writer.settle()  # state only for what Redis acknowledged
        if state != self._last_emitted_state:
            if self._emit_state is not None:
                self._emit_state(serialize_json(state))
            else:
                with self.stop.output:  # a stop never cuts a STATE line in half
                    sys.stdout.write(serialize_json(state) + "\n")
                    sys.stdout.flush()
            self._last_emitted_state = state
        self.records_since_state = 0
        self._last_state_at = time.monotonic()

    # Signals and the command line

    def on_signal(self, signum: int) -> None:
        """First SIGTERM/SIGINT: stop at the next message boundary (stopping.py)."""
        if not hasattr(self, "stop"):  # still starting: nothing was written
            self.logger.warning("Signal %d while starting: exiting.", signum)
            raise SystemExit(128 + signum)
        self.stop.on_signal(signum)

    @classmethod
    def get_singer_command(cls) -> click.Command:
        """The SDK's command plus ``--test`` (check the connection, read no input)."""
        return cli.singer_command(super().get_singer_command(), cls.logger)

    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: ConfigInput | None = None,
        file_input: t.IO[str] | None = None,
        test: bool = False,
    ) -> None:
        """Run the target; expected failures end with one clear line and exit 1."""
        cls.about_or_continue(about=about, about_format=about_format)
        cli.run(cls, config, file_input, test=test)
