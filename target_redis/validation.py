"""Record validation with a compiled validator (fastjsonschema).

Same accept/reject decisions as the SDK's jsonschema validator (formats are not
checked, as in the SDK), at a fraction of the cost. A schema fastjsonschema cannot
compile falls back to the SDK's validator.
"""

from __future__ import annotations

import decimal
import logging
import re
import typing as t
import urllib.parse

import fastjsonschema
from fastjsonschema import draft04, draft06, draft07, draft2019
from fastjsonschema.ref_resolver import RefResolver
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
            self._check = _compile(schema)
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
            message = _LITERAL.sub(r"\1", message.replace("data ", "record ", 1))
            if exc.rule in ("type", "enum", "const", "format", "pattern"):
                message += f" (got {_short(exc.value)})"
            raise InvalidRecord(message, record) from None
        except Exception as exc:  # a keyword the validator cannot apply to this record
            detail = " ".join(str(exc).split())[:120]
            message = f"the schema could not be checked on it ({type(exc).__name__}: {detail})"
            raise InvalidRecord(message, record) from None


def is_multiple(value: int | float | decimal.Decimal, divisor: str) -> bool:
    """Whether ``value`` is an integer multiple of the number written ``divisor``,
    exactly (decimal arithmetic on the numbers' text, however large their exponents)."""
    number = decimal.Decimal(repr(value)) if isinstance(value, float) else decimal.Decimal(value)
    step = decimal.Decimal(divisor)
    if not number.is_finite() or not step.is_finite() or not step:
        return False
    value_digits, value_exponent = _integer_and_exponent(number)
    step_digits, step_exponent = _integer_and_exponent(step)
    if not value_digits:
        return True
    if value_exponent >= step_exponent:  # value_digits * 10**shift % step_digits, modular
        shift = value_exponent - step_exponent
        return value_digits * pow(10, shift, step_digits) % step_digits == 0
    shift = step_exponent - value_exponent
    if shift > len(str(value_digits)):
        return False  # step_digits * 10**shift exceeds value_digits
    return value_digits % (step_digits * 10**shift) == 0


def _integer_and_exponent(number: decimal.Decimal) -> tuple[int, int]:
    _, digits, exponent = number.as_tuple()
    return int("".join(map(str, digits)) or "0"), int(exponent)


_GENERATORS = {
    "draft-04": draft04.CodeGeneratorDraft04,
    "draft-06": draft06.CodeGeneratorDraft06,
    "draft-07": draft07.CodeGeneratorDraft07,
}


def _compile(schema: dict[str, t.Any]) -> t.Callable[[t.Any], t.Any]:
    """fastjsonschema's validator for the schema (its draft chosen as fastjsonschema
    chooses it), with ``multipleOf`` checked exactly: its own check divides a record's
    Decimal by a float, which raises TypeError."""
    version = str(schema.get("$schema", ""))
    base = next(
        (cls for name, cls in _GENERATORS.items() if name in version),
        draft2019.CodeGeneratorDraft2019,
    )

    class ExactMultiples(base):  # type: ignore[valid-type,misc]
        def generate_multiple_of(self) -> None:
            divisor = self._definition["multipleOf"]
            if isinstance(divisor, bool) or not isinstance(divisor, (int, float, decimal.Decimal)):
                raise fastjsonschema.JsonSchemaDefinitionException("multipleOf must be a number")
            if not divisor > 0:
                raise fastjsonschema.JsonSchemaDefinitionException("multipleOf must be above 0")
            number = "isinstance({variable}, (int, float, Decimal))"
            test = f"not is_multiple({{variable}}, {str(divisor)!r})"
            with self.l(f"if {number} and not isinstance({{variable}}, bool) and {test}:"):
                self.exc("{name} must be multiple of {multipleOf}", rule="multipleOf")

    schema = _exact_bounds(schema)
    resolver = RefResolver.from_schema(schema, handlers=_NO_REMOTE, store={})
    generator = ExactMultiples(
        schema,
        resolver=resolver,
        formats={},
        use_default=False,
        use_formats=False,
        detailed_exceptions=True,
        fast_fail=True,
    )
    state = {**generator.global_state, "is_multiple": is_multiple, "Decimal": decimal.Decimal}
    exec(generator.func_code, state)  # as fastjsonschema.compile does
    return t.cast("t.Callable[[t.Any], t.Any]", state[resolver.get_scope_name()])


class _Literal(decimal.Decimal):
    """A bound as the code fastjsonschema generates must write it: ``Decimal('0.1')``,
    not ``0.1`` (a float, so that a record's exact 0.1 would be below ``minimum: 0.1``)."""

    def __str__(self) -> str:
        return f"Decimal({super().__str__()!r})"

    def __format__(self, spec: str, context: t.Any = None, /) -> str:
        return str(self) if not spec else super().__format__(spec, context)


_BOUNDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
_DATA = frozenset({"enum", "const", "default", "examples"})
_LITERAL = re.compile(r"Decimal\('([^']*)'\)")


def _exact_bounds(schema: t.Any) -> t.Any:
    """The schema with its numeric bounds as exact literals (values inside ``enum``,
    ``const``, ``default`` and ``examples`` are data, left as they are)."""
    if isinstance(schema, list):
        return [_exact_bounds(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    copy: dict[str, t.Any] = {}
    for key, value in schema.items():
        number = isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool)
        if key in _BOUNDS and number:
            copy[key] = _Literal(repr(value) if isinstance(value, float) else value)
        elif key in _DATA:
            copy[key] = value
        else:
            copy[key] = _exact_bounds(value)
    return copy


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
