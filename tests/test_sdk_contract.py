"""What target-redis relies on in singer-sdk, pinned: a change there fails here, loudly.

Every private SDK member lives in target_redis/sdk_seam.py (checked below: no other
module touches one). These tests pin the members the seam overrides and reads, their
signatures, the SDK's per-record steps that the seam mirrors and direct.py follows,
and the metric lines the direct path must produce as the SDK's path does.
"""

from __future__ import annotations

import ast
import inspect
import json
import logging
import pathlib
import textwrap
import typing as t

import fakeredis
import pytest
import simplejson
from singer_sdk import Target, metrics
from singer_sdk.singerlib.encoding import SimpleSingerReader
from singer_sdk.sinks import BatchSink
from test_direct_path import MAPS, PATHS, mixed_input

from target_redis import sdk_seam
from target_redis.target import TargetRedis

PACKAGE = pathlib.Path(sdk_seam.__file__).parent
SDK_CLASSES = {"SeamTarget": Target, "SeamSink": BatchSink, "SeamReader": SimpleSingerReader}

OVERRIDDEN = {
    # Seam class: {private SDK method: its parameters in singer-sdk 0.54}
    "SeamTarget": {
        "_process_schema_message": "(self, message_dict: 'dict') -> 'None'",
        "_process_record_message": "(self, message_dict: 'dict') -> 'None'",
        "_process_state_message": "(self, message_dict: 'dict') -> 'None'",
        "_process_activate_version_message": "(self, message_dict: 'dict') -> 'None'",
        "_process_batch_message": "(self, message_dict: 'dict') -> 'None'",
        "_drain_all": "(self, sink_list: 'Iterable[Sink]', parallelism: 'int') -> 'None'",
        "_write_state_message": "(self, state: 'dict') -> 'None'",
        "_validate_config": "(self, *, raise_errors: 'bool' = True) -> 'list[str]'",
        "_handle_termination": "(self, signum: 'int', frame: 'FrameType | None') -> 'None'",
        "_reset_max_record_age": "(self) -> 'None'",
    },
    "SeamSink": {
        "_remove_sdc_metadata_from_record": "(self, record: 'dict') -> 'None'",
        "_remove_sdc_metadata_from_schema": "(self) -> 'None'",
        "_validate_and_parse": "(self, record: 'dict') -> 'dict'",
        "_singer_validate_message": "(self, record: 'dict') -> 'None'",
        "_after_process_record": "(self, context: 'dict') -> 'None'",
    },
    "SeamReader": {
        "_process_unknown_message": "(self, message_dict: 'dict') -> 'None'",
    },
}
CALLED = {
    # Private SDK methods the seam calls, with their parameters.
    (Target, "_assert_line_requires"): (
        "(self, message_dict: 'dict', requires: 'set[str]') -> 'None'"
    ),
    (Target, "_assert_sink_exists"): "(self, stream_name: 'str') -> 'None'",
    (Target, "_handle_max_record_age"): "(self) -> 'None'",
    (BatchSink, "_get_context"): "(self, record: 'dict') -> 'dict'",
    (BatchSink, "_add_sdc_metadata_to_record"): (
        "(self, record: 'dict', message: 'dict', context: 'dict') -> 'None'"
    ),
    (BatchSink, "_parse_timestamps_in_record"): (
        "(self, record: 'dict', schema: 'dict', treatment: 'DatetimeErrorTreatmentEnum') -> 'None'"
    ),
}
ATTRIBUTES = {
    # Private SDK attributes the seam reads or writes, on live objects.
    "target": ("_config", "_sinks_active", "_sinks_to_clear", "_last_full_drain_at"),
    "sink": (
        *("_pending_batch", "_batch_records_read", "_total_records_read", "_validator"),
        "_warned_missing_fields",
    ),
    "reader": ("_current_message",),
    "class": ("_MAX_RECORD_AGE_IN_MINUTES",),
}


def _seam_classes() -> dict[str, ast.ClassDef]:
    tree = ast.parse(pathlib.Path(sdk_seam.__file__).read_text())
    return {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}


def test_every_private_override_is_pinned_and_still_in_the_sdk() -> None:
    for name, node in _seam_classes().items():
        if name not in SDK_CLASSES:
            continue
        overridden = {
            f.name
            for f in node.body
            if isinstance(f, ast.FunctionDef) and f.name.startswith("_") and f.name[1] != "_"
        }
        assert overridden == set(OVERRIDDEN[name]), name
        for method, pinned in OVERRIDDEN[name].items():
            sdk_method = getattr(SDK_CLASSES[name], method, None)
            assert sdk_method is not None, f"singer-sdk no longer has {name}.{method}"
            assert str(inspect.signature(sdk_method)) == pinned, f"{name}.{method}"


def test_private_methods_called_keep_their_signatures() -> None:
    for (cls, method), pinned in CALLED.items():
        found = getattr(cls, method, None)
        assert found is not None, f"singer-sdk no longer has {cls.__name__}.{method}"
        assert str(inspect.signature(found)) == pinned, f"{cls.__name__}.{method}"


def _calls_in_order(function: t.Callable[..., t.Any]) -> tuple[str, ...]:
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    calls = [
        node for node in ast.walk(tree) if isinstance(node, ast.Call) and hasattr(node, "lineno")
    ]
    calls.sort(key=lambda node: (node.lineno, node.col_offset))
    names = []
    for call in calls:
        func = call.func
        if isinstance(func, ast.Attribute):
            names.append(func.attr)
    return tuple(names)


