"""One stream's plan: its cache type, record format, key scheme and load method, and
the one row builder both record paths use (the SDK's, and direct.py's).

Built at the stream's first SCHEMA of the run (``start`` reads its manifest and
chooses the key scheme), shared by the stream's sinks across schema changes.
"""

from __future__ import annotations

import decimal
import math
import time
import typing as t

from target_redis import rows as rows_module
from target_redis.errors import BadInputError, RejectedRecord, TargetRedisError
from target_redis.json_numbers import exact_text, inexact_paths
from target_redis.rows import DELETED_AT, FieldShape, Row

if t.TYPE_CHECKING:
    from target_redis.cache_types import CacheType
    from target_redis.key_schemes import KeyScheme
    from target_redis.load_method import LoadMethod
    from target_redis.record_formats import RecordFormat
    from target_redis.record_values import RecordValues
    from target_redis.row_settings import RowSettings
    from target_redis.search_index import SearchIndex
    from target_redis.search_values import Companions


class StreamPlan:
    """How one stream is written in this run."""

    def __init__(
        self,
        load: LoadMethod,
        settings: RowSettings,
        encode: t.Callable[[t.Mapping[str, t.Any]], str],
        warn_once: t.Callable[..., None],
        search: SearchIndex | None = None,
    ) -> None:
        """Nothing is read until ``start``; ``search``: the stream's ``search_index``."""
        self.load = load
        self.search = search
        self.companions: Companions | None = None
        """Values beside a record's own that a search index reads."""
        self._fields: bool | FieldShape = load.setup.record_format.field_values
        """How rows hold fields: ``record_format: fields`` (True), vectors packed, or not."""
        self._values: RecordValues | None = None
        self._group_key: t.Callable[..., str | None] | None = None
        self.settings = settings
        self.encode = encode
        self._encode_plain: t.Callable[[t.Mapping[str, t.Any]], str | bytes] = (
            rows_module.encode_bytes if encode is rows_module.encode_data else encode
        )
        self.warn_once = warn_once
        self._row_key: t.Callable[[t.Mapping[str, t.Any]], str | None] | None = None
        self._last_extracted: tuple[t.Any, int] = (None, 0)
        self.plain_rows = False
        """Rows that only need the record's JSON (no key, field or score from its values)."""

    @property
    def stream(self) -> str:
        """The stream's name."""
        return self.load.stream

    @property
    def cache(self) -> CacheType:
        """The cache type."""
        return self.load.cache

    @property
    def record_format(self) -> RecordFormat:
        """The record format."""
        return self.load.setup.record_format

    @property
    def scheme(self) -> KeyScheme:
        """The key scheme (chosen at ``start``)."""
        return self.load.scheme

    def start(self, properties: t.Mapping[str, t.Any]) -> None:
        """Check the settings against the stream's schema, read its manifest, choose
        its key scheme (the load method's start)."""
        template = self.load.setup.template
        if template is not None:
            template.check_schema(properties, self.stream, "")
        score = self.settings.score_field
        if score and score not in properties:
            msg = f"Setting 'score_field': stream '{self.stream}' has no property {score!r}."
            raise TargetRedisError(msg)
        values = self.settings.values
        if values:
            setting = "value_field" if self.cache.value_by_field else "member_field"
            values.check(properties, setting)
        self._values = values or None
        self.load.start()
        scheme = self.load.scheme
        self._row_key = scheme.row_key if scheme.keyed_by_record else None
        self._group_key = scheme.group_key if scheme.grouped else None
        cache = self.cache
        if scheme.grouped and cache.per_record_expiry and not cache.expire_options:
            msg = (
                f"Stream '{self.stream}': expire_at_field / ttl_field on a {cache.name} per "
                "group needs Redis 7 (PEXPIREAT ... NX / GT: the latest record's time wins); "
                "this server is older."
            )
            raise TargetRedisError(msg)
        self.schema(properties)
        self.plain_rows = (
            self._row_key is None
            and not self.record_format.field_values
            and not score
            and not self.cache.doubles
            and not self.companions
            and self._values is None
            and self._group_key is None
        )

    def schema(self, properties: t.Mapping[str, t.Any]) -> None:
        """At each SCHEMA of the stream (its first: once started): its search index
        made to match, and the values its records get for it."""
        if self.search is None or self.cache.search_on is None:
            return
        template = self.load.setup.template
        if template is not None and template.placeholders:
            prefix = template.prefix
        else:
            prefix = self.load.space.key + ":"
        companions = self.search.schema(properties, self.cache.search_on, prefix)
        self.companions = companions or None
        vectors = companions.vectors and self.record_format.field_values
        self._fields = companions.field_values if vectors else self.record_format.field_values

    # Rows

    def row(self, record: dict, time_extracted: t.Any, source: t.Any) -> Row:
        """The record's Row (``source``: the record as the tap sent it, before stream
        maps); BadInputError if Redis would refuse it for its size, RejectedRecord if
        its key or score cannot be made."""
        if source is record:
            row = self.plain_row(record, time_extracted)
            if row is not None:
                return row
        row = self._row(record, time_extracted, source)
        text = row.text
        limit = self.settings.max_record_bytes
        if len(text) * 4 > limit:
            size = len(text.encode()) if isinstance(text, str) else len(text)
            if size > limit:
                msg = (
                    f"Stream '{self.stream}': a record of {size} bytes is larger than "
                    f"Redis accepts (proto-max-bulk-len {limit})."
                )
                raise BadInputError(msg)
        return row

    def plain_row(self, record: dict, time_extracted: t.Any) -> Row | None:
        """The Row of a record whose row needs only its JSON (``plain_rows``, not a
        delete, far below Redis's size limit); None for any other record."""
        if not self.plain_rows or record.get(DELETED_AT) is not None:
            return None
        text = self._encode_plain(record)
        if len(text) * 4 > self.settings.max_record_bytes:
            return None
        return Row(text, self.emitted_at(time_extracted))

    def _row(self, record: dict, time_extracted: t.Any, source: t.Any) -> Row:
        deleted_at = record.get(DELETED_AT)
        if deleted_at is None and source is not record and isinstance(source, dict):
            deleted_at = source.get(DELETED_AT)
        deleted = deleted_at is not None
        if deleted and DELETED_AT not in record:
            # A stream map dropped it: keep the mark, or the delete would read as a row.
            record[DELETED_AT] = deleted_at
        if self.cache.doubles:
            record = self._inexact_numbers(record)
        if self.companions is not None:
            record = self.companions.apply(record)
        row = rows_module.make_row(
            record,
            self.emitted_at(time_extracted),
            deleted=deleted,
            pk=self._row_key(record) if self._row_key is not None else None,
            encode=self.encode,
            fields=self._fields,
            score=self.score(record, deleted=deleted) if self.settings.score_field else None,
        )
        if self._values is not None:
            self._values.apply(row, record)
        if self._group_key is not None:
            row.group = self._group_key(record, deleted=deleted)
        return row

    def score(self, record: t.Mapping[str, t.Any], *, deleted: bool = False) -> str | None:
        """``score_field``'s value as a sorted-set score (a number's own text, a date or
        date-time in epoch milliseconds); None for a delete row without it (a delete
        needs the member, not the score)."""
        name = self.settings.score_field
        value = record.get(name)
        if value is None and deleted:
            return None
        if value is None:
            msg = f"Stream '{self.stream}': score_field '{name}' is missing or null in a record."
            raise RejectedRecord(msg)
        if isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool):
            return str(value)
        try:
            if isinstance(value, bool):
                raise ValueError
            return str(rows_module.date_ms(str(value)))
        except ValueError:
            msg = (
                f"Stream '{self.stream}': score_field '{name}' holds {str(value)[:40]!r}, "
                "neither a number nor a date / date-time."
            )
            raise RejectedRecord(msg) from None

    def _inexact_numbers(self, record: dict) -> dict:
        """Numbers RedisJSON would change: warned about once per property, and with
        ``json_inexact_numbers: string`` stored as their exact text."""
        as_text = self.settings.json_inexact_numbers == "string"
        found = list(inexact_paths(record))
        for name, value in found:
            if not as_text and math.isinf(float(value)):
                msg = (
                    f"Stream '{self.stream}': property '{name}' holds {str(value)[:40]}, "
                    "beyond what RedisJSON stores (a double); json_inexact_numbers: string "
                    "stores such numbers as their exact text."
                )
                raise RejectedRecord(msg)
            if not as_text:
                self.warn_once(
                    f"inexact:{self.stream}:{name}",
                    "Stream '%s': property '%s' holds %s, which RedisJSON stores as a double "
                    "(%s); set json_inexact_numbers: string to store such numbers as their "
                    "exact text (warned once per property).",
                    self.stream,
                    name,
                    str(value)[:40],
                    repr(float(value)),
                )
        return exact_text(record) if as_text and found else record

    def emitted_at(self, time_extracted: t.Any) -> int:
        """Epoch milliseconds of the message's ``time_extracted`` (now without one)."""
        if not time_extracted:
            return time.time_ns() // 1_000_000
        if time_extracted == self._last_extracted[0]:  # taps repeat it for many records
            return self._last_extracted[1]
        try:
            ms = rows_module.parse_time_extracted(str(time_extracted))
        except ValueError:
            msg = (
                f"Stream '{self.stream}': time_extracted {time_extracted!r} "
                "is not an ISO-8601 date-time."
            )
            raise BadInputError(msg) from None
        self._last_extracted = (time_extracted, ms)
        return ms
