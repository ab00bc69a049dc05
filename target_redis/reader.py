"""Line readers that count lines, so errors can name the input line.

``FastReader`` (the default) decodes with msgspec straight from stdin's bytes;
``PlainReader`` is the SDK's stdlib decoding. Both give floats as Decimal and report a
bad line by number, never echoing its text.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import typing as t
from collections import Counter

import msgspec
from singer_sdk.singerlib.exceptions import InvalidInputLine

from target_redis.errors import BadInputError
from target_redis.rows import number
from target_redis.sdk_seam import SeamReader

DECODER = msgspec.json.Decoder(float_hook=number)
"""Singer messages and records: numbers with a fraction or exponent as Decimals."""
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_REPLACEMENT = "\ufffd"


def _require_object(message: t.Any) -> dict:
    if not isinstance(message, dict):
        msg = "a Singer message must be a JSON object"
        raise InvalidInputLine(msg)
    return message


def _blank(line: str | bytes) -> bool:
    return not line.strip()


COLLIDING_KEYS = "__target_redis_colliding_keys__"
"""Set on a RECORD message whose record had two keys that became one when their lone
surrogates were replaced: the record is invalid (``on_invalid_record`` decides)."""


def _lone_surrogates_replaced(line: str | bytes) -> dict | None:
    """The line decoded by the stdlib (which accepts lone surrogate escapes such as
    ``"\\ud800"``), each lone surrogate replaced by U+FFFD, object keys in place; None if
    it is not JSON. Two keys of one object that become the same key mark a RECORD
    (``COLLIDING_KEYS``) and refuse any other message."""
    repaired = lone_surrogates_repaired(line)
    if repaired is None or not isinstance(repaired[0], dict):
        return None
    message, collided = repaired
    if collided:
        if message.get("type") != "RECORD":
            msg = "two keys of an object are the same once lone surrogates are replaced"
            raise InvalidInputLine(msg)
        message[COLLIDING_KEYS] = True
    return t.cast("dict", message)


def lone_surrogates_repaired(line: str | bytes) -> tuple[t.Any, bool] | None:
    """A JSON line with lone surrogate escapes, decoded, each replaced by U+FFFD (keys in
    place), and whether two keys of an object became one; None if it is not JSON or
    has none."""
    try:
        text = line.decode() if isinstance(line, bytes) else line
        value = json.loads(text, parse_float=number)
    except (ValueError, RecursionError):
        return None
    if not _SURROGATE.search(json.dumps(value, ensure_ascii=False, default=str)):
        return None
    return _replace_surrogates(value)


def _replace_surrogates(value: t.Any) -> tuple[t.Any, bool]:
    # Iterative: the value may be nested as deep as the decoder allowed.
    root = [value]
    stack: list[tuple[t.Any, t.Any]] = [(root, 0)]
    collided = False
    while stack:
        parent, key = stack.pop()
        item = parent[key]
        if isinstance(item, str):
            parent[key] = _SURROGATE.sub(_REPLACEMENT, item)
        elif isinstance(item, dict):
            if any(_SURROGATE.search(name) for name in item):
                rebuilt: dict[str, t.Any] = {}
                for name, member in item.items():
                    clean = _SURROGATE.sub(_REPLACEMENT, name)
                    collided = collided or clean in rebuilt
                    rebuilt[clean] = member
                item.clear()
                item.update(rebuilt)  # same order, same object
            stack.extend((item, name) for name in item)
        elif isinstance(item, list):
            stack.extend((item, i) for i in range(len(item)))
    return root[0], collided


def _decode_failure(line: str | bytes, detail: str) -> InvalidInputLine:
    if _blank(line):
        return InvalidInputLine("an empty line (a Singer message is one JSON object a line)")
    return InvalidInputLine(f"not valid JSON ({detail})")


logger = logging.getLogger("target-redis")
_TOO_DEEP = "JSON nested too deeply to be read"


class PlainReader(SeamReader):
    """The SDK's reader (stdlib json), counting lines."""

    def __init__(self) -> None:
        """Start at line 0."""
        super().__init__()
        self.line_number = 0
        self._warned_surrogates = False
        self.direct: t.Callable[[t.Any], bool] | None = None
        """Takes a line (True) or leaves it to the message callbacks (the direct path)."""

    def process_lines(
        self,
        file_input: t.IO[t.Any] | None,
        callbacks: dict[str, t.Callable[[dict], None]],
    ) -> t.Counter[str]:
        """As the SDK's, offering each line to ``direct`` first."""
        stats: t.Counter[str] = Counter()
        direct = self.direct
        taken = 0  # lines the direct path took: RECORDs, counted once at the end
        for line in file_input or self.default_input:
            self.line_number += 1
            if direct is not None and direct(line):
                taken += 1
                continue
            self.remember_line(line)  # read only on the message callbacks' path
            message = self.decode_line(line)
            self.assert_line_requires(message, requires={"type"})
            kind = message["type"]
            callback = callbacks.get(kind)
            if callback is None:
                self.unknown_message(message)
            else:
                callback(message)
            stats[kind] += 1
        if taken:
            stats["RECORD"] += taken
        return stats

    @staticmethod
    def assert_line_requires(line_dict: dict, requires: set[str]) -> None:
        """As the SDK's, naming the missing keys and stream without echoing the line."""
        missing = sorted(requires - set(line_dict))
        if missing:
            kind = line_dict.get("type", "message")
            stream = f" of stream '{line_dict['stream']}'" if "stream" in line_dict else ""
            msg = f"{kind}{stream} lacks required key(s): {', '.join(missing)}"
            raise InvalidInputLine(msg)

    def unknown_message(self, message: dict) -> None:
        """An unknown message type is bad input (the SDK's reader logs and goes on)."""
        msg = f"unknown message type {str(message.get('type'))[:40]!r}"
        raise InvalidInputLine(msg)

    def deserialize_json(self, line: str) -> dict:
        """Count the line, then parse it."""
        self.line_number += 1
        return self.decode_line(line)

    def decode_line(self, line: str) -> dict:
        """Parse one line; raise InvalidInputLine naming the problem, not the text."""
        try:
            message = json.loads(line, parse_float=number)
        except json.JSONDecodeError as exc:
            raise _decode_failure(line, f"{exc.msg} at column {exc.colno}") from None
        except RecursionError:
            raise InvalidInputLine(_TOO_DEEP) from None
        return _require_object(message)

    def lone_surrogates(self, line: str | bytes, detail: str) -> dict:
        """A line msgspec refused: load it if lone surrogates were its only fault."""
        message = _lone_surrogates_replaced(line)
        if message is None:
            raise _decode_failure(line, detail) from None
        if not self._warned_surrogates:
            self._warned_surrogates = True
            logger.warning(
                "Input line %d: lone surrogate escapes (such as \\ud800) are not Unicode "
                "characters; each was stored as U+FFFD (this warning is shown once).",
                self.line_number,
            )
        return message


class FastReader(PlainReader):
    """msgspec decoding of stdin's raw bytes (about 6x the stdlib's speed)."""

    @property
    def default_input(self) -> t.IO[t.Any]:  # type: ignore[override]
        """Standard input as bytes: no text decoding pass before JSON decoding."""
        return sys.stdin.buffer

    def decode_line(self, line: str | bytes) -> dict:
        """Parse one line (str or bytes) with msgspec."""
        try:
            message = DECODER.decode(line)
        except msgspec.DecodeError as exc:
            return _require_object(self.lone_surrogates(line, str(exc)))
        except UnicodeDecodeError as exc:
            bad = exc.object[exc.start : exc.start + 1].hex()
            msg = f"not valid UTF-8 (byte 0x{bad})"
            raise InvalidInputLine(msg) from None
        except RecursionError:
            raise InvalidInputLine(_TOO_DEEP) from None
        return _require_object(message)


def stream_name(message: dict) -> str:
    """The message's stream name; refused unless it is a string."""
    stream = message.get("stream")
    if not isinstance(stream, str):
        kind = str(message.get("type"))[:20]
        raise BadInputError(f"{kind} message: 'stream' must be a string.")
    return stream
