"""Progress of long operations: the callback the library calls, and a printer for commands.

The library reports progress by calling ``progress(done, total)`` and never prints; a
management command passes a :class:`Progress`, which writes lines such as
``products: 40,000/100,000 (40%), 8,512 docs/s, ETA 0:00:07`` to its output.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TextIO

#: ``progress(done, total)``: ``done`` rows of ``total`` so far.
ProgressCallback = Callable[[int, int], Any]


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Write ``done`` out of ``total`` to ``stream`` at most every ``interval`` seconds.

    Call it as a progress callback; ``finish()`` writes the last line, unless the line
    written last already said everything was done.
    """

    def __init__(self, label: str, stream: TextIO | Any, interval: float = 2.0) -> None:
        self.label = label
        self.stream = stream
        self.interval = interval
        self.done = 0
        self.total = 0
        self.started = time.monotonic()
        self._last = self.started
        self._finished = False

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

    def __call__(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        now = time.monotonic()
        if now - self._last >= self.interval or (done >= total and not self._finished):
            self._last = now
            self._finished = done >= total
            self.stream.write(self.line())

    def finish(self) -> None:
        if not self._finished:
            self._finished = True
            self.stream.write(self.line())
