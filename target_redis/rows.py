"""Rows: records on their way to Redis, encoded once; upsert plans. Pure, no I/O.

A row carries everything writing it needs (JSON text, emitted_at, delete flag, key
suffix). Which commands write it is the cache type's business (cache_types.py),
which key it gets the load method's (load_methods.py). A command is a tuple of
strings as sent to Redis, e.g. ``("HSET", key, f, v, ...)``.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import typing as t

import msgspec
from singer_sdk.singerlib.json import serialize_json

Command = tuple[str | bytes, ...]
"""A command as sent to Redis: its words (a record's JSON may be UTF-8 bytes)."""

AB_ID = "_airbyte_ab_id"
EMITTED_AT = "_airbyte_emitted_at"
DATA = "_airbyte_data"
DELETED_AT = "_sdc_deleted_at"


class Number(decimal.Decimal):
    """A JSON number with a fraction or an exponent, as the tap wrote it: a Decimal
    (exact, comparable, valid wherever a number is) whose text is the tap's own
    lexeme (``1e20`` stays ``1e20``, ``12e0`` stays ``12e0``, ``1.50`` stays ``1.50``).
    Arithmetic gives plain Decimals."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str | bytes) -> Number:
        """From the number's text (what a JSON decoder's float hook receives)."""
        if isinstance(text, bytes):
            text = text.decode()
        number = super().__new__(cls, text)
        number.text = text
        return number

    def __str__(self) -> str:
        """The tap's text (simplejson writes Decimals with str())."""
        return self.text

    def __reduce__(self) -> tuple[t.Any, ...]:
        return (Number, (self.text,))


def number(text: str) -> decimal.Decimal:
    """A JSON decoder's float hook: a Decimal, or a Number where a Decimal's own text
    would differ from the tap's. That happens only with an exponent (``1e20``) or six
    zeros after the point (``0.0000001`` prints as ``1E-7``); the other numbers need no
    Number, which costs more to make than a Decimal."""
    if "e" in text or "E" in text or ".000000" in text:
        return Number(text)
    return decimal.Decimal(text)


_DECODER = msgspec.json.Decoder(float_hook=number)


def decode_json(text: str | bytes) -> t.Any:
    """JSON text to Python values, numbers with a fraction or exponent as Numbers."""
    return _DECODER.decode(text)


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_MS = datetime.timedelta(milliseconds=1)


@dataclasses.dataclass(slots=True)
class Row:
    """One record on its way to Redis, already encoded (the dict is dropped, so a
    pending batch holds about the record's JSON size, not its Python objects)."""

    text: str | bytes
    """The ``_airbyte_data`` JSON (UTF-8 bytes on the direct path's plain rows)."""
    emitted_at: int
    """Epoch milliseconds."""
    deleted: bool = False
    pk: str | None = None
    """Encoded primary key (load methods that key records by it)."""
    data: dict[str, t.Any] | None = None
    """The record itself, kept only for delete rows (they may need merging)."""
    fields: tuple[str | bytes, ...] | None = None
    """``record_format: fields``: name, value, name, value... of the non-null properties."""
    nulls: tuple[str, ...] = ()
    """``record_format: fields``: the properties that are null (a merge removes them)."""
    score: str | None = None
    """``cache_type: sorted_set``: the member's score."""
    shape: FieldShape | None = None
    """``record_format: fields``: how the record became ``fields`` (merges remake it)."""
    member: str | None = None
    """``member_field`` / ``value_field``: the member or value (else the record's JSON)."""
    expires: int | None = None
    """``expire_at_field`` / ``ttl_field``: when the key expires, epoch ms (None: the
    stream's ``ttl_seconds``, if any)."""
    group: str | None = None
    """A grouped collection's key (``key_template`` of a collection type)."""

    def record(self) -> dict[str, t.Any]:
        """The record as a dict (decoded again if it was dropped)."""
        if self.data is not None:
            return self.data
        return t.cast("dict", decode_json(self.text))


@dataclasses.dataclass(slots=True)
class UpsertEntry:
    """What an upsert batch does to one key: write ``row`` or delete the key."""

    row: Row | None
    merge_stored: bool = False
    """True when ``row`` is a partial delete row to merge into the stored record."""


def _fallback_encoding(obj: t.Any) -> t.Any:
    if isinstance(obj, Number):
        return msgspec.Raw(obj.text.encode())  # the tap's lexeme, verbatim
    return obj.isoformat() if isinstance(obj, datetime.datetime) else str(obj)


_ENCODER = msgspec.json.Encoder(enc_hook=_fallback_encoding, decimal_format="number")


def encode_data(record: t.Mapping[str, t.Any]) -> str:
    """The record as compact UTF-8 JSON: key order kept, Decimals as numbers (msgspec)."""
    return _ENCODER.encode(record).decode()


encode_bytes: t.Callable[[t.Mapping[str, t.Any]], bytes] = _ENCODER.encode
"""As ``encode_data``, as UTF-8 bytes (kept so from the encoder to the socket)."""


