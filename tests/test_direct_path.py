"""The direct path (plain streams' records skip the SDK's per-record machinery)
against the SDK's path and the plain path, in one run with stream maps on some
streams and not others: same Redis contents, same STATE lines, same warnings and
errors, same counts."""

from __future__ import annotations

import contextlib
import decimal
import io
import json
import logging
import typing as t

import pytest
import redis
import simplejson
from helpers import record_msg, schema_msg, state_msg
from singer_sdk import metrics
from test_fast_path import PlainTargetRedis
from test_fidelity import NUMBERS as FIDELITY_NUMBERS

from devtools.server import RedisServer
from target_redis.direct import DirectRecords
from target_redis.invalid import dead_letter_key
from target_redis.target import TargetRedis

D = decimal.Decimal


class SdkPathTargetRedis(TargetRedis):
    """The fast path without the direct path."""

    direct_path = False


PATHS: dict[str, type[TargetRedis]] = {
    "direct": TargetRedis,
    "sdk": SdkPathTargetRedis,
    "plain": PlainTargetRedis,
}
NUMBERS = [D("2.50"), D("1E+20"), D("-0.0"), D("0.0000001"), 7, D("-12.000"), None, 1e20]
PROPS = {
    "id": {"type": "integer"},
    "name": {"type": ["null", "string"]},
    "score": {"type": ["null", "number"]},
    "at": {"type": ["null", "string"], "format": "date-time"},
    "tags": {"type": ["null", "array"], "items": {"type": "string"}},
    "_sdc_deleted_at": {"type": ["null", "string"]},
}


def mixed_input(*, invalid: bool = True) -> list[dict]:
    """Streams ``plain`` (direct), ``mapped`` (a stream map) and ``wide`` (a schema
    that does not translate to a msgspec type), with bad records, a non-ISO date,
    an undeclared field, a delete, a new SCHEMA mid-stream and STATEs between."""
    wide = {**PROPS, "id": {"type": "integer", "minimum": 0}}
    messages: list[dict] = [
        schema_msg("plain", PROPS, ["id"]),
        schema_msg("mapped", PROPS, ["id"]),
        schema_msg("wide", wide, ["id"]),
    ]
    for i in range(1, 15):
        for stream in ("plain", "mapped", "wide"):
            record = {
                "id": i % 9,
                "name": f"n{i}" if i % 4 else None,
                "score": NUMBERS[i % len(NUMBERS)],
                "at": "2024-05-01T10:00:00Z" if i != 5 else "yesterday",
                "tags": ["a", str(i)],
            }
            if i == 6:
                record["extra"] = "undeclared"
            if i == 7:
                record["_sdc_deleted_at"] = "2024-05-02T00:00:00Z"
            messages.append(record_msg(stream, record, time_extracted=f"2024-06-01T00:00:{i:02d}Z"))
        if i == 3 and invalid:
            messages.append(record_msg("plain", {"id": "three"}))  # invalid
            messages.append(record_msg("wide", {"id": -1}))  # invalid by its minimum
            messages.append(record_msg("plain", {"name": "no key"}))  # key property missing
        if i % 4 == 0:
            messages.append(state_msg({"bookmarks": {"plain": {"i": i}}}))
        if i == 8:
            messages.append(schema_msg("plain", {**PROPS, "new": {"type": "string"}}, ["id"]))
    messages.append(state_msg({"bookmarks": {"plain": {"i": "end"}}}))
    return messages


class Captured(t.NamedTuple):
    states: list[str]
    error: str | None
    warnings: list[str]
    reader_line: str


def run(path: str, config: dict, messages: list[dict] | str) -> Captured:
    out = io.StringIO()
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda rec: records.append(f"{rec.levelname} {rec.getMessage()}")  # type: ignore[method-assign]
    root = logging.getLogger()
    root.addHandler(handler)
    error = None
    if isinstance(messages, str):
        text = messages
    else:
        text = "".join(simplejson.dumps(m, use_decimal=True) + "\n" for m in messages)
    try:
        with contextlib.redirect_stdout(out):
            target = PATHS[path](config=dict(config))
            try:
                target.listen(io.StringIO(text))
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
            finally:
                target.close()
    finally:
        root.removeHandler(handler)
    namespace = config["namespace"]
    warnings = [
        r.replace(f"{namespace}:{{{namespace}:", "N:{N:")
        for r in records
        if r.startswith(("WARNING", "ERROR"))
    ]
    reader = next((r for r in records if "completed processing" in r), "")
    return Captured(out.getvalue().splitlines(), error, warnings, reader)


