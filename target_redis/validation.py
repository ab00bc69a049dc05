"""Record validation with a compiled validator (fastjsonschema).

Same accept/reject decisions as the SDK's jsonschema validator (formats are not
checked, as in the SDK), at a fraction of the cost. A schema fastjsonschema cannot
compile falls back to the SDK's validator.
"""

from __future__ import annotations

import logging
import typing as t

import fastjsonschema
from singer_sdk.exceptions import InvalidJSONSchema, InvalidRecord
from singer_sdk.sinks.core import BaseJSONSchemaValidator, JSONSchemaValidator

logger = logging.getLogger("target-redis")


class CompiledValidator(BaseJSONSchemaValidator):
    """Validates records with a schema compiled to Python code."""

    def __init__(self, schema: dict[str, t.Any]) -> None:
        """Check the schema as the SDK does, then compile it."""
        super().__init__(schema)
        self._fallback: JSONSchemaValidator | None = None
        JSONSchemaValidator(schema)  # raises InvalidJSONSchema for an invalid schema
        try:
            self._check = fastjsonschema.compile(schema, use_formats=False, use_default=False)
        except (fastjsonschema.JsonSchemaDefinitionException, TypeError, ValueError) as exc:
            logger.info("Schema needs the jsonschema validator (%s).", exc)
            self._fallback = JSONSchemaValidator(schema)

    def validate(self, record: dict[str, t.Any]) -> None:
        """Raise InvalidRecord with the rule the record breaks."""
        if self._fallback is not None:
            self._fallback.validate(record)
            return
        try:
            self._check(record)
        except fastjsonschema.JsonSchemaValueException as exc:
            message = (exc.message or str(exc)).replace("data.", "", 1)
            message = message.replace("data ", "record ", 1)
            if exc.rule in ("type", "enum", "const", "format", "pattern"):
                message += f" (got {_short(exc.value)})"
            raise InvalidRecord(message, record) from None


def _short(value: t.Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


__all__ = ["CompiledValidator", "InvalidJSONSchema"]
