"""The target's own error types: expected failures reported as one clear line."""

import redis
import redis.exceptions

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


class Interrupted(BaseException):
    """A termination signal arrived between two messages (not an error)."""

    def __init__(self, signum: int) -> None:
        """Remember which signal."""
        super().__init__(signum)
        self.signum = signum
