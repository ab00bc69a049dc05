"""Run target-redis inside a test: Singer lines in, Redis written, STATE messages back.

    import fakeredis
    from target_redis.testing import load

    r = fakeredis.FakeRedis(decode_responses=True)
    states = load(["...SCHEMA...", "...RECORD...", "...STATE..."], r, {"load_method": "upsert"})

No subprocess, no network (with fakeredis), nothing printed to standard output. The
lines may be a list (of JSON text or of message dicts), Singer text (several lines in
one string), a path, an open file (text or binary) or any iterable of lines, such as a
tap's stdout. An expected failure raises ``LoadError`` (a ``TargetRedisError``) whose
message is the CLI's one line, input line and stream included; ``__cause__`` holds the
exception itself (an ``InvalidRecord``, a ``redis.ConnectionError``...).
"""

from __future__ import annotations

import json
import os
import pathlib
import typing as t

if t.TYPE_CHECKING:
    import redis

Lines: t.TypeAlias = "str | os.PathLike | t.IO[t.Any] | t.Iterable[str | bytes | dict]"


def load(
    lines: Lines, client: redis.Redis, config: t.Mapping[str, t.Any] | None = None
) -> list[dict[str, t.Any]]:
    """Load ``lines`` through ``client`` with ``config``; return the STATE values emitted,
    in order."""
    from target_redis.errors import EXPECTED_ERRORS, LoadError, describe_failure
    from target_redis.target import TargetRedis  # the SDK loads only when used

    states: list[dict[str, t.Any]] = []
    target = TargetRedis(
        config=dict(config or {}),
        client=client,
        emit_state=lambda text: states.append(json.loads(text)),
    )
    try:
        if isinstance(lines, str) and "\n" in lines:  # Singer text, not a path
            target.process_lines(t.cast("t.IO[str]", iter(lines.splitlines(keepends=True))))
        elif isinstance(lines, (str, os.PathLike)):
            with pathlib.Path(lines).open("rb") as file:
                target.process_lines(t.cast("t.IO[str]", file))
        else:
            target.process_lines(t.cast("t.IO[str]", _as_lines(lines)))
        target.process_endofpipe()
    except EXPECTED_ERRORS as exc:
        raise LoadError(describe_failure(exc, target.input_line)) from exc
    finally:
        target.close()
    return states


def _as_lines(lines: t.Iterable[str | bytes | dict]) -> t.Iterator[str | bytes]:
    for line in lines:
        yield json.dumps(line) if isinstance(line, dict) else line
