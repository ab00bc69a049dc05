"""What the target knows about the server it writes to. Pure, no I/O."""

from __future__ import annotations

import dataclasses
import re

DEFAULT_MAX_BULK = 512 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class ServerInfo:
    """What the target needs to know about the server it writes to."""

    version: tuple[int, ...]  # Redis (or Redis-compatible) version: what commands exist
    cluster: bool = False
    label: str = "Redis (version unknown)"  # for the log: "Redis 7.0.15", "Valkey 8.1.8"
    max_bulk_bytes: int = DEFAULT_MAX_BULK
    """The largest value the server accepts (``proto-max-bulk-len``)."""
    fakeredis: bool = False
    """fakeredis's TCP server: no INFO, ACL DRYRUN, WAIT; TYPE of a JSON key fails."""

    @property
    def has_unlink(self) -> bool:
        """UNLINK exists from Redis 4.0."""
        return self.version >= (4, 0)

    @property
    def has_keepttl(self) -> bool:
        """SET ... KEEPTTL exists from Redis 6.0."""
        return self.version >= (6, 0)

    @property
    def has_multi_field_hset(self) -> bool:
        """HSET with several field/value pairs exists from Redis 4.0 (before: HMSET)."""
        return self.version >= (4, 0)


def parse_version(text: str) -> tuple[int, ...]:
    """``"7.0.15"`` -> ``(7, 0, 15)``; unknown parts count as 0."""
    parts = []
    for part in text.split(".")[:3]:
        digits = re.match(r"\d*", part)
        parts.append(int(digits.group()) if digits and digits.group() else 0)
    return tuple(parts)
