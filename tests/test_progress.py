"""Progress lines while loading and a summary at the end."""

from __future__ import annotations

import pytest
from helpers import record_msg, run_target, schema_msg, singer_lines

from devtools.server import RedisServer
from target_redis import progress


def test_progress_and_summary_lines(
    server: RedisServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress, "INTERVAL_SECONDS", 0.0)  # a line after every batch
    text = singer_lines(
        schema_msg("a", {"id": {"type": "integer"}}),
        *[record_msg("a", {"id": i}) for i in range(5)],
        schema_msg("b", {"id": {"type": "integer"}}),
        record_msg("b", {"id": 1}),
    )
    caplog.set_level("INFO")
    run_target(server.config(batch_size_rows=2), text)
    lines = [r.getMessage() for r in caplog.records]
    progress_a = [line for line in lines if line.startswith("Stream 'a': ")]
    assert [line.split(":")[1].split(" records")[0].strip() for line in progress_a] == [
        "2",
        "4",
        "5",
    ]
    assert all("records/s" in line for line in progress_a)
    (summary,) = [line for line in lines if line.startswith("Load complete")]
    assert "a: 5 records in" in summary and "b: 1 records in" in summary


def test_no_progress_line_before_the_interval(
    server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    text = singer_lines(schema_msg("a", {"id": {"type": "integer"}}), record_msg("a", {"id": 1}))
    caplog.set_level("INFO")
    run_target(server.config(), text)
    assert not any("written so far" in r.getMessage() for r in caplog.records)