def contents(client: redis.Redis, namespace: str) -> dict[str, t.Any]:
    found: dict[str, t.Any] = {}
    for key in client.scan_iter(match=f"{namespace}:*"):
        if ":target-redis-manifest:" in key:
            continue
        kind = client.type(key)
        name = key[len(namespace) :].replace(f"{{{namespace}:", "{N:")
        if kind == "hash":
            found[name] = client.hgetall(key)
        elif kind == "stream":
            # Left out: when it was set aside, and the validator's wording of why.
            found[name] = [
                {k: v for k, v in fields.items() if k not in ("at", "reason")}
                for _, fields in client.xrange(key)
            ]
        elif kind == "set":  # a key index: the keys without their namespace
            found[name] = sorted(member[len(namespace) :] for member in client.smembers(key))
        else:
            found[name] = client.get(key)
    return found


MAPS = {"mapped": {"label": "'#' + str(id)", "tags": "__NULL__"}}


def run_every_path(
    server: RedisServer, messages: list[dict], **settings: t.Any
) -> dict[str, Captured]:
    """``messages`` on each path, each in a namespace of its own, with MAPS and
    ``settings``."""
    return {
        path: run(path, server.config(namespace=path, stream_maps=MAPS, **settings), messages)
        for path in PATHS
    }


