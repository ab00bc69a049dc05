"""The target's error types, and how an expected failure is told in one line."""

from __future__ import annotations

import typing as t

import redis
import redis.exceptions
from singer_sdk.exceptions import (
    InvalidJSONSchema,
    InvalidRecord,
    MissingKeyPropertiesError,
    RecordsWithoutSchemaException,
)
from singer_sdk.singerlib.exceptions import InvalidInputLine

if t.TYPE_CHECKING:
    import jsonschema

_HINTS: tuple[tuple[type[Exception], str], ...] = (
    (redis.exceptions.OutOfMemoryError, "Redis is out of memory (maxmemory with noeviction)"),
    (redis.exceptions.ReadOnlyError, "Redis refused a write: it is a read-only replica"),
    (redis.exceptions.NoPermissionError, "the Redis user lacks a permission"),
)


def explain_redis_error(exc: Exception) -> str:
    """One line for a Redis failure, with what it means when that is not obvious."""
    detail = " ".join(str(exc).split())[:300]
    if "WRONGTYPE" in detail:
        return f"a key already holds another Redis type ({detail})"
    if "LEASE_LOST" in detail:
        where = detail[detail.index("LEASE_LOST") + len("LEASE_LOST ") :]
        return (
            f"this overwrite lost its lease ({where}): another run took the stream over, "
            "or the lease expired while this run was stopped; it wrote nothing more, and "
            "what the other run writes stands"
        )
    if "unknown command" in detail.lower():
        return f"the server lacks a command this load needs ({detail})"
    for kind, hint in _HINTS:
        if isinstance(exc, kind):
            return f"{hint}: {detail}"
    return detail


class TargetRedisError(Exception):
    """A failure the user can act on (bad config, server refused, write failed).

    Its message names the setting, stream or server involved and never holds a
    secret. The CLI prints it as one line and exits non-zero.
    """


class BadInputError(TargetRedisError):
    """The input itself is wrong; the CLI names the input line it was found on."""


class RejectedRecord(BadInputError):
    """One record cannot be loaded (e.g. a null key property); ``on_invalid_record``
    decides whether that stops the run."""


class Interrupted(BaseException):
    """A termination signal arrived between two messages (not an error)."""

    def __init__(self, signum: int) -> None:
        """Remember which signal."""
        super().__init__(signum)
        self.signum = signum


INPUT_ERRORS = (
    BadInputError,
    InvalidInputLine,
    InvalidRecord,
    InvalidJSONSchema,
    MissingKeyPropertiesError,
    RecordsWithoutSchemaException,
)
# What redis-py raises: RedisError, and (cluster client) RedisClusterException.
REDIS_ERRORS = (redis.RedisError, redis.exceptions.RedisClusterException)
EXPECTED_ERRORS = (TargetRedisError, *REDIS_ERRORS, *INPUT_ERRORS)
_MAX_MESSAGE = 500


class LoadError(TargetRedisError):
    """A failed in-process load (``testing.load``, the pytest fixtures): its message is
    the CLI's one line (input line and stream included); ``__cause__`` is what was
    raised."""


def describe_config_error(error: jsonschema.ValidationError) -> str:
    path = ".".join(str(part) for part in error.absolute_path)
    where = f"setting '{path}'" if path else "config"
    rule, expected = error.validator, error.validator_value
    if rule == "type":
        types = expected if isinstance(expected, list) else [expected]
        return f"{where} must be of type {' or '.join(types)}"
    if rule == "enum":
        return f"{where} must be one of {expected}"
    bounds = {
        "minimum": "at least",
        "maximum": "at most",
        "exclusiveMinimum": "more than",
        "exclusiveMaximum": "less than",
    }
    if rule in bounds:
        return f"{where} must be {bounds[rule]} {expected}"
    if rule in ("required", "additionalProperties"):
        return f"{where}: {error.message}"  # names the key, never a value
    return f"{where} fails the '{rule}' rule ({expected})"


def describe_unexpected(exc: BaseException, line: int = 0) -> str:
    """One line for a failure nobody foresaw (its traceback goes to the DEBUG log);
    ``line``: the input line it was found on (0: none, or before any input)."""
    if isinstance(exc, RecursionError):
        text = "JSON nested too deeply to be processed"
    else:
        detail = " ".join(str(exc).split())[:200]
        text = (
            f"could not be processed ({type(exc).__name__}: {detail}); this input is not "
            "handled by target-redis (LOGLEVEL=DEBUG shows where)"
        )
    return f"Input line {line}: {text}" if line else text[0].upper() + text[1:]


def describe_failure(exc: BaseException, line: int = 0) -> str:
    """One line for an expected failure: what went wrong and, for bad input,
    the input line ``line`` (and stream) where it was found."""
    if isinstance(exc, InvalidRecord):
        text = f"Record failed schema validation: {exc.error_message}"
    else:
        text = " ".join(str(exc).split()) or type(exc).__name__
    text = text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."
    if not line or not isinstance(exc, INPUT_ERRORS):
        return text
    where = f"Input line {line}"
    stream = getattr(exc, "stream", None)  # set by the sink that found it
    batch_file = getattr(exc, "batch_file", None)  # set for a BATCH file's record
    if stream and isinstance(exc, (InvalidRecord, MissingKeyPropertiesError)):
        where += f" (stream '{stream}'" + (f", BATCH {batch_file})" if batch_file else ")")
    elif batch_file:
        where += f" (BATCH {batch_file})"
    return f"{where}: {text}"
