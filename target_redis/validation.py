"""Record validation with a compiled validator (fastjsonschema).

Same accept/reject decisions as the SDK's jsonschema validator (formats are not
checked, as in the SDK), at a fraction of the cost. A schema fastjsonschema cannot
compile falls back to the SDK's validator.
"""

from __future__ import annotations

import logging
import typing as t
import urllib.parse

import fastjsonschema
from singer_sdk.exceptions import InvalidJSONSchema, InvalidRecord
from singer_sdk.sinks.core import BaseJSONSchemaValidator, JSONSchemaValidator

from target_redis.schema_types import record_decoder

logger = logging.getLogger("target-redis")


class CompiledValidator(BaseJSONSchemaValidator):
    """Validates records with a schema compiled to Python code."""

    def __init__(self, schema: dict[str, t.Any]) -> None:
        """Check the schema as the SDK does, then compile it."""
        super().__init__(schema)
        self._fallback: JSONSchemaValidator | None = None
        JSONSchemaValidator(schema)  # raises InvalidJSONSchema for an invalid schema
        try:
            self._check = fastjsonschema.compile(
                schema, handlers=_NO_REMOTE, use_formats=False, use_default=False
            )
        except (fastjsonschema.JsonSchemaDefinitionException, TypeError, ValueError) as exc:
            logger.info("Schema needs the jsonschema validator (%s).", exc)
            self._fallback = JSONSchemaValidator(schema)
        self.decoder = record_decoder(schema)
        """Checks a record's JSON while decoding it, where the schema translates."""

    def accepts(self, record: dict[str, t.Any]) -> bool:
        """Whether the record is valid (``validate`` says why not)."""
        try:
            self.validate(record)
        except InvalidRecord:
            return False
        return True

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


def _refuse_remote(uri: str) -> t.NoReturn:
    msg = f"a $ref outside the schema ({uri[:80]!r}) is not resolved"
    raise fastjsonschema.JsonSchemaDefinitionException(msg)


_NO_REMOTE = {scheme: _refuse_remote for scheme in ("http", "https", "file", "ftp", "")}


def check_references(schema: t.Any) -> str | None:
    """Why the schema's ``$ref``s cannot all be resolved inside it (None if they can).

    Only references within the document (``#``, ``#/definitions/x``) are followed;
    anything else would make the target fetch a URL or read a file named by its input.
    """
    stack = [schema]
    while stack:  # iterative: a schema may be nested deeper than the recursion limit
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        for name in ("$id", "id"):
            base = node.get(name)
            if isinstance(base, str) and "://" in base:
                return f"{name} {base[:80]!r} makes references point outside the schema"
        ref = node.get("$ref")
        if ref is not None:
            if not isinstance(ref, str) or not ref.startswith("#"):
                return f"$ref {str(ref)[:80]!r} points outside the schema (only #/... is resolved)"
            if not _resolves(schema, ref[1:]):
                return f"$ref {ref[:80]!r} points nowhere in the schema"
        stack.extend(node.values())
    return None


def _resolves(document: t.Any, pointer: str) -> bool:
    if not pointer:
        return True
    node = document
    for raw in pointer.lstrip("/").split("/"):
        part = urllib.parse.unquote(raw).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def _short(value: t.Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


__all__ = ["CompiledValidator", "InvalidJSONSchema", "check_references"]
