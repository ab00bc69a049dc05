"""Layout functions: records -> Redis commands (pure, no I/O)."""

from __future__ import annotations

import datetime
import decimal
import json

import pytest

from target_redis import rows as layouts
from target_redis.cache_types import CACHE_TYPES
from target_redis.rows import Row, make_row

HASH = CACHE_TYPES["hash"]()


def test_encode_data_is_compact_utf8_and_keeps_decimals() -> None:
    record = {
        "b": decimal.Decimal("0.1"),
        "a": decimal.Decimal("1E+20"),
        "name": "Zoë 李",
        "nested": {"x": [1, None, True]},
    }
    text = layouts.encode_data(record)
    assert text == '{"b":0.1,"a":1E+20,"name":"Zoë 李","nested":{"x":[1,null,true]}}'
    assert json.loads(text, parse_float=decimal.Decimal)["a"] == decimal.Decimal("1E+20")


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("2024-03-02T00:00:00Z", 1709337600000),
        ("2024-03-02T01:00:00+01:00", 1709337600000),
        ("2024-03-02T00:00:00.123456Z", 1709337600123),
        ("2024-03-02T00:00:00", 1709337600000),
    ],
)
def test_parse_time_extracted(text: str, ms: int) -> None:
    assert layouts.parse_time_extracted(text) == ms


def test_epoch_ms_has_no_float_error() -> None:
    value = datetime.datetime(2286, 11, 20, 17, 46, 39, 999000, tzinfo=datetime.timezone.utc)
    assert layouts.epoch_ms(value) == 9999999999999


def row(pk: str, deleted: bool = False, **data: object) -> Row:
    return make_row(dict(data), 1, deleted=deleted, pk=pk)


def test_plan_upsert_last_record_wins() -> None:
    plan = layouts.plan_upsert([row("1", v=1), row("2", v=2), row("1", v=3)], hard_delete=False)
    assert list(plan) == ["2", "1"]
    assert plan["1"].row is not None and plan["1"].row.text == '{"v":3}'


def test_plan_upsert_soft_delete_merges_into_earlier_row() -> None:
    plan = layouts.plan_upsert(
        [row("1", v=1, name="full"), row("1", True, v=1, _sdc_deleted_at="t")],
        hard_delete=False,
    )
    entry = plan["1"]
    assert entry.row is not None
    assert entry.row.text == '{"v":1,"name":"full","_sdc_deleted_at":"t"}'
    assert entry.merge_stored is False


def test_plan_upsert_lone_soft_delete_merges_into_stored() -> None:
    plan = layouts.plan_upsert([row("1", True, _sdc_deleted_at="t")], hard_delete=False)
    assert plan["1"].merge_stored is True
    merged = layouts.merge_into_stored('{"id":1,"name":"full","x":0.10}', plan["1"].row)
    assert merged.text == '{"id":1,"name":"full","x":0.10,"_sdc_deleted_at":"t"}'
    assert layouts.merge_into_stored(None, plan["1"].row).text == '{"_sdc_deleted_at":"t"}'


def test_plan_upsert_hard_delete_then_reinsert() -> None:
    plan = layouts.plan_upsert(
        [row("1", v=1), row("1", True), row("2", True), row("2", v=9)], hard_delete=True
    )
    assert plan["1"].row is None
    assert plan["2"].row is not None and plan["2"].row.text == '{"v":9}'
    assert layouts.count_writes(plan) == 1
