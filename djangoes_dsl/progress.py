"""Progress lines for long operations: count, percentage, rate and ETA."""

from __future__ import annotations

import time
from typing import Any, TextIO


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Report ``done`` out of ``total`` to ``stream`` at most every ``interval`` seconds."""

    def __init__(
        self, label: str, total: int, stream: TextIO | Any | None = None, interval: float = 2.0
    ) -> None:
        self.label = label
        self.total = total
        self.stream = stream
        self.interval = interval
        self.done = 0
        self.started = time.monotonic()
        self._last = self.started

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def rate(self) -> float:
        elapsed = self.elapsed
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        rate = self.rate
        text = f"{self.label}: {self.done:,}"
        if self.total:
            text += f"/{self.total:,} ({100 * self.done / self.total:.0f}%)"
        text += f", {rate:,.0f} docs/s"
        if self.total and rate and self.done < self.total:
            text += f", ETA {_duration((self.total - self.done) / rate)}"
        elif self.done >= self.total:
            text += f", {_duration(self.elapsed)} elapsed"
        return text

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if self.stream is not None and now - self._last >= self.interval:
            self._last = now
            self.stream.write(self.line())

    def finish(self) -> None:
        if self.stream is not None:
            self.stream.write(self.line())
