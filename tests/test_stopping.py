"""Input read a block at a time: the same lines as reading them one by one."""

from __future__ import annotations

import io
import logging

import pytest

from target_redis import stopping
from target_redis.errors import Interrupted
from target_redis.stopping import StopControl


@pytest.mark.parametrize("block", [1, 3, 7, 64, 1 << 20])
def test_blocks_give_the_lines(monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    monkeypatch.setattr(stopping, "_BLOCK_BYTES", block)
    text = b'{"a":1}\n\n' + b"x" * 50 + b'\r\n{"long":"' + b"y" * 200 + b'"}\nlast'
    control = StopControl(logging.getLogger("test"), lambda: None)
    lines = list(control.guard(io.BufferedReader(io.BytesIO(text))))  # type: ignore[arg-type]
    assert lines == text.split(b"\n")


def test_a_signal_stops_between_lines() -> None:
    control = StopControl(logging.getLogger("test"), lambda: None)
    lines = control.guard(io.BufferedReader(io.BytesIO(b"a\nb\nc\n")))  # type: ignore[arg-type]
    assert next(lines) == b"a"
    control.signal = 15
    with pytest.raises(Interrupted):
        next(lines)
