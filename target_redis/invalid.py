"""Invalid records under ``on_invalid_record``: fail the run, skip them, or keep them in
a dead-letter stream; ``max_invalid_records`` bounds how many a run may set aside.

A record set aside is handled: the STATE after it may be emitted (a dead-letter entry
is acknowledged by Redis before the record's handling returns).
"""

from __future__ import annotations

import datetime
import logging
import typing as t

from target_redis.errors import TargetRedisError
from target_redis.keys import side_key

if t.TYPE_CHECKING:
    from target_redis.writer import Writer

FAIL, SKIP, DEAD_LETTER = "fail", "skip", "dead_letter"


def dead_letter_key(namespace: str, stream: str) -> str:
    """``N:{N:S}:target-redis-dead-letter:S``: beside the stream, outside every ``N:S:*``."""
    return side_key(namespace, stream, "dead-letter")


class InvalidRecords:
    """What this run does with invalid records, and how many it set aside."""

    def __init__(self, mode: str, limit: int, writer: Writer, logger: logging.Logger) -> None:
        """``limit`` 0: no limit."""
        self.mode = mode
        self.limit = limit
        self.writer = writer
        self.logger = logger
        self.count = 0

    @property
    def tolerated(self) -> bool:
        """Whether invalid records are set aside rather than failing the run."""
        return self.mode != FAIL

    def set_aside(
        self,
        stream: str,
        namespace: str,
        reason: str,
        line_number: int,
        line: str | bytes,
        batch_file: str | None = None,
    ) -> None:
        """Log the record (and with dead_letter, keep it); fail past the limit.
        ``batch_file``: the BATCH file and line it came from."""
        if batch_file is not None:
            reason = f"{reason} (BATCH {batch_file})"
        self.count += 1
        if self.limit and self.count > self.limit:
            msg = (
                f"Input line {line_number} (stream '{stream}'): more than "
                f"{self.limit} invalid records (setting 'max_invalid_records'); the last: "
                f"{reason}"
            )
            raise TargetRedisError(msg)
        where = ""
        if self.mode == DEAD_LETTER:
            key = dead_letter_key(namespace, stream)
            raw = line if isinstance(line, bytes) else line.encode()
            if len(raw) > self.writer.server.max_bulk_bytes:
                msg = (
                    f"Input line {line_number} (stream '{stream}'): an invalid record of "
                    f"{len(raw)} bytes is larger than Redis accepts (proto-max-bulk-len "
                    f"{self.writer.server.max_bulk_bytes}), so it cannot be kept in {key}: "
                    f"{reason}"
                )
                raise TargetRedisError(msg)
            at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
            fields = ("line", raw.rstrip(b"\r\n"), "stream", stream, "input_line", str(line_number))
            entry = ("XADD", key, "*", *fields, "reason", reason, "at", at)
            self.writer.run([entry], once=key)
            where = f", kept in {key}"
        self.logger.warning(
            "Input line %d (stream '%s'): invalid record %s%s: %s",
            line_number,
            stream,
            "dead-lettered" if self.mode == DEAD_LETTER else "skipped",
            where,
            reason,
        )