def count_direct_records(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The stream of each line the direct path takes from now on, in order."""
    taken: list[str] = []
    take = DirectRecords.take

    def counting(self: DirectRecords, line: t.Any) -> bool:
        done = take(self, line)
        if done:
            taken.append(json.loads(line)["stream"])
        return done

    monkeypatch.setattr(DirectRecords, "take", counting)
    return taken


@pytest.mark.parametrize("load_method", ["append-only", "upsert"])
def test_mixed_run_is_the_same_on_every_path(
    server: RedisServer, r: redis.Redis, load_method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = count_direct_records(monkeypatch)
    results = run_every_path(
        server,
        mixed_input(),
        load_method=load_method,
        batch_size_rows=4,
        on_invalid_record="dead_letter",
    )
    direct, sdk, plain = results["direct"], results["sdk"], results["plain"]
    assert direct.error is sdk.error is plain.error is None
    assert direct.states == sdk.states == plain.states
    assert direct.states[-1] == '{"bookmarks":{"plain":{"i":"end"}}}'
    # The plain path's validator words its reasons its own way.
    assert direct.warnings == sdk.warnings and len(direct.warnings) == len(plain.warnings)
    assert direct.reader_line == sdk.reader_line == plain.reader_line
    stored = {path: contents(r, path) for path in PATHS}
    assert stored["direct"] == stored["sdk"] == stored["plain"]
    # The direct path took the plain and wide streams' valid records, never a mapped one.
    assert set(taken) == {"plain", "wide"}
    assert taken.count("plain") == 14 and taken.count("wide") == 14
    assert any(w.startswith("WARNING No schema for record field 'extra'") for w in direct.warnings)
    assert any("'at' (format date-time)" in w for w in direct.warnings)
    letters = r.xrange(dead_letter_key("direct", "plain"))
    assert [json.loads(f["line"])["record"] for _, f in letters] == [
        {"id": "three"},
        {"name": "no key"},
    ]


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (record_msg("plain", {"id": "x"}), "InvalidRecord"),
        (record_msg("plain", {"name": "no id"}), "MissingKeyPropertiesError"),
        (record_msg("plain", {"id": 1}, time_extracted="noon"), "time_extracted 'noon'"),
        (record_msg("plain", [1]), "is not a JSON object"),
    ],
)
def test_failures_are_the_same_on_every_path(
    server: RedisServer, r: redis.Redis, bad: dict, expected: str
) -> None:
    messages = mixed_input(invalid=False)
    cut = next(i for i, m in enumerate(messages) if m.get("type") == "STATE") + 1
    messages = [*messages[:cut], bad, *messages[cut:]]
    results = run_every_path(server, messages, batch_size_rows=4)
    errors = {path: str(result.error) for path, result in results.items()}
    assert errors["direct"] == errors["sdk"], errors
    assert errors["plain"].split(":")[0] == errors["direct"].split(":")[0]  # its own wording
    assert expected in errors["direct"]
    assert results["direct"].states == results["sdk"].states == results["plain"].states
    stored = {path: contents(r, path) for path in PATHS}
    assert stored["direct"] == stored["sdk"] == stored["plain"]


def test_max_age_drains_are_the_same_on_every_path(
    server: RedisServer, r: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A zero max age: the SDK drains every sink after each record, on either path.
    monkeypatch.setattr(TargetRedis, "_MAX_RECORD_AGE_IN_MINUTES", 0.0)
    results = run_every_path(server, mixed_input(invalid=False))
    assert results["direct"].states == results["sdk"].states == results["plain"].states
    assert len(results["direct"].states) == 4  # one per STATE message: each came after a drain
    stored = {path: contents(r, path) for path in PATHS}
    assert stored["direct"] == stored["sdk"] == stored["plain"]


def test_search_values_are_the_same_on_every_path(server: RedisServer, r: redis.Redis) -> None:
    """search_index's companion values (dates, tags) and its invalid records ('yesterday'
    is no date an index can use) on the direct, SDK and plain paths."""
    results = run_every_path(
        server,
        mixed_input(),
        load_method="upsert",
        record_format="fields",
        search_index={"create": False},
        batch_size_rows=4,
        on_invalid_record="dead_letter",
    )
    direct, sdk, plain = results["direct"], results["sdk"], results["plain"]
    assert direct.error is sdk.error is plain.error is None
    assert direct.states == sdk.states == plain.states
    assert direct.warnings == sdk.warnings and len(direct.warnings) == len(plain.warnings)
    stored = {path: contents(r, path) for path in PATHS}
    assert stored["direct"] == stored["sdk"] == stored["plain"]
    assert stored["direct"][":plain:1"]["at__epoch_ms"] == "1714557600000"
    assert stored["direct"][":plain:1"]["tags__tags"] == "a,10"
    assert "tags__tags" not in stored["direct"][":mapped:1"]  # the map removed 'tags'
    letters = r.xrange(dead_letter_key("direct", "wide"))
    assert [json.loads(f["line"])["record"].get("at") for _, f in letters] == [None, "yesterday"]
    assert letters[1][1]["reason"] == (
        "Stream 'wide': property 'at' holds 'yesterday', not a date or date-time (search_index)."
    )


def test_record_count_metric_lines_are_the_same_on_every_path(
    server: RedisServer, r: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The direct path counts records as the SDK's counter does (its clock read once
    per record): with a log interval below zero, a metric line after every record."""
    init = metrics.Counter.__init__

    def every_record(self: metrics.Counter, *args: t.Any, **kwargs: t.Any) -> None:
        init(self, *args, **kwargs)
        self.log_interval = -1.0

    monkeypatch.setattr(metrics.Counter, "__init__", every_record)
    found: dict[str, list[tuple[str, int]]] = {}
    for path in ("direct", "sdk"):
        lines: list[tuple[str, int]] = []
        handler = logging.Handler()

        def emit(rec: logging.LogRecord, lines: list = lines) -> None:
            point = json.loads(rec.getMessage().split("METRIC: ", 1)[1])
            if point["metric"] == "record_count":
                lines.append((point["tags"]["stream"], point["value"]))

        handler.emit = emit  # type: ignore[method-assign]
        handler.addFilter(lambda rec: "METRIC: " in rec.getMessage())
        metrics_logger = logging.getLogger("singer_sdk.metrics")
        metrics_logger.addHandler(handler)
        try:
            run(
                path,
                server.config(namespace=path, batch_size_rows=4, stream_maps=MAPS),
                mixed_input(invalid=False),
            )
        finally:
            metrics_logger.removeHandler(handler)
        found[path] = lines
    assert found["direct"] == found["sdk"]
    plain = [value for stream, value in found["direct"] if stream == "plain"]
    assert plain[:14] == [1] * 14  # one line per record, each counting that record


