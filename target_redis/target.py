"""TargetRedis: settings, capabilities, sink routing and fixes to SDK state handling."""

from __future__ import annotations

import difflib
import functools
import logging
import os
import sys
import threading
import time
import typing as t
import urllib.parse
import uuid

import click
import redis
from singer_sdk import Target
from singer_sdk.exceptions import (
    ConfigValidationError,
    InvalidRecord,
    MissingKeyPropertiesError,
)
from singer_sdk.helpers.capabilities import PluginCapabilities, TargetCapabilities
from singer_sdk.plugin_base import JSONSchemaValidator, _ConfigInput
from singer_sdk.singerlib.json import serialize_json

from target_redis import __version__, logsafe, rows, settings, stream_settings
from target_redis.access import PROBE_STREAM, check_write_access
from target_redis.batch_files import BatchLine, batch_lines, check_allowed
from target_redis.connection import adopt, connect, endpoint
from target_redis.direct import DirectRecords
from target_redis.errors import (
    EXPECTED_ERRORS,
    REDIS_ERRORS,
    BadInputError,
    Interrupted,
    RejectedRecord,
    TargetRedisError,
    describe_config_error,
    describe_failure,
    describe_unexpected,
    explain_redis_error,
)
from target_redis.invalid import InvalidRecords
from target_redis.keyspace import KeySpace
from target_redis.load_methods import (
    LoadMethod,
    Overwrite,
    StreamSetup,
    load_method_for,
)
from target_redis.progress import Progress
from target_redis.reader import COLLIDING_KEYS, FastReader, PlainReader
from target_redis.retry import STOP_GRACE_SECONDS, Retrier
from target_redis.sinks import RedisSink
from target_redis.stream_settings import StreamSettings, fakeredis_refusal
from target_redis.validation import check_references
from target_redis.writer import Writer

if t.TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.sinks import Sink


BATCH_LINE = "__target_redis_batch_line__"
"""Set on a RECORD message made from a BATCH file's line: where the line came from."""
INCREMENTAL_BOOKMARKS = frozenset({"replication_key_value", "replication_key", "lsn"})
"""Bookmark keys of an incremental stream's STATE (SDK taps, LOG_BASED tap-postgres)."""


