"""A small TCP proxy for fault tests: cuts a connection after N bytes, or stalls."""

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
        self.stall_until = 0.0
        self.drops = 0
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
            for src, dst, upward in ((client, server, True), (server, client, False)):
                threading.Thread(target=self._pump, args=(src, dst, upward), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, upward: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                while time.monotonic() < self.stall_until and not self._closing:
                    time.sleep(0.01)
                if self._closing:  # a closed proxy drops what it held, never delivers it late
                    break
                keep = self._cut(len(data)) if upward else None
                if keep is not None:  # forward part of the chunk, then cut mid-command
                    dst.sendall(data[:keep])
                    break
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

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
