"""Run the target CLI as a live process: paced input, states read as they appear."""

from __future__ import annotations

import array
import contextlib
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import termios
import threading
import time
import typing as t
from pathlib import Path

from helpers import record_msg, schema_msg, state_msg

PROPS = {"id": {"type": "integer"}, "v": {"type": "string"}}


def stream_lines(
    ids: t.Iterable[int], stream: str = "s", state_every: int = 50, tag: str = "v"
) -> list[str]:
    """SCHEMA, one RECORD per id ({"id": i, "v": "<tag><i>"}), a STATE {"s": i} every
    ``state_every`` records and after the last."""
    out = [json.dumps(schema_msg(stream, PROPS, ["id"]))]
    ids = list(ids)
    for n, i in enumerate(ids, start=1):
        out.append(json.dumps(record_msg(stream, {"id": i, "v": f"{tag}{i}"})))
        if n % state_every == 0 or n == len(ids):
            out.append(json.dumps(state_msg({stream: i})))
    return [line + "\n" for line in out]


class LiveRun:
    """``python -m target_redis`` fed ``lines`` in chunks with a pause between them."""

    def __init__(
        self,
        config: dict,
        lines: list[str],
        *,
        chunk: int = 50,
        pause: float = 0.0,
        hold_after: int | None = None,
    ) -> None:
        """Start the process, the feeder and the stdout reader; with ``hold_after``,
        feeding stops after that many lines until resume_input()."""
        fd, self._config_path = tempfile.mkstemp(suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(config, f)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TARGET_REDIS_")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "target_redis", "--config", self._config_path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.states: list[dict] = []
        self.fed = 0
        self._lines, self._chunk, self._pause = lines, chunk, pause
        self._hold = threading.Event()
        self._hold_after = hold_after
        self._log: list[str] = []
        self._threads = [
            threading.Thread(target=self._feed, daemon=True),
            threading.Thread(target=self._read, daemon=True),
            threading.Thread(target=self._read_log, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def hold_input(self) -> None:
        """Stop feeding (the target waits on stdin) until resume_input()."""
        self._hold.set()

    def resume_input(self) -> None:
        self._hold.clear()

    def _feed(self) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        try:
            for start in range(0, len(self._lines), self._chunk):
                if self._hold_after is not None and start >= self._hold_after:
                    self._hold.set()
                    self._hold_after = None
                while self._hold.is_set():
                    time.sleep(0.01)
                stdin.write("".join(self._lines[start : start + self._chunk]))
                stdin.flush()
                self.fed = start + self._chunk
                time.sleep(self._pause)
            stdin.close()
        except (BrokenPipeError, ValueError, OSError):
            pass

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.strip():
                self.states.append(json.loads(line))

    def wait_until_reading(self, timeout: float = 30) -> None:
        """Block until the target has consumed every line fed so far and waits in a
        read of its stdin (no fixed sleep: on a loaded machine that takes what it takes).
        Linux: the pipe's unread bytes (FIONREAD) and the main thread's syscall."""
        deadline = time.monotonic() + timeout
        assert self.process.stdin is not None
        while True:
            unread = array.array("i", [0])
            with contextlib.suppress(OSError):
                fcntl.ioctl(self.process.stdin.fileno(), termios.FIONREAD, unread)
            try:
                call = Path(f"/proc/{self.process.pid}/syscall").read_text().split()
            except OSError:
                call = []
            if self._hold.is_set() and unread[0] == 0 and call[:2] == ["0", "0x0"]:
                return  # read(0, ...) with nothing left in the pipe
            if time.monotonic() > deadline or self.process.poll() is not None:
                msg = f"the target is not waiting on its input; stderr: {self.stderr_now()}"
                raise AssertionError(msg)
            time.sleep(0.01)

    def wait_for_states(self, count: int, timeout: float = 30) -> None:
        """Block until ``count`` STATE lines were printed."""
        deadline = time.monotonic() + timeout
        while len(self.states) < count:
            if time.monotonic() > deadline or self.process.poll() is not None:
                msg = f"only {len(self.states)} states; stderr: {self.stderr_now()}"
                raise AssertionError(msg)
            time.sleep(0.01)

    def _read_log(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._log.append(line)

    def wait_for_log(self, text: str, timeout: float = 30) -> None:
        """Block until a line of the target's log holds ``text``."""
        deadline = time.monotonic() + timeout
        while not any(text in line for line in list(self._log)):
            if time.monotonic() > deadline or self.process.poll() is not None:
                msg = f"no log line with {text!r}; stderr: {self.stderr_now()}"
                raise AssertionError(msg)
            time.sleep(0.01)

    def stderr_now(self) -> str:
        return "".join(self._log)

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        """Wait for the exit; return (exit code, stderr)."""
        try:
            self.process.wait(timeout=timeout)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(self._config_path)
        self._threads[1].join(timeout=5)
        self._threads[2].join(timeout=5)
        stderr = self.stderr_now()
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):  # stdin: the process may be gone
                    pipe.close()
        return self.process.returncode, stderr
