"""The SDK's line reader, counting lines so errors can name the input line."""

from __future__ import annotations

import json

from singer_sdk.singerlib.encoding import SimpleSingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine
from singer_sdk.singerlib.json import deserialize_json


class CountingReader(SimpleSingerReader):
    """Reads Singer messages; a bad line is reported by number, not echoed."""

    def __init__(self) -> None:
        """Start at line 0."""
        super().__init__()
        self.line_number = 0

    def deserialize_json(self, line: str) -> dict:
        """Parse one line; raise InvalidInputLine naming the problem, not the text."""
        self.line_number += 1
        try:
            message = deserialize_json(line)
        except json.JSONDecodeError as exc:
            msg = f"not valid JSON ({exc.msg} at column {exc.colno})"
            raise InvalidInputLine(msg) from None
        if not isinstance(message, dict):
            msg = "a Singer message must be a JSON object"
            raise InvalidInputLine(msg)
        return message
