"""Settings that take one property's value for a member, a value or an expiry
(``member_field``, ``value_field``, ``expire_at_field``, ``ttl_field``), part of
settings.SCHEMA and overridable per stream."""

from __future__ import annotations

from singer_sdk import typing as th

VALUE_SETTINGS = [
    th.Property(
        "member_field",
        th.StringType,
        description=(
            "`cache_type` `set`, `sorted_set` or `list`: the property whose value is the "
            "member (its text; numbers as the tap wrote them), instead of the record's JSON "
            "(or a sorted set's primary key). A null or missing value is an invalid record; "
            "with `hard_delete` a delete row removes its member from a set or sorted set."
        ),
    ),
    th.Property(
        "value_field",
        th.StringType,
        description=(
            "`cache_type: string`: the property whose value the string holds (its text), "
            "instead of the record's JSON. A null or missing value is an invalid record."
        ),
    ),
    th.Property(
        "expire_at_field",
        th.StringType,
        description=(
            "Per-record keys (`hash`, `json`, `string`): the property saying when the "
            "record's key expires (`PEXPIREAT`): a date or date-time (without an offset: "
            "UTC), or an integer of epoch seconds. A time in the past deletes the key, as "
            "Redis does; a null falls back to `ttl_seconds` (or no expiry). A collection "
            "per group expires at the latest of its records' times (Redis 7)."
        ),
    ),
    th.Property(
        "ttl_field",
        th.StringType,
        description=(
            "Per-record keys (`hash`, `json`, `string`) and collections per group (the "
            "latest time wins; Redis 7): the property holding the record's time to live "
            "in seconds, counted from when the target reads it (0 or less deletes the "
            "key); a null falls back to `ttl_seconds` (or no expiry)."
        ),
    ),
]
"""Read through StreamSettings; checked in stream_settings (``_check_values``)."""

NAMES = tuple(prop.name for prop in VALUE_SETTINGS)
