"""Retries of transient Redis failures: capped exponential backoff, bounded total time.

Transient: a dropped or refused connection, a timeout, a server still loading its
data after a restart, a cluster briefly without a master or moving slots. Everything
else (refused credentials or permissions, OOM under ``noeviction``, a read-only
replica, a key of the wrong type, an unknown command) fails at once: retrying cannot
fix it.
"""

from __future__ import annotations

import logging
import time
import typing as t

import redis
import redis.exceptions
import tenacity

logger = logging.getLogger("target-redis")

_T = t.TypeVar("_T")
STOP_GRACE_SECONDS = 3.0
"""How long writes keep retrying after a stop signal."""
_TRANSIENT_REPLIES = ("LOADING", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN")
# A cluster changing shape: slots moving or failing over, redirections exhausted.
_CLUSTER_IN_FLUX = (
    redis.exceptions.ClusterError,
    redis.exceptions.TryAgainError,
    redis.exceptions.AskError,  # and MovedError
    redis.exceptions.SlotNotCoveredError,
)


def is_transient(exc: BaseException) -> bool:
    """Whether retrying ``exc`` may succeed."""
    if isinstance(exc, (redis.AuthenticationError, redis.exceptions.AuthorizationError)):
        return False
    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError, *_CLUSTER_IN_FLUX)):
        return True
    return isinstance(exc, redis.ResponseError) and str(exc).startswith(_TRANSIENT_REPLIES)


class Retrier:
    """Runs an idempotent Redis operation until it succeeds or the time is up."""

    def __init__(self, total_seconds: float, max_backoff_seconds: float) -> None:
        """``total_seconds`` bounds the retrying (0: no retries); waits grow from
        0.1 s, doubling, up to ``max_backoff_seconds``."""
        self.total_seconds = total_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self._cutoff: float | None = None

    def stop_soon(self, seconds: float = STOP_GRACE_SECONDS) -> None:
        """After a stop signal: give up retrying ``seconds`` from now."""
        self._cutoff = time.monotonic() + seconds

    def _stop(self, state: tenacity.RetryCallState) -> bool:
        if self._cutoff is not None and time.monotonic() >= self._cutoff:
            return True
        return (state.seconds_since_start or 0.0) >= self.total_seconds

    def _wait(self, state: tenacity.RetryCallState) -> float:
        wait = self._backoff(state)
        if self._cutoff is not None:
            wait = max(0.0, min(wait, self._cutoff - time.monotonic()))
        return wait

    def call(self, what: str, operation: t.Callable[[], _T]) -> _T:
        """``operation()``, retried on transient failures; the last failure is raised."""
        if self.total_seconds <= 0:
            return operation()
        self._backoff = tenacity.wait_exponential(multiplier=0.1, max=self.max_backoff_seconds)
        retrying = tenacity.Retrying(
            stop=self._stop,
            wait=self._wait,
            retry=tenacity.retry_if_exception(is_transient),
            before_sleep=lambda state: _log_retry(what, state),
            reraise=True,
        )
        return retrying(operation)


def _log_retry(what: str, state: tenacity.RetryCallState) -> None:
    outcome = state.outcome
    error = outcome.exception() if outcome is not None else None
    wait = state.next_action.sleep if state.next_action else 0.0
    logger.warning(
        "Redis failed while %s (%s); retry %d in %.1f s.",
        what,
        " ".join(str(error).split())[:200],
        state.attempt_number,
        wait,
    )
