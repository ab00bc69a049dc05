"""A TCP proxy that delays every chunk of bytes by a fixed time, each way: a Redis
across a network, for the benchmark's remote cases (TLS, if any, passes through)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import typing as t

from devtools.server import free_port


class LatencyProxy:
    """Forwards 127.0.0.1:<port> to ``upstream_port``, each chunk ``delay`` seconds
    late in each direction (order kept; a chunk does not wait for the one before it
    to be delivered, as on a network with bandwidth to spare)."""

    def __init__(self, upstream_port: int, delay: float = 0.001) -> None:
        """Start listening in a thread of its own."""
        self.upstream_port = upstream_port
        self.delay = delay
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", self.port)
        )
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        with contextlib.suppress(asyncio.CancelledError):  # the proxy is closing
            await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))
        for each in (writer, up_writer):
            each.close()

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    break
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                sink.write(data)
                await sink.drain()
            with contextlib.suppress(OSError):
                sink.close()

        delivery = asyncio.ensure_future(deliver())
        with contextlib.suppress(OSError):
            while data := await source.read(1 << 16):
                queue.put_nowait((loop.time() + self.delay, data))
        queue.put_nowait((0.0, b""))
        with contextlib.suppress(OSError):
            await delivery

    def close(self) -> None:
        """Stop the proxy (open connections are dropped)."""
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._thread.join(5)
        self._loop.close()

    async def _shutdown(self) -> None:
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        asyncio.get_running_loop().call_soon(self._loop.stop)

    def __enter__(self) -> LatencyProxy:
        """The proxy, running."""
        return self

    def __exit__(self, *exc: t.Any) -> None:
        """Stop it."""
        self.close()
