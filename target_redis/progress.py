"""Progress lines per stream: records written and the current rate, at a steady interval."""

from __future__ import annotations

import logging
import time

INTERVAL_SECONDS = 15.0


class Progress:
    """Counts a stream's written records; logs at most every INTERVAL_SECONDS."""

    def __init__(self, stream: str, logger: logging.Logger) -> None:
        """Start counting now."""
        self.stream = stream
        self.logger = logger
        self.written = 0
        self.started = time.monotonic()
        self._last_time = self.started
        self._last_count = 0

    def add(self, count: int) -> None:
        """Count a written batch; log progress when the interval has passed."""
        self.written += count
        now = time.monotonic()
        if now - self._last_time >= INTERVAL_SECONDS:
            rate = (self.written - self._last_count) / (now - self._last_time)
            self.logger.info(
                "Stream '%s': %d records written so far, %.0f records/s.",
                self.stream,
                self.written,
                rate,
            )
            self._last_time, self._last_count = now, self.written

    def summary(self) -> str:
        """``orders: 200000 records in 5.3 s (37736 records/s)``."""
        seconds = max(time.monotonic() - self.started, 1e-9)
        return (
            f"{self.stream}: {self.written} records in {seconds:.1f} s "
            f"({self.written / seconds:.0f} records/s)"
        )
