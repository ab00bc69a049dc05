"""Key templates (the ``key_template`` setting): a record's full key built from its
values, e.g. ``user:{id}`` or ``order:{customer_id}:{order_no}``. Pure, no I/O.

``{{`` and ``}}`` are literal braces. Values are written as upsert keys write them
(keys.encode_pk_value). With one placeholder a value is used as it is (the text
around it is fixed, so distinct values give distinct keys); with several, ``\\`` and
``:`` are escaped in each value and the text between two placeholders must hold a
``:``, so a key splits back into its values one way only.
"""

from __future__ import annotations

import re
import string
import typing as t

from target_redis.errors import RejectedRecord, TargetRedisError
from target_redis.keys import encode_pk_value, escape_glob


class KeyTemplate:
    """A parsed ``key_template``."""

    def __init__(self, text: str, where: str = "") -> None:
        """Parse ``text``; a template that cannot give distinct keys is refused."""
        self.text = text
        self.parts: list[tuple[str, str | None]] = []
        try:
            for literal, field, spec, conversion in string.Formatter().parse(text):
                if field is not None and (spec or conversion or not field):
                    raise ValueError("placeholders are plain property names, e.g. {id}")
                self.parts.append((literal, field))
        except ValueError as exc:
            msg = f"Setting 'key_template'{where} ({text!r}): {exc}."
            raise TargetRedisError(msg) from None
        self.placeholders = [field for _, field in self.parts if field is not None]
        self._escape = len(self.placeholders) > 1
        if self._escape:
            between = [literal for literal, _ in self.parts[1:]]
            fields = [field for _, field in self.parts[:-1]]
            for literal, field in zip(between, fields, strict=True):
                if field is not None and ":" not in literal:
                    msg = (
                        f"Setting 'key_template'{where} ({text!r}): put a ':' between "
                        "placeholders, so that distinct values give distinct keys."
                    )
                    raise TargetRedisError(msg)

    def render(self, record: t.Mapping[str, t.Any], stream: str) -> str:
        """The record's key; a missing or null placeholder value is refused."""
        out = []
        for literal, field in self.parts:
            out.append(literal)
            if field is None:
                continue
            value = record.get(field)
            if value is None:
                msg = (
                    f"Stream '{stream}': property '{field}' of key_template "
                    f"{self.text!r} is missing or null in a record."
                )
                raise RejectedRecord(msg)
            text = encode_pk_value(value)
            out.append(text.replace("\\", "\\\\").replace(":", "\\:") if self._escape else text)
        return "".join(out)

    @property
    def literal(self) -> str | None:
        """The key itself, for a template without placeholders."""
        return None if self.placeholders else "".join(literal for literal, _ in self.parts)

    @property
    def prefix(self) -> str:
        """The fixed text every key starts with (all of it, without placeholders)."""
        return self.parts[0][0] if self.placeholders else "".join(lit for lit, _ in self.parts)

    def glob(self) -> str:
        """SCAN pattern of the keys the template gives."""
        return "".join(
            escape_glob(literal) + ("*" if field else "") for literal, field in self.parts
        )

    def matches(self, key: str) -> bool:
        """Whether ``key`` has the template's shape."""
        value = r"(?:[^:\\]|\\.)*" if self._escape else r".*"
        pattern = "".join(
            re.escape(literal) + (value if field else "") for literal, field in self.parts
        )
        return re.fullmatch(pattern, key, flags=re.DOTALL) is not None

    def check_schema(self, properties: t.Mapping[str, t.Any], stream: str, where: str) -> None:
        """Refuse placeholders that name no property of the stream's schema."""
        missing = [field for field in self.placeholders if field not in properties]
        if missing:
            msg = (
                f"Setting 'key_template'{where} ({self.text!r}): stream '{stream}' has no "
                f"property {', '.join(repr(m) for m in missing)}."
            )
            raise TargetRedisError(msg)
