"""Key naming, primary-key value encoding and SCAN pattern escaping.

The layout is Airbyte's: the counter of stream S in namespace N is the STRING key
``N:S`` and each record lives at ``N:S:<suffix>``. With an empty namespace the keys
start with a colon (``:S``, ``:S:1``), exactly as Airbyte writes them.
"""

from __future__ import annotations

import datetime
import decimal
import typing as t
import uuid

from redis.crc import key_slot
from singer_sdk.singerlib.json import serialize_json

_GLOB_SPECIALS = "\\*?[]"


def stream_key(namespace: str, stream: str) -> str:
    """The stream's counter key (and the prefix of its record keys)."""
    return f"{namespace}:{stream}"


def record_key(namespace: str, stream: str, suffix: str | int) -> str:
    """The key of one record: ``N:S:<suffix>``."""
    return f"{namespace}:{stream}:{suffix}"


def encode_pk_value(value: t.Any) -> str:
    """Encode one primary-key value as text, distinct for distinct JSON values.

    Strings stay as they are (one starting with ``\\`` gets another ``\\`` in
    front), numbers are written as their decimal text (so ``1`` and ``"1"`` share a
    key: keys stay readable, ``N:S:42``); booleans, objects and arrays are their
    compact JSON after a ``\\`` (``\\true``, ``\\[1]``), which no string is.
    """
    if isinstance(value, str):
        return "\\" + value if value.startswith("\\") else value
    if isinstance(value, bool):
        return "\\true" if value else "\\false"
    if isinstance(value, (int, decimal.Decimal)):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    return "\\" + serialize_json(value, ensure_ascii=False)


def _escape_component(text: str) -> str:
    return text.replace("\\", "\\\\").replace(":", "\\:")


def encode_pk(values: t.Sequence[t.Any]) -> str:
    """Encode primary-key values as one unambiguous key suffix.

    A single value is written as is (``N:S:42``, ``N:S:a:b``): its suffix is
    everything after the stream prefix, so it cannot collide with another value.
    Several values are joined by ``:`` after escaping ``\\`` and ``:`` in each,
    so ``("a:b", "c")`` and ``("a", "b:c")`` give different keys.
    """
    if len(values) == 1:
        return encode_pk_value(values[0])
    return ":".join(_escape_component(encode_pk_value(v)) for v in values)


def escape_glob(text: str) -> str:
    """Escape text so that a Redis glob pattern matches it literally."""
    return "".join("\\" + ch if ch in _GLOB_SPECIALS else ch for ch in text)


def records_pattern(namespace: str, stream: str) -> str:
    """SCAN pattern matching every record key of one stream (and no other key
    of that stream's prefix, since keys of other streams need further checks)."""
    return escape_glob(stream_key(namespace, stream)) + ":*"


def side_key(namespace: str, stream: str, kind: str) -> str:
    """A key that belongs to stream S without being in its ``N:S:*`` space: its
    manifest (``kind`` "manifest") or an overwrite's temporary key ("tmp:<run>").

    ``N:{N:S}:target-redis-<kind>:S``: in the same cluster slot as ``N:S`` (so a
    RENAME or MULTI/EXEC can cover both), under the namespace prefix ``N:`` (so
    key-pattern ACLs that allow the namespace allow it), outside every stream's
    records unless a stream's name starts with ``{``.
    """
    key = stream_key(namespace, stream)
    tag = hash_tag(key) or key
    suffix = f"target-redis-{kind}:{stream}"
    for candidate in (f"{namespace}:{{{tag}}}:{suffix}", f"{{{tag}}}:{suffix}"):
        if key_slot(candidate.encode()) == key_slot(key.encode()):
            return candidate
    return f"{key}.{suffix}"  # no same-slot name exists (a '}' in the name)


_PROCESS = uuid.uuid4().hex[:8]


def aside_key(key: str) -> str:
    """Where a record for ``key`` is built before a RENAME over it: in the key's cluster
    slot, under the key's first prefix (key-pattern ACLs such as ``~shop:*`` allow it),
    in no stream's key space (the part after the prefix starts with ``{``), and unique
    to this process and key."""
    return slot_mate(key, f"tmp:{_PROCESS}")


def slot_mate(key: str, kind: str) -> str:
    """``<prefix>{<tag>}:target-redis-<kind>:<key>``: a side key of ``kind`` for ``key``,
    in its cluster slot (a MULTI or script can cover both) and under its first prefix."""
    tag = hash_tag(key) or key
    prefix = key.split(":", 1)[0] + ":" if ":" in key else ""
    suffix = f"target-redis-{kind}:{key}"
    for candidate in (f"{prefix}{{{tag}}}:{suffix}", f"{{{tag}}}:{suffix}"):
        if key_slot(candidate.encode()) == key_slot(key.encode()):
            return candidate
    return f"{key}.{suffix}"  # no same-slot name exists (a '}' in the key)


def hash_tag(key: str) -> str | None:
    """The part of ``key`` that Redis Cluster hashes, when it is not the whole key."""
    start = key.find("{")
    end = key.find("}", start + 1) if start >= 0 else -1
    return key[start + 1 : end] if start >= 0 and end > start + 1 else None


def parse_id_suffix(key: str, prefix: str) -> int | None:
    """The numeric id of a record key ``<prefix>:<id>``, or None if the key has
    another shape (an upsert key, or a key of a stream whose name extends ours)."""
    head = prefix + ":"
    if not key.startswith(head):
        return None
    suffix = key[len(head) :]
    if not suffix.isascii() or not suffix.isdigit():
        return None
    number = int(suffix)
    return number if str(number) == suffix else None
