"""A small TCP proxy for fault tests: cuts a connection after N bytes (the request is
lost), or once the server has answered them (the reply is lost), or stalls."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from devtools.server import free_port


class FaultyProxy:
    """Forwards 127.0.0.1:<port> to an upstream server; faults are armed by tests."""

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        """Listen on a free port and forward every connection."""
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self.drop_after: int | None = None
        """Cut the next connection that sends this many more bytes to the server."""
        self._lose_on: tuple[bytes, int] | None = None
        self._cut_on: tuple[bytes, int] | None = None
        self.stall_until = 0.0
        self.stall_replies_until = 0.0
        self.drops = 0
        self.replies = 0
        """Chunks of replies forwarded to the client."""
        self._lock = threading.Lock()
        self._sent_since_armed = 0
        self._closing = False
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def arm_drop(self, after_bytes: int) -> None:
        """Cut the connection carrying the ``after_bytes``-th byte from now (once)."""
        with self._lock:
            self._sent_since_armed = 0
            self.drop_after = after_bytes

    def arm_lost_request(self, match: bytes, nth: int = 1) -> None:
        """Cut the connection in the middle of the ``nth`` request holding ``match``:
        Redis gets the part before ``match`` (once)."""
        with self._lock:
            self._cut_on = (match, nth)

    def arm_lost_reply(self, match: bytes, nth: int = 1) -> None:
        """Forward the ``nth`` request holding ``match`` whole, let the server apply it,
        then cut the connection before any reply gets back (once)."""
        with self._lock:
            self._lose_on = (match, nth)

    def stall_replies(self, seconds: float) -> None:
        """Forward requests but hold every reply for ``seconds``."""
        self.stall_replies_until = time.monotonic() + seconds

    def stall(self, seconds: float) -> None:
        """Hold every byte, both ways, for ``seconds``."""
        self.stall_until = time.monotonic() + seconds

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            pair: dict[str, bool] = {"lose_replies": False}
            for src, dst, upward in ((client, server, True), (server, client, False)):
                args = (src, dst, upward, pair)
                threading.Thread(target=self._pump, args=args, daemon=True).start()

    def _pump(
        self, src: socket.socket, dst: socket.socket, upward: bool, pair: dict[str, bool]
    ) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                while not self._closing and time.monotonic() < max(
                    self.stall_until, 0.0 if upward else self.stall_replies_until
                ):
                    time.sleep(0.01)
                if self._closing:  # a closed proxy drops what it held, never delivers it late
                    break
                if not upward and pair["lose_replies"]:
                    self._swallow(src)  # the server answered: lose it, then cut
                    break
                if upward and self._losing_reply(data):
                    pair["lose_replies"] = True
                keep = self._cut(len(data)) if upward else None
                if upward and keep is None:
                    keep = self._cut_at(data)
                if keep is not None:  # forward part of the chunk, then cut mid-command
                    dst.sendall(data[:keep])
                    break
                dst.sendall(data)
                if not upward:
                    self.replies += 1
        except OSError:
            pass
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _losing_reply(self, data: bytes) -> bool:
        with self._lock:
            if self._lose_on is None or self._lose_on[0] not in data:
                return False
            match, nth = self._lose_on
            self._lose_on = (match, nth - 1) if nth > 1 else None
            if nth == 1:
                self.drops += 1
            return nth == 1

    def _cut_at(self, data: bytes) -> int | None:
        with self._lock:
            if self._cut_on is None or self._cut_on[0] not in data:
                return None
            match, nth = self._cut_on
            self._cut_on = (match, nth - 1) if nth > 1 else None
            if nth > 1:
                return None
            self.drops += 1
            return data.index(match)

    @staticmethod
    def _swallow(src: socket.socket) -> None:
        """Read and drop replies until the server has been quiet for 0.3 s."""
        src.settimeout(0.3)
        with contextlib.suppress(OSError):
            while src.recv(65536):
                pass

    def _cut(self, size: int) -> int | None:
        """Bytes of this chunk to forward before cutting, or None to forward it all."""
        with self._lock:
            if self.drop_after is None:
                return None
            before = self._sent_since_armed
            self._sent_since_armed += size
            if self._sent_since_armed < self.drop_after:
                return None
            keep = self.drop_after - before
            self.drop_after = None
            self.drops += 1
            return keep

    def close(self) -> None:
        """Stop accepting and drop what is held; open connections end when their peers
        close."""
        self._closing = True
        self._listener.close()