EDGE_RECORDS = [
    # the number-text test's lexemes
    *(f'{{"id": {i}, "x": {text}}}' for i, text in enumerate(FIDELITY_NUMBERS, start=100)),
    '{"id": 1, "name": "dup", "name": "last wins"}',  # a key twice (the dict keeps the last)
    '{"id": 2, "o": {"a": 1, "a": 2}, "x": -0}',  # nested, and an integer -0
    '{"id": 3, "name": "caf\\u00e9 \\"q\\" \\\\ \\ud800 \\/"}',  # escapes, a lone surrogate (*)
    '{"id": 4, "name": "tab\\tline\\n", "x": -0.0}',
    '{"id": 5, "undeclared": {"k": [1, 2.50]}, "x": 1E2}',  # a property without schema
    '{"id":6,"name":"compact","x":0.1}',
    '{ "id" : 7 , "name" : "spaced" , "x" : 1.50 }',
    '{"x": 5e-324, "id": 8, "o": {}}',  # another key order
    '{"id": 9, "name": "\u00e9\u2028\U0001f600 raw"}',
]


def edge_input() -> str:
    """Two streams interleaved line by line: ``plain`` (rows that only re-encode the
    record: its numbers kept as their text) and ``keyed`` (fields by key template: its
    numbers read as Decimals), each line with the edges above, as a tap may write it."""
    props = {
        "id": {"type": "integer"},
        "name": {"type": ["null", "string"]},
        "x": {"type": ["null", "number"]},
        "o": {"type": ["null", "object"]},
    }
    lines = [json.dumps(schema_msg(s, props, ["id"])) for s in ("plain", "keyed")]
    for record in EDGE_RECORDS:
        for stream in ("plain", "keyed"):
            lines.append(
                f'{{"type": "RECORD", "stream": "{stream}", "record": {record}, '
                '"time_extracted": "2024-06-01T00:00:00Z"}'
            )
    lines.append(json.dumps(state_msg({"done": True})))
    return "\n".join(lines) + "\n"


def test_edges_of_tap_text_are_the_same_on_every_path(
    server: RedisServer, r: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Escapes, repeated keys, -0, undeclared properties, every number lexeme and key
    order, with the direct path switching how it reads numbers at every line. (*) The
    plain path is left out: it is the stdlib reader, which keeps a lone surrogate the
    fast reader replaces (the target always runs the fast reader)."""
    taken = count_direct_records(monkeypatch)
    results: dict[str, Captured] = {}
    keyed: dict[str, dict] = {}
    stored: dict[str, dict] = {}
    for path in ("direct", "sdk"):
        r.flushdb()  # the keyed stream's keys are the same in both runs
        config = server.config(
            namespace=path,
            streams={
                "keyed": {
                    "record_format": "fields",
                    "key_template": "k:{id}",
                    "load_method": "upsert",
                }
            },
        )
        results[path] = run(path, config, edge_input())
        keyed[path] = {key: r.hgetall(key) for key in r.scan_iter(match="k:*")}
        # (the key index holds the k:* keys, which contents() reads as namespaced)
        stored[path] = {k: v for k, v in contents(r, path).items() if "-keys:" not in k}
    direct, sdk = results["direct"], results["sdk"]
    assert keyed["direct"] == keyed["sdk"]
    assert keyed["direct"]["k:7"] == {"id": "7", "name": "spaced", "x": "1.50"}
    assert direct.error is sdk.error is None
    assert direct.states == sdk.states == ['{"done":true}']
    assert direct.warnings == sdk.warnings
    assert any("lone surrogate" in w for w in direct.warnings)
    assert stored["direct"] == stored["sdk"]
    # the direct path took every line but the lone surrogate's (msgspec refuses it)
    assert taken.count("plain") == taken.count("keyed") == len(EDGE_RECORDS) - 1
    plain_rows = {
        json.loads(fields["_airbyte_data"])["id"]: fields["_airbyte_data"]
        for key, fields in stored["direct"].items()
        if key.startswith(":plain:") and "_airbyte_data" in fields
    }
    assert plain_rows[1] == '{"id":1,"name":"last wins"}'
    assert plain_rows[2] == '{"id":2,"o":{"a":2},"x":0}'
    assert plain_rows[3] == '{"id":3,"name":"café \\"q\\" \\\\ \ufffd /"}'
    assert plain_rows[5] == '{"id":5,"undeclared":{"k":[1,2.50]},"x":1E2}'
    assert plain_rows[7] == '{"id":7,"name":"spaced","x":1.50}'
    assert plain_rows[8] == '{"x":5e-324,"id":8,"o":{}}'
    for i, text in enumerate(FIDELITY_NUMBERS, start=100):
        assert plain_rows[i] == f'{{"id":{i},"x":{text}}}'
