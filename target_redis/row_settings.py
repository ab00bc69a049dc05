"""What shapes a stream's rows beyond its plan's objects (plan.StreamPlan). Pure."""

from __future__ import annotations

import dataclasses
import typing as t

if t.TYPE_CHECKING:
    from target_redis.record_values import RecordValues


@dataclasses.dataclass(frozen=True)
class RowSettings:
    """What shapes a stream's rows beyond its plan's objects."""

    score_field: str = ""
    """``cache_type: sorted_set``: the property scoring a member."""
    json_inexact_numbers: str = "double"
    """``cache_type: json``: numbers RedisJSON would change stay ``double`` or ``string``."""
    max_record_bytes: int = 512 * 1024 * 1024
    """The largest value Redis accepts (``proto-max-bulk-len``)."""
    values: RecordValues | None = None
    """``member_field`` / ``value_field`` / ``expire_at_field`` / ``ttl_field``."""
