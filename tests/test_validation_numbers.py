"""Number keywords (``multipleOf``, ``minimum``, ``maximum``, ``exclusive*``) decided
exactly on the tap's number text, as fractions, integers and exponents; and no keyword
can crash validation. Compared with fractions.Fraction as the oracle."""

from __future__ import annotations

import decimal
import fractions

import pytest
from helpers import run_cli, schema_msg, singer_lines, state_msg
from hypothesis import given, settings
from hypothesis import strategies as st

from devtools.server import RedisServer
from target_redis.rows import decode_json
from target_redis.validation import CompiledValidator


def number_text(digits: int, exponent: int, style: int) -> str:
    """One number written as a tap may write it: 1.5, 15e-1, 15E-1, 1500."""
    if style == 0:
        return format(decimal.Decimal(digits).scaleb(exponent), "f")
    return f"{digits}{'e' if style == 1 else 'E'}{exponent}"


numbers = st.builds(
    number_text,
    st.integers(min_value=-(10**12), max_value=10**12),
    st.integers(min_value=-12, max_value=6),
    st.integers(min_value=0, max_value=2),
)
positive = st.builds(
    number_text,
    st.integers(min_value=1, max_value=10**4),
    st.integers(min_value=-12, max_value=4),
    st.integers(min_value=0, max_value=2),
)


def oracle(keyword: str, bound: str, value: str) -> bool:
    a, b = fractions.Fraction(value), fractions.Fraction(bound)
    return {
        "multipleOf": lambda: (a / b).denominator == 1,
        "minimum": lambda: a >= b,
        "maximum": lambda: a <= b,
        "exclusiveMinimum": lambda: a > b,
        "exclusiveMaximum": lambda: a < b,
    }[keyword]()


@settings(max_examples=400, deadline=None)
@given(
    keyword=st.sampled_from(
        ["multipleOf", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]
    ),
    bound=positive,
    value=numbers,
)
def test_number_keywords_are_exact(keyword: str, bound: str, value: str) -> None:
    schema = {
        "type": "object",
        "properties": {"x": {"type": "number", keyword: decode_json(bound)}},
    }
    validator = CompiledValidator(schema)
    assert validator._fallback is None
    assert validator.accepts({"x": decode_json(value)}) == oracle(keyword, bound, value), (
        keyword,
        bound,
        value,
    )


@pytest.mark.parametrize("divisor", ["1e-10", "0.01", "0.001"])
@pytest.mark.parametrize("on_invalid", ["fail", "skip"])
def test_mysql_decimal_columns_load(server: RedisServer, r, divisor: str, on_invalid: str) -> None:
    """Issue 22, item 1: pipelinewise-tap-mysql's DECIMAL columns crashed validation."""
    schema = (
        '{"type":"SCHEMA","stream":"s","schema":{"properties":{"x":{"type":["null","number"],'
        '"multipleOf":DIVISOR}}},"key_properties":[]}\n'
    ).replace("DIVISOR", divisor)
    good = '{"type":"RECORD","stream":"s","record":{"x":1.5}}\n'
    bad = '{"type":"RECORD","stream":"s","record":{"x":1.00005}}\n'
    text = schema + good + (bad if divisor != "1e-10" else "") + singer_lines(state_msg({"a": 1}))
    done = run_cli(server.config(on_invalid_record=on_invalid), text)
    if divisor == "1e-10" or on_invalid == "skip":
        assert done.returncode == 0, done.stderr
        assert r.hget(":s:1", "_airbyte_data") == '{"x":1.5}'
        assert r.get(":s") == "1"
    else:
        assert done.returncode == 1
        (error,) = [line for line in done.stderr.splitlines() if "| ERROR" in line]
        assert (
            "Input line 3 (stream 's'): Record failed schema validation: "
            f"x must be multiple of {divisor}" in error
        )


def test_a_keyword_that_fails_on_a_record_is_that_records_problem() -> None:
    """A check that raises (not a validation failure) makes the record invalid, so
    on_invalid_record decides, instead of stopping the run with a traceback."""
    validator = CompiledValidator(schema_msg("s", {"x": {"type": "number"}})["schema"])

    def broken(record: object) -> None:
        raise ZeroDivisionError("division by zero")

    validator._check = broken
    assert not validator.accepts({"x": 1})
