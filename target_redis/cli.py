"""The command line: the SDK's command plus ``--test``, and one line per failure."""

from __future__ import annotations

import gc
import sys
import typing as t

import click
from singer_sdk.exceptions import ConfigValidationError

from target_redis import logsafe
from target_redis.errors import (
    EXPECTED_ERRORS,
    Interrupted,
    describe_failure,
    describe_unexpected,
)
from target_redis.sdk_seam import ConfigInput


class Runnable(t.Protocol):
    """What the command line needs from a started target."""

    message_reader: t.Any
    stop: t.Any
    input_line: int

    def listen(self, file_input: t.IO[str] | None = None) -> None:
        """Read and load the input."""

    def drain_all(self) -> None:
        """Write every pending batch and emit state."""

    def close(self) -> None:
        """Release leases, connections and the tunnel."""


def singer_command(command: click.Command, logger: t.Any) -> click.Command:
    """The SDK's command with ``--test``, and a config file that is not JSON ending in
    one line."""
    for param in command.params:
        if param.name == "config" and param.callback is not None:
            param.callback = _one_line_config_errors(param.callback, logger)
    command.params.append(
        click.Option(
            ["--test"],
            is_flag=True,
            help="Connect, authenticate and check write access, then exit 0 or 1.",
        )
    )
    return command


def run(
    cls: t.Any,
    config: ConfigInput | None,
    file_input: t.IO[str] | None,
    *,
    test: bool,
) -> None:
    """Run the target; expected failures end with one clear line and exit 1."""
    logsafe.install()
    cls.print_version(print_fn=cls.logger.info)
    config = config or ConfigInput()
    target: Runnable | None = None
    try:
        target = cls(config=config.config, validate_config=True, parse_env_config=config.parse_env)
        if test:
            cls.logger.info("Connection check passed.")
        else:
            # Start-up's objects live as long as the process: collections skip them.
            gc.freeze()
            gc.set_threshold(50_000, 20, 20)
            source = file_input or target.message_reader.default_input
            target.listen(t.cast("t.IO[str]", target.stop.guard(source)))
    except Interrupted as stop:
        assert target is not None
        try:
            target.drain_all()  # state for what was written; no overwrite cleanup
        except EXPECTED_ERRORS as exc:
            cls.logger.error(
                "Stopped by signal %d; the pending batch was not written and no STATE "
                "was emitted for it: %s",
                stop.signum,
                describe_failure(exc, target.input_line),
            )
        sys.exit(128 + stop.signum)
    except EXPECTED_ERRORS as exc:
        cls.logger.error("%s", describe_failure(exc, _line(target)))
        sys.exit(1)
    except ConfigValidationError as exc:
        cls.logger.error("Invalid config: %s.", exc)  # one line, every problem named
        sys.exit(1)
    except Exception as exc:  # never a traceback: one line, the traceback at DEBUG
        cls.logger.debug("Unexpected failure", exc_info=True)
        cls.logger.error("%s", describe_unexpected(exc, _line(target)))
        sys.exit(1)
    finally:
        if target is not None:
            target.close()


def _line(target: Runnable | None) -> int:
    return target.input_line if target is not None else 0


def _one_line_config_errors(
    callback: t.Callable[..., t.Any], logger: t.Any
) -> t.Callable[..., t.Any]:
    """The SDK's ``--config`` reader, with a file that is not JSON (or cannot be read)
    ending in one line instead of a traceback."""

    def read(ctx: click.Context, param: click.Parameter, value: t.Any) -> t.Any:
        try:
            return callback(ctx, param, value)
        except (ValueError, OSError) as exc:  # JSONDecodeError is a ValueError
            detail = " ".join(str(exc).split())[:200]
            logger.error("Config file could not be read (not JSON, or missing): %s", detail)
            sys.exit(1)

    return read
