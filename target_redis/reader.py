"""Line readers that count lines, so errors can name the input line.

``FastReader`` (the default) decodes with msgspec straight from stdin's bytes;
``PlainReader`` is the SDK's stdlib decoding. Both give floats as Decimal and report a
bad line by number, never echoing its text.
"""

from __future__ import annotations

import decimal
import json
import sys
import typing as t

import msgspec
from singer_sdk.singerlib.encoding import SimpleSingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine
from singer_sdk.singerlib.json import deserialize_json

_DECODER = msgspec.json.Decoder(float_hook=decimal.Decimal)


def _require_object(message: t.Any) -> dict:
    if not isinstance(message, dict):
        msg = "a Singer message must be a JSON object"
        raise InvalidInputLine(msg)
    return message


class PlainReader(SimpleSingerReader):
    """The SDK's reader (stdlib json), counting lines."""

    def __init__(self) -> None:
        """Start at line 0."""
        super().__init__()
        self.line_number = 0

    @staticmethod
    def assert_line_requires(line_dict: dict, requires: set[str]) -> None:
        """As the SDK's, naming the missing keys and stream without echoing the line."""
        missing = sorted(requires - set(line_dict))
        if missing:
            kind = line_dict.get("type", "message")
            stream = f" of stream '{line_dict['stream']}'" if "stream" in line_dict else ""
            msg = f"{kind}{stream} lacks required key(s): {', '.join(missing)}"
            raise InvalidInputLine(msg)

    def _process_unknown_message(self, message_dict: dict) -> None:
        msg = f"unknown message type {str(message_dict.get('type'))[:40]!r}"
        raise InvalidInputLine(msg)

    def deserialize_json(self, line: str) -> dict:
        """Parse one line; raise InvalidInputLine naming the problem, not the text."""
        self.line_number += 1
        try:
            message = deserialize_json(line)
        except json.JSONDecodeError as exc:
            msg = f"not valid JSON ({exc.msg} at column {exc.colno})"
            raise InvalidInputLine(msg) from None
        return _require_object(message)


class FastReader(PlainReader):
    """msgspec decoding of stdin's raw bytes (about 6x the stdlib's speed)."""

    @property
    def default_input(self) -> t.IO[t.Any]:  # type: ignore[override]
        """Standard input as bytes: no text decoding pass before JSON decoding."""
        return sys.stdin.buffer

    def deserialize_json(self, line: str | bytes) -> dict:
        """Parse one line (str or bytes) with msgspec."""
        self.line_number += 1
        try:
            message = _DECODER.decode(line)
        except msgspec.DecodeError as exc:
            msg = f"not valid JSON ({exc})"
            raise InvalidInputLine(msg) from None
        return _require_object(message)