def test_the_sdk_record_steps_are_those_the_seam_mirrors() -> None:
    """A new step in the SDK's record path (or a reordering) fails here: the seam's
    mirror and direct.py must then follow it."""
    assert _calls_in_order(Target._process_record_message) == sdk_seam.RECORD_STEPS


def test_the_seam_mirror_calls_the_same_steps() -> None:
    mirrored = _calls_in_order(sdk_seam.SeamTarget.sdk_record)
    ours = {"get", "RecordSource", "cast", "take_record", "log_full"}
    expected = [s for s in sdk_seam.RECORD_STEPS if s not in ("process_record", "info")]
    got = [s for s in mirrored if s not in ours]
    assert got == expected


def test_private_attributes_exist_on_live_objects() -> None:
    client = fakeredis.FakeRedis(decode_responses=True)
    target = TargetRedis(config={}, client=client, emit_state=lambda _: None)
    try:
        schema = {"properties": {"id": {"type": "integer"}}}
        target.process_lines(
            iter(
                [
                    json.dumps({"type": "SCHEMA", "stream": "s", "schema": schema}) + "\n",
                    json.dumps({"type": "RECORD", "stream": "s", "record": {"id": 1}}) + "\n",
                ]
            )
        )
        sink = target.active_sink("s")
        objects = {
            "target": target,
            "sink": sink,
            "reader": target.message_reader,
            "class": TargetRedis,
        }
        for kind, names in ATTRIBUTES.items():
            for name in names:
                assert hasattr(objects[kind], name), f"singer-sdk {kind} has no {name}"
    finally:
        target.close()


def test_no_other_module_touches_a_private_sdk_member() -> None:
    private = {
        name
        for cls in (Target, BatchSink, SimpleSingerReader)
        for name in dir(cls)
        if name.startswith("_") and not name.startswith("__")
    } | {name for names in ATTRIBUTES.values() for name in names}
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name == "sdk_seam.py":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("singer_sdk"):
                assert "._" not in str(node.module), f"{path.name}: from {node.module}"
                assert not any(a.name.startswith("_") for a in node.names), path.name
            if isinstance(node, ast.FunctionDef):
                assert node.name not in private, f"{path.name} overrides {node.name}"
            if isinstance(node, ast.Attribute) and node.attr in private:
                raise AssertionError(f"{path.name}:{node.lineno} touches {node.attr}")


def _metric_lines(path: str, config: dict, caplog: pytest.LogCaptureFixture) -> list[dict]:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="singer_sdk.metrics"):
        client = fakeredis.FakeRedis(decode_responses=True)
        target = PATHS[path](config=dict(config), client=client, emit_state=lambda _: None)
        text = "".join(simplejson.dumps(m, use_decimal=True) + "\n" for m in mixed_input())
        try:
            target.process_lines(iter(text.splitlines(keepends=True)))
            target.process_endofpipe()
        finally:
            target.close()
    found = []
    for record in caplog.records:
        if record.name == "singer_sdk.metrics" and record.getMessage().startswith("METRIC: "):
            metric = json.loads(record.getMessage()[len("METRIC: ") :])
            if metric["type"] == "counter":
                metric["tags"].pop("pid", None)
                found.append(metric)
    return found


def test_the_direct_path_logs_the_sdk_paths_metric_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = {"batch_size_rows": 4, "stream_maps": MAPS, "on_invalid_record": "skip"}
    direct = _metric_lines("direct", config, caplog)
    sdk = _metric_lines("sdk", config, caplog)
    assert direct == sdk
    totals: dict[str, int] = {}
    for metric in direct:
        stream = metric["tags"]["stream"]
        totals[stream] = totals.get(stream, 0) + metric["value"]
    # The valid records; one set aside (on_invalid_record) is not counted, as in the SDK.
    assert totals == {"plain": 14, "mapped": 14, "wide": 14}


def _body(function: t.Callable[..., t.Any]) -> str:
    """A function's statements without its docstring, as ``ast.unparse`` writes them."""
    node = ast.parse(textwrap.dedent(inspect.getsource(function))).body[0]
    assert isinstance(node, ast.FunctionDef)
    statements = node.body
    if statements and isinstance(statements[0], ast.Expr):
        statements = statements[1:]  # the docstring
    return "\n".join(ast.unparse(statement) for statement in statements)


def test_the_bookkeeping_the_direct_path_repeats_is_the_sdks() -> None:
    """The direct path does these per record without calling them (sdk_seam.count_read,
    direct.py's metric and max-age checks): a change in the SDK fails here."""
    assert _body(BatchSink.tally_record_read) == (
        "self._total_records_read += count\nself._batch_records_read += count"
    )
    assert _body(metrics.Counter.increment) == (
        "self.value += value\nif self._ready_to_log():\n    self._pop()"
    )
    assert _body(metrics.Counter._ready_to_log) == (
        "return time() - self.last_log_time > self.log_interval"
    )
    assert _body(Target._handle_max_record_age).startswith(
        "if self._max_record_age_in_minutes > self._MAX_RECORD_AGE_IN_MINUTES:"
    )
    assert _body(t.cast("t.Any", Target._max_record_age_in_minutes).fget) == (
        "return (time.time() - self._last_full_drain_at) / 60"
    )
    assert _body(Target._reset_max_record_age) == "self._last_full_drain_at = time.time()"