class TargetRedis(Target):
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
        if self.config.get("process_activate_version_messages") and not self.config.get(
            "add_record_metadata"
        ):
            msg = (
                "Setting 'process_activate_version_messages' needs 'add_record_metadata: true': "
                "records of older versions can only be told apart by their _sdc_table_version."
            )
            raise TargetRedisError(msg)
        self._check_unknown_settings()
        shapes = stream_settings.entries(self.config)  # refuses what cannot work
        self.connection = adopt(client) if client is not None else connect(self.config)
        self._emit_state = emit_state
        self._check_wait()
        self._check_fakeredis(shapes)
        self._run_id = uuid.uuid4().hex[:12]
        self.writer = Writer(
            self.connection.client,
            self.connection.server,
            Retrier(
                float(settings.value(self.config, "retry_max_seconds")),
                float(settings.value(self.config, "retry_backoff_max_seconds")),
            ),
            wait_replicas=settings.value(self.config, "wait_for_replicas"),
            wait_timeout_ms=settings.value(self.config, "wait_timeout_ms"),
            run_id=self._run_id,
        )
        try:
            how = self._check_access(shapes)
        except BaseException:
            self.connection.close()
            raise
        self.logger.info(
            "Connected to %s at %s; write access checked (%s).",
            self.connection.server.label,
            self.connection.where,
            how,
        )
        self.current_record_message: dict = {}
        self.encode = rows.encode_data if self.fast_path else rows.encode_data_plain
        self._progress: dict[str, Progress] = {}
        self.loads: dict[str, LoadMethod] = {}
        self._started: set[str] = set()
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
        self._records_since_state = 0
        self._last_state_at = time.monotonic()
        self._last_emitted_state: dict | None = None
        self._stop_signal = 0
        self._output = threading.Lock()
        self._watchdog: threading.Timer | None = None
        self._waiting_for_input = False
        self.direct = DirectRecords(self)
        if self.fast_path and self.direct_path and isinstance(self.message_reader, FastReader):
            self.message_reader.direct = self.direct.take

    @classmethod
    def get_plugin_version(cls) -> str:
        """The package's own version (no scan of installed packages' metadata)."""
        return __version__

    # Settings

    def _check_unknown_settings(self) -> None:
        """A setting close to a known one is a typo that would change what lands: stop
        before any input. Others may be other tools' keys: a warning."""
        known = list(self.config_jsonschema["properties"])
        unknown = sorted(set(self._config) - set(known))
        for name in unknown:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
            if close:
                msg = f"Unknown setting '{name}' (did you mean '{close[0]}'?)."
                raise TargetRedisError(msg)
        if unknown:
            self.logger.warning("Unknown settings ignored: %s", ", ".join(unknown))

    def _check_fakeredis(self, shapes: list[StreamSettings]) -> None:
        if not self.connection.server.fakeredis:
            return
        for each in shapes:
            refusal = fakeredis_refusal(each, self.config, self.connection.server.label)
            if refusal is not None:
                self.connection.close()
                raise refusal

    def _check_access(self, shapes: list[StreamSettings]) -> str:
        """Check that the user may run what each shape of load needs (once per shape)."""
        how = ""
        checked: set[tuple[t.Any, ...]] = set()
        for each in shapes:
            template = stream_settings.template(each)
            record_key = None
            if template is not None and template.placeholders:
                record_key = template.render(
                    dict.fromkeys(template.placeholders, PROBE_STREAM), "check"
                )
            replaces = each.record_format == "fields" and each.load_method != "append-only"
            merge = each.on_update == "merge"
            shape = (each.namespace, each.cache_type, each.load_method, bool(each.ttl_seconds))
            if (*shape, record_key, replaces, merge) in checked:
                continue
            checked.add((*shape, record_key, replaces, merge))
            check = functools.partial(
                check_write_access,
                self.connection.client,
                self.connection.server,
                username=endpoint(self.config).username,
                namespace=each.namespace,
                cache=each.cache(self.connection.server),
                load_method=each.load_method,
                delete_command=self.writer.delete_command,
                where=self.connection.where,
                record_key=record_key,
                replaces=replaces and each.cache_type == "hash",
                merge=merge,
            )
            try:  # probes write probe keys only: safe to repeat after a dropped connection
                how = self.writer.retrier.call("checking write access", check)
            except REDIS_ERRORS as exc:
                msg = (
                    f"Redis at {self.connection.where} failed during the write-access "
                    f"check: {explain_redis_error(exc)}"
                )
                raise TargetRedisError(msg) from None
        return how

    def _check_wait(self) -> None:
        """``wait_for_replicas`` needs WAIT, which some servers lack (fakeredis)."""
        if not settings.value(self.config, "wait_for_replicas"):
            return
        client = self.connection.client
        try:
            if isinstance(client, redis.Redis):
                client.execute_command("WAIT", "0", "0")
        except redis.ResponseError as exc:
            self.connection.close()
            msg = (
                f"Setting 'wait_for_replicas': {self.connection.server.label} at "
                f"{self.connection.where} has no WAIT command ({exc}); set it to 0."
            )
            raise TargetRedisError(msg) from None

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        # The SDK's messages echo the offending value, which may be a secret:
        # name the setting and the rule instead.
        schema = self.config_jsonschema
        self.append_builtin_config(schema)
        settings.coerce_strings(self._config, schema)
        validator = JSONSchemaValidator(schema)
        errors = [describe_config_error(e) for e in validator.iter_errors(self._config)]
        if errors and raise_errors:
            # The details in the message: pytest and the CLI show them, not a generic line.
            raise ConfigValidationError("; ".join(errors), errors=errors, schema=schema)
        for error in errors:
            self.logger.warning("Config: %s", error)
        return errors

    def close(self) -> None:
        """Give back overwrite leases, release the Redis connection and the SSH tunnel."""
        self.writer.discard()  # only a failing run has a batch left unacknowledged
        for load in self.loads.values():
            load.release()
        self.writer.drop_marks()
        self.connection.close()
        if self._watchdog is not None:  # closed in time: the process may go on
            self._watchdog.cancel()

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

    def _process_schema_message(self, message_dict: dict) -> None:
        stream = _stream_name(message_dict)
        schema = message_dict.get("schema")
        if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
            msg = f"SCHEMA for stream '{stream}' has no 'properties' object."
            raise BadInputError(msg)
        problem = check_references(schema)
        if problem:
            raise BadInputError(f"SCHEMA for stream '{stream}': {problem}.")
        self.direct.reset()
        super()._process_schema_message(message_dict)

    def _process_record_message(self, message_dict: dict) -> None:
        # Sinks read time_extracted and the raw _sdc_deleted_at from here.
        self.current_record_message = message_dict
        batch_line: BatchLine | None = message_dict.pop(BATCH_LINE, None)
        stream = _stream_name(message_dict)
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
            super()._process_record_message(message_dict)
        except (InvalidRecord, MissingKeyPropertiesError, RejectedRecord) as exc:
            if batch_line is not None:
                exc.batch_file = batch_line.where  # type: ignore[union-attr]
            if not self.invalid.tolerated:
                raise
            reason = exc.error_message if isinstance(exc, InvalidRecord) else str(exc)
            line = getattr(self.message_reader, "_current_message", b"")
            number = getattr(self.message_reader, "line_number", 0)
            if batch_line is not None:
                reason = f"{reason} (BATCH {batch_line.where})"
                line = batch_line.text
            namespace = stream_settings.for_stream(self.config, stream).namespace
            self.invalid.set_aside(stream, namespace, reason, number, line)
            self.progress_for(stream).invalid += 1
        self._records_since_state += 1

    def _process_state_message(self, message_dict: dict) -> None:
        super()._process_state_message(message_dict)
        self._warn_incremental_state(message_dict.get("value"))
        for load in self.loads.values():
            load.keepalive()
        if self._checkpoint_due():
            self.drain_all()  # every pending batch is written before the state line

    def _checkpoint_due(self) -> bool:
        if self._checkpoint_records and self._records_since_state >= self._checkpoint_records:
            return True
        elapsed = time.monotonic() - self._last_state_at
        return bool(self._checkpoint_seconds) and elapsed >= self._checkpoint_seconds

    def _process_activate_version_message(self, message_dict: dict) -> None:
        stream = _stream_name(message_dict)
        if stream not in self.mapper.stream_maps:
            msg = f"ACTIVATE_VERSION for stream '{stream}' arrived before its SCHEMA."
            raise BadInputError(msg)
        version = message_dict.get("version")
        wanted = settings.value(self.config, "process_activate_version_messages")
        if wanted and (not isinstance(version, int) or isinstance(version, bool)):
            msg = f"ACTIVATE_VERSION for stream '{stream}': 'version' must be an integer."
            raise BadInputError(msg)
        super()._process_activate_version_message(message_dict)

    def _process_batch_message(self, message_dict: dict) -> None:
        stream = _stream_name(message_dict)
        if stream not in self.mapper.stream_maps:
            msg = f"BATCH for stream '{stream}' arrived before its SCHEMA."
            raise BadInputError(msg)
        manifest = message_dict.get("manifest")
        if not isinstance(manifest, list) or not isinstance(message_dict.get("encoding"), dict):
            msg = f"BATCH for stream '{stream}' needs an 'encoding' object and a 'manifest' list."
            raise BadInputError(msg)
        for url in manifest:
            scheme = urllib.parse.urlsplit(str(url)).scheme
            if scheme not in ("", "file") or not isinstance(url, str):
                msg = (
                    f"BATCH for stream '{stream}': manifest URL scheme {scheme!r} is not "
                    "supported; BATCH files must be local (a path or a file:// URL)."
                )
                raise BadInputError(msg)
        # Each line goes through the RECORD path: stream maps, flattening, validation,
        # on_invalid_record, number text, and input order with the stream's RECORDs.
        dirs = self.config.get("batch_file_dirs")
        for url in manifest:
            check_allowed(stream, url, dirs)
        budget = int(settings.value(self.config, "batch_size_bytes"))
        lines = batch_lines(stream, message_dict["encoding"], manifest, max_line_bytes=budget)
        for line in lines:
            record: dict[str, t.Any] = {"type": "RECORD", "stream": stream, "record": line.record}
            record[BATCH_LINE] = line
            if line.colliding_keys:
                record[COLLIDING_KEYS] = True
            self._process_record_message(record)

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
        previous = self._sinks_active.get(stream_name)
        sink = super().get_sink(
            stream_name, record=record, schema=schema, key_properties=key_properties
        )
        if previous is not None and sink is not previous:
            self.drain_one(previous)
        return sink

    # Load methods

    def load_for(
        self,
        stream: str,
        key_properties: t.Sequence[str] | None,
        properties: t.Mapping[str, t.Any],
    ) -> LoadMethod:
        """The stream's load method for this run (one per stream, shared by its sinks)."""
        if stream not in self.loads:
            each = stream_settings.for_stream(self.config, stream)
            setup = StreamSetup(
                space=KeySpace(each.namespace, stream),
                cache=each.cache(self.connection.server),
                writer=self.writer,
                key_properties=tuple(key_properties or ()),
                hard_delete=each.hard_delete,
                logger=self.logger,
                warn_once=self.warn_once,
                version=__version__,
                run_id=self._run_id,
                overwrite_keys=each.overwrite_keys,
                record_format=each.record_format,
                template=stream_settings.template(each),
                score_field=each.score_field,
                json_inexact_numbers=each.json_inexact_numbers,
                properties=properties,
                merge=each.on_update == "merge",
                known_streams=self._known_streams.setdefault(each.namespace, set()),
            )
            self.loads[stream] = load_method_for(each.load_method, setup)
        return self.loads[stream]

    def start_load(self, load: LoadMethod) -> None:
        """The stream's start-of-run work, once per run (sinks are set up again on
        every schema change)."""
        if load.stream not in self._started:
            self._started.add(load.stream)
            try:
                load.start()
            except REDIS_ERRORS as exc:
                msg = f"Stream '{load.stream}': reading its manifest failed: {exc}"
                raise TargetRedisError(msg) from exc

    def _warn_incremental_state(self, state: t.Any) -> None:
        bookmarks = state.get("bookmarks") if isinstance(state, dict) else None
        if not isinstance(bookmarks, dict):
            return
        for stream, mark in bookmarks.items():
            load = self.loads.get(stream)
            if isinstance(load, Overwrite) and isinstance(mark, dict):
                keys = INCREMENTAL_BOOKMARKS.intersection(mark)
                if keys:
                    load.warn_incremental(f"its STATE bookmark has {sorted(keys)[0]}")

    # Draining and state

    def process_endofpipe(self) -> None:
        """Write every pending batch, finish overwrites, then let the SDK emit state."""
        self._drain_all(self._sinks_to_clear, 1)
        self._drain_all(list(self._sinks_active.values()), self.max_parallelism)
        self.writer.settle()
        for load in self.loads.values():
            try:
                load.finish()
            except REDIS_ERRORS as exc:
                msg = f"Stream '{load.stream}': finishing the {load.name} failed: {exc}"
                raise TargetRedisError(msg) from exc
        super().process_endofpipe()
        if self._progress:
            summary = "; ".join(p.summary() for p in self._progress.values())
            self.logger.info("Load complete: %s.", summary)

    def _drain_all(self, sink_list: t.Iterable[Sink], parallelism: int) -> None:
        # The SDK starts a thread pool (~50 ms) even for a single sink.
        sinks = list(sink_list)
        super()._drain_all(sinks, 1 if len(sinks) < 2 else parallelism)

    def _write_state_message(self, state: dict) -> None:
        # The SDK's stdlib json.dumps fails on Decimal floats in state; and every
        # drain would repeat the same state, which Meltano would store again.
        self.writer.settle()  # state only for what Redis acknowledged
        if state != self._last_emitted_state:
            if self._emit_state is not None:
                self._emit_state(serialize_json(state))
            else:
                with self._output:  # a stop never cuts a STATE line in half
                    sys.stdout.write(serialize_json(state) + "\n")
                    sys.stdout.flush()
            self._last_emitted_state = state
        self._records_since_state = 0
        self._last_state_at = time.monotonic()

    # Signals

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """First SIGTERM/SIGINT: stop reading, write what is pending, emit state for
        it, exit 128+signal. A second one exits at once, without state."""
        if not hasattr(self, "_output"):  # still starting: nothing was written
            self.logger.warning("Signal %d while starting: exiting.", signum)
            raise SystemExit(128 + signum)
        if self._stop_signal:
            self.logger.warning("Second signal %d: exiting now, no state emitted.", signum)
            os._exit(128 + signum)
        self._stop_signal = signum
        self.writer.retrier.stop_soon()  # Redis may be down: do not retry for a minute
        self.logger.info("Signal %d: finishing the message in hand, then draining.", signum)
        # Retries end STOP_GRACE_SECONDS after the signal; a read that stalls does not.
        self._watchdog = threading.Timer(STOP_GRACE_SECONDS + 1, self._stop_now, (signum,))
        self._watchdog.daemon = True
        self._watchdog.start()
        if self._waiting_for_input:
            raise Interrupted(signum)

    def _stop_now(self, signum: int) -> None:
        """The grace after a stop signal is over and Redis has not answered (a read
        stalls until the socket timeout): exit 128+signal, no further STATE."""
        self._output.acquire(timeout=1)
        self.logger.error(
            "Stopped by signal %d; Redis did not answer within %.0f s: the pending batch "
            "was not acknowledged and no STATE was emitted for it.",
            signum,
            STOP_GRACE_SECONDS + 1,
        )
        logging.shutdown()
        os._exit(128 + signum)

    def guard_input(self, lines: t.Iterable[t.Any]) -> t.Iterator[t.Any]:
        """Input lines, stopping cleanly at a signal between two messages."""
        iterator = iter(lines)
        while True:
            if self._stop_signal:
                raise Interrupted(self._stop_signal)
            self._waiting_for_input = True
            try:
                line = next(iterator)
            except StopIteration:
                return
            finally:
                self._waiting_for_input = False
            yield line

    def stop_after_signal(self) -> None:
        """Drain every sink and emit state (no overwrite cleanup: the run is cut short)."""
        self.drain_all()

    # CLI

    @classmethod
    def get_singer_command(cls) -> click.Command:
        """The SDK's command plus ``--test`` (check the connection, read no input)."""
        command = super().get_singer_command()
        for param in command.params:
            if param.name == "config" and param.callback is not None:
                param.callback = _one_line_config_errors(param.callback)
        command.params.append(
            click.Option(
                ["--test"],
                is_flag=True,
                help="Connect, authenticate and check write access, then exit 0 or 1.",
            )
        )
        return command

    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: _ConfigInput | None = None,
        file_input: t.IO[str] | None = None,
        test: bool = False,
    ) -> None:
        """Run the target; expected failures end with one clear line and exit 1."""
        super(Target, cls).invoke(about=about, about_format=about_format)
        logsafe.install()
        cls.print_version(print_fn=cls.logger.info)
        config = config or _ConfigInput()
        target: TargetRedis | None = None
        try:
            target = cls(
                config=config.config,
                validate_config=True,
                parse_env_config=config.parse_env,
            )
            if test:
                cls.logger.info("Connection check passed.")
            else:
                source = file_input or target.message_reader.default_input
                target.listen(t.cast("t.IO[str]", target.guard_input(source)))
        except Interrupted as stop:
            assert target is not None
            try:
                target.stop_after_signal()
            except EXPECTED_ERRORS as exc:
                cls.logger.error(
                    "Stopped by signal %d; the pending batch was not written and no STATE "
                    "was emitted for it: %s",
                    stop.signum,
                    describe_failure(exc, target),
                )
            sys.exit(128 + stop.signum)
        except EXPECTED_ERRORS as exc:
            cls.logger.error("%s", describe_failure(exc, target))
            sys.exit(1)
        except ConfigValidationError as exc:
            cls.logger.error("Invalid config: %s.", exc)  # one line, every problem named
            sys.exit(1)
        except Exception as exc:  # never a traceback: one line, the traceback at DEBUG
            cls.logger.debug("Unexpected failure", exc_info=True)
            cls.logger.error("%s", describe_unexpected(exc, target))
            sys.exit(1)
        finally:
            if target is not None:
                target.close()


def _one_line_config_errors(callback: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    """The SDK's ``--config`` reader, with a file that is not JSON (or cannot be read)
    ending in one line instead of a traceback."""

    def read(ctx: click.Context, param: click.Parameter, value: t.Any) -> t.Any:
        try:
            return callback(ctx, param, value)
        except (ValueError, OSError) as exc:  # JSONDecodeError is a ValueError
            detail = " ".join(str(exc).split())[:200]
            TargetRedis.logger.error(
                "Config file could not be read (not JSON, or missing): %s", detail
            )
            sys.exit(1)

    return read


def _stream_name(message: dict) -> str:
    """The message's stream name; refused unless it is a string."""
    stream = message.get("stream")
    if not isinstance(stream, str):
        kind = str(message.get("type"))[:20]
        raise BadInputError(f"{kind} message: 'stream' must be a string.")
    return stream
