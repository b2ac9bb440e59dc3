"""Time as leases and polls see it: the real clock, or one a test moves by hand.

The code that takes, renews and judges leases, and that waits between looks — the rebuild
lock (:class:`~djangoes_dsl.rebuild.RebuildLock`), the range claims of a distributed fill
(:class:`~djangoes_dsl.ranges.Board`, :class:`~djangoes_dsl.distributed.DistributedFill`) and
the outbox's claims and back-off (:mod:`djangoes_dsl.outbox`) — reads the time from a
:class:`Clock`. Each of them has a ``clock`` attribute (the real clock, :data:`SYSTEM`), and the
classes also take ``clock=`` when they are made; a test gives them a :class:`ManualClock` and
moves it past a lease instead of waiting for one::

    clock = ManualClock()
    lock = RebuildLock(client, name, key="products", new_index=new, serving=serving, clock=clock)
    clock.advance(lock.lease + 1)  # the lease has expired, for this lock and whoever reads it

Leases written by other processes (task workers, other hosts) carry their own clock's time: a
manual clock in one process moves only what that process sees.
"""

from __future__ import annotations

import datetime
import threading
import time

__all__ = ["SYSTEM", "Clock", "ManualClock"]


class Clock:
    """The real clock: wall-clock time (leases other processes read), a monotonic clock (how
    long something took here) and ``sleep``."""

    def time(self) -> float:
        """Return the seconds since the epoch (as :func:`time.time`)."""
        return time.time()

    def now(self) -> datetime.datetime:
        """Return :meth:`time` as an aware UTC datetime."""
        return datetime.datetime.fromtimestamp(self.time(), datetime.UTC)

    def monotonic(self) -> float:
        """Return a monotonic count of seconds (as :func:`time.monotonic`)."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        time.sleep(seconds)


#: The real clock, the default of every ``clock`` attribute.
SYSTEM = Clock()


class ManualClock(Clock):
    """A clock that moves only when told to: :meth:`advance` or :meth:`set`.

    It starts at ``start`` (seconds since the epoch; default: the real time now) and its
    monotonic count at 0. ``sleep`` lets the other threads and processes run for ``seconds``
    of real time (what a poll between looks waits for happens elsewhere) without moving this
    clock; with ``advance_on_sleep=True`` it moves the clock ``seconds`` instead, at once.
    """

    def __init__(self, start: float | None = None, *, advance_on_sleep: bool = False) -> None:
        self._lock = threading.Lock()
        self._time = time.time() if start is None else float(start)
        self._monotonic = 0.0
        self.advance_on_sleep = advance_on_sleep

    def time(self) -> float:
        with self._lock:
            return self._time

    def monotonic(self) -> float:
        with self._lock:
            return self._monotonic

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward (never back)."""
        if seconds < 0:
            raise ValueError(f"A clock moves forward only; advance({seconds!r}) would go back.")
        with self._lock:
            self._time += seconds
            self._monotonic += seconds

    def set(self, when: float | datetime.datetime) -> None:
        """Move the clock forward to ``when`` (seconds since the epoch, or an aware datetime);
        a ``when`` already past leaves it where it is."""
        target = when.timestamp() if isinstance(when, datetime.datetime) else float(when)
        self.advance(max(0.0, target - self.time()))

    def sleep(self, seconds: float) -> None:
        if self.advance_on_sleep:
            self.advance(seconds)
        else:
            time.sleep(seconds)
