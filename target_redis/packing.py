"""Commands packed as RESP by hand where hiredis' general packing costs most: the
Airbyte HSETs of a batch at consecutive ids, one per record. Pure, no I/O.

A packed command is a 1-tuple holding its RESP bytes; no other command starts with
bytes. Only a single server's pipelines send one (pipelines.packed_parts): a load
method asks for packed commands (``Writing.packed``) only there, never under a lease
fence, whose script takes each command's words.
"""

from __future__ import annotations

import typing as t

from target_redis.rows import AB_ID, DATA, EMITTED_AT

if t.TYPE_CHECKING:
    from target_redis.rows import Command, Row

_FIELDS = (
    b"$%d\r\n" + AB_ID.encode() + b"\r\n$%%d\r\n%%b\r\n"
    b"$%d\r\n" + EMITTED_AT.encode() + b"\r\n$%%d\r\n%%b\r\n"
    b"$%d\r\n" + DATA.encode() + b"\r\n$%%d\r\n%%b\r\n"
) % (len(AB_ID), len(EMITTED_AT), len(DATA))


def airbyte_hsets(name: str, prefix: str, first_id: int, rows: t.Sequence[Row]) -> list[Command]:
    """``name`` (HSET or HMSET) of the three Airbyte fields at ``prefix`` + consecutive
    ids from ``first_id``, packed: the bytes ``hiredis.pack_command`` would make."""
    key = prefix.encode()
    head = b"*8\r\n$%d\r\n%b\r\n$%%d\r\n%b%%b\r\n" % (
        len(name),
        name.encode(),
        key.replace(b"%", b"%%"),  # a % of the namespace is no placeholder
    )
    template = head + _FIELDS
    prefix_size = len(key)
    commands: list[Command] = []
    add = commands.append
    emitted_at = None
    emitted = b""
    for ab_id, row in enumerate(rows, first_id):
        if row.emitted_at != emitted_at:
            emitted_at = row.emitted_at
            emitted = b"%d" % emitted_at
        number = b"%d" % ab_id
        text = row.text if isinstance(row.text, bytes) else row.text.encode()
        add(
            (
                template
                % (
                    prefix_size + len(number),
                    number,
                    len(number),
                    number,
                    len(emitted),
                    emitted,
                    len(text),
                    text,
                ),
            )
        )
    return commands


def is_packed(command: Command) -> bool:
    """Whether the command is packed RESP."""
    return type(command[0]) is bytes


def label(command: Command) -> tuple[str, str]:
    """A command's name and first argument, for messages (a packed one's read back)."""
    if is_packed(command):
        words = t.cast("bytes", command[0]).split(b"\r\n")  # *N, $len, name, $len, key, ...
        return words[2].decode(), words[4].decode(errors="replace")
    target = command[1] if len(command) > 1 and command[0] != "EVAL" else ""
    return str(command[0]), str(target)
