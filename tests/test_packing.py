"""Airbyte HSETs packed by hand (packing.py) are the bytes hiredis would pack, and a
packed command is named by its command and key in messages."""

from __future__ import annotations

import hiredis
import pytest

from target_redis import packing
from target_redis.rows import Row

ROWS = [
    Row(b'{"a":1}', 1_700_000_000_000),
    Row('{"b":"é\\u00e9"}', 1_700_000_000_001),  # text as str on the SDK's path
    Row(b"x" * 70_000, 1_700_000_000_001),
    Row(b"", 5),
]


@pytest.mark.parametrize("name", ["HSET", "HMSET"])
@pytest.mark.parametrize("prefix", [":s:", "ns:{ns:s}:", "a%b%%d:s:", "é:ß:", ""])
def test_packed_hsets_are_what_hiredis_packs(name: str, prefix: str) -> None:
    packed = packing.airbyte_hsets(name, prefix, 99, ROWS)
    assert len(packed) == len(ROWS)
    for ab_id, (command, row) in enumerate(zip(packed, ROWS, strict=True), start=99):
        words = (
            *(name, f"{prefix}{ab_id}", "_airbyte_ab_id", str(ab_id)),
            *("_airbyte_emitted_at", str(row.emitted_at), "_airbyte_data", row.text),
        )
        assert command == (hiredis.pack_command(words),)
        assert packing.is_packed(command)
        assert packing.label(command) == (name, f"{prefix}{ab_id}")


def test_labels_of_commands_as_words() -> None:
    assert packing.label(("HSET", "k", "f", "v")) == ("HSET", "k")
    assert packing.label(("EVAL", "script", "1", "k")) == ("EVAL", "")
    assert packing.label(("MULTI",)) == ("MULTI", "")
    assert not packing.is_packed(("MULTI",))