def encode_data_plain(record: t.Mapping[str, t.Any]) -> str:
    """As ``encode_data``, with the SDK's simplejson (the plain path; same text for
    anything a JSON input can hold)."""
    return serialize_json(record, ensure_ascii=False)


def make_row(
    record: dict[str, t.Any],
    emitted_at: int,
    *,
    deleted: bool = False,
    pk: str | None = None,
    encode: t.Callable[[t.Mapping[str, t.Any]], str] = encode_data,
    fields: bool | FieldShape | None = False,
    score: str | None = None,
) -> Row:
    """A Row for ``record``; the dict is kept only for a delete row. With ``fields``
    (True: ``field_values``; or a function like it), the row also holds each property
    as a hash field (``record_format: fields``)."""
    row = Row(encode(record), emitted_at, deleted, pk, record if deleted else None)
    row.score = score
    if fields:
        shape = field_values if fields is True else fields
        row.fields, row.nulls = shape(record)
        row.shape = shape
    return row


FieldShape = t.Callable[[t.Mapping[str, t.Any]], tuple[tuple[str | bytes, ...], tuple[str, ...]]]
"""A record -> (name, value, name, value..., null names): ``field_values`` or one like it."""


def field_values(record: t.Mapping[str, t.Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Each non-null property as text (strings as they are, numbers with the tap's text,
    booleans ``true``/``false``, objects and arrays as compact JSON), and the names of
    the null ones."""
    values: list[str] = []
    nulls: list[str] = []
    add = values.append
    for name, value in record.items():
        kind = type(value)
        if kind is str:
            text = value
        elif value is None:
            nulls.append(name)
            continue
        elif kind is bool:
            text = "true" if value else "false"
        elif isinstance(value, (int, decimal.Decimal)) and not isinstance(value, bool):
            text = str(value)  # a Number's str is the tap's text
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, float):
            text = repr(value)
        elif isinstance(value, str):
            text = value
        else:
            text = encode_data(value)
        add(name)
        add(text)
    return tuple(values), tuple(nulls)


def epoch_ms(value: datetime.datetime) -> int:
    """Epoch milliseconds of a datetime (naive means UTC), without float error."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return (value - _EPOCH) // _MS


def date_ms(text: str) -> int:
    """Epoch milliseconds of an ISO 8601 date or date-time (a date: its midnight UTC);
    ValueError if it is neither."""
    if len(text) == 10:
        day = datetime.date.fromisoformat(text)
        return epoch_ms(datetime.datetime(day.year, day.month, day.day))
    return parse_time_extracted(text)


def parse_time_extracted(text: str) -> int:
    """Epoch milliseconds of an ISO-8601 ``time_extracted``; ValueError if not one."""
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return epoch_ms(datetime.datetime.fromisoformat(text))


def plan_upsert(
    rows: t.Iterable[Row], *, hard_delete: bool, merge: bool = False
) -> dict[str, UpsertEntry]:
    """Reduce a batch to one action per key; the last record wins (with ``merge``, the
    records of a key are laid over each other, as the stored one will be).

    A delete row under soft delete is merged into the record before it in the
    batch; with none before it, it is marked to merge into the stored record, so
    a delete's partial row never replaces a full record. Under hard delete a
    delete row removes the key.
    """
    plan: dict[str, UpsertEntry] = {}
    for row in rows:
        pk = t.cast("str", row.pk)
        previous = plan.pop(pk, None)  # re-insert: key order follows last write
        if not row.deleted and merge and previous is not None and previous.row is not None:
            merged = make_row(
                {**previous.row.record(), **row.record()},
                row.emitted_at,
                pk=pk,
                fields=row.shape,
            )
            merged.expires = row.expires
            plan[pk] = UpsertEntry(merged, previous.merge_stored)
        elif not row.deleted:
            plan[pk] = UpsertEntry(row)
        elif hard_delete:
            plan[pk] = UpsertEntry(None)
        elif previous is not None and previous.row is not None:
            merged = make_row(
                {**previous.row.record(), **row.record()},
                row.emitted_at,
                deleted=True,
                pk=pk,
                fields=row.shape,
            )
            merged.expires = row.expires if row.expires is not None else previous.row.expires
            plan[pk] = UpsertEntry(merged, previous.merge_stored)
        else:
            plan[pk] = UpsertEntry(row, merge_stored=True)
    return plan


def merge_into_stored(stored_data: str | None, row: Row) -> Row:
    """A soft-delete row laid over the stored record's JSON (if there is one)."""
    if not stored_data:
        return row
    stored = decode_json(stored_data)
    if not isinstance(stored, dict):
        return row
    merged = make_row(
        {**stored, **row.record()},
        row.emitted_at,
        deleted=True,
        pk=row.pk,
        fields=row.shape,
    )
    merged.expires = row.expires
    return merged


def count_writes(plan: t.Mapping[str, UpsertEntry]) -> int:
    """How many keys of an upsert plan get written (and so need an id)."""
    return sum(1 for entry in plan.values() if entry.row is not None)
