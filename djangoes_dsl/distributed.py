"""Distributed fills: a rebuild's (or populate's) primary-key ranges as tasks on your engine.

The coordinator — ``search_index rebuild --distributed`` (or :class:`DistributedRebuild`,
:func:`populate_distributed`) — splits every Document's rows into primary-key ranges, writes
one *range document* per range into the rebuild's journal index (the lock of the rebuild,
see :mod:`djangoes_dsl.rebuild.lock`), and enqueues one task per range on the task engine of
``DJANGOES_DELIVERY`` (django.tasks or Celery). Any number of workers, on any number of
hosts, run them: a worker *claims* its range (a conditional write of the range document:
``if_seq_no``/``if_primary_term``, so exactly one worker wins it), fills it page by page,
renews the claim's lease as it goes (a heartbeat that also reports the rows read), and marks
the range done, or failed with the error.

The coordinator watches the range documents, reports progress from them, and:

- re-queues a range whose lease expired (its worker was killed, its host lost), and one
  that stayed queued while no worker took or advanced any range for a lease (its task was
  lost with a broker; while workers are busy with other ranges, queued ones are waiting);
- re-queues a failed range after a back-off, up to ``DJANGOES_REBUILD_RANGE_ATTEMPTS``
  attempts, then fails the rebuild;
- once every range is done, hands over to the rebuild's own steps: journal replay, alias
  swap, catch-up, clean-up.

The state lives in Elasticsearch, so it works the same on every engine and needs nothing of
the engine but "run this task somewhere". A rebuild that fails or is cancelled (Ctrl-C)
deletes the new index and the journal — range documents included — and the old index keeps
serving; workers still filling a range of it stop at their next page: their writes go
through an alias of the new index with ``require_alias`` (gone with it, so nothing can
re-create the index) and their heartbeat finds no range document.
"""

from __future__ import annotations

import datetime
import logging
import math
import uuid
from collections.abc import Callable
from typing import Any

from elasticsearch import ApiError, NotFoundError, TransportError

from . import delivery
from .clock import SYSTEM, Clock
from .documents import Document
from .progress import ProgressCallback
from .ranges import (
    DEFAULT_RANGE_ROWS,
    DONE,
    FAILED,
    QUEUED,
    RUNNING,
    UNREADABLE_LIMIT,
    Board,
    Range,
    RangeLost,
    range_attempts,
    range_lease,
    run_range,
)
from .rebuild import FillResult, Rebuild, RebuildError, RebuildLock, split_ranges
from .rebuild.filling import populate_target
from .rebuild.pages import count_rows
from .registry import document_label, registry

logger = logging.getLogger("djangoes_dsl.rebuild")

__all__ = [
    "DEFAULT_RANGE_ROWS",
    "Board",
    "DistributedFill",
    "DistributedRebuild",
    "Range",
    "RangeLost",
    "populate_distributed",
    "run_range",
]


# -- in the coordinator ------------------------------------------------------------------------


class DistributedFill:
    """Fill ``target`` from the rows of ``documents`` by range tasks; wait until done.

    ``name`` is the index whose rebuild lock the caller holds (the range documents live in
    its journal); ``renew`` is called as the fill goes on (the lock's lease); ``progress(read,
    total)`` after every look at the ranges. Leases are judged, and the looks spaced, by
    ``clock`` (default: the class's ``clock``, the real one; see :mod:`djangoes_dsl.clock`).
    """

    #: Seconds between two looks at the ranges.
    poll_interval = 0.5
    #: The clock of leases and looks, unless one is given.
    clock: Clock = SYSTEM

    def __init__(
        self,
        client: Any,
        using: str,
        name: str,
        documents: list[type[Document]],
        target: str,
        *,
        require_alias: bool,
        chunk_size: int | None = None,
        ranges: int | None = None,
        engine: str | None = None,
        progress: ProgressCallback | None = None,
        renew: Callable[[], Any] | None = None,
        clock: Clock | None = None,
    ) -> None:
        if clock is not None:
            self.clock = clock
        self.client = client
        self.using = using
        self.name = name
        self.token = uuid.uuid4().hex
        self.board = Board(client, name, self.token, self.clock)
        self.documents = documents
        self.target = target
        self.require_alias = require_alias
        self.chunk_size = chunk_size or min(document.get_chunk_size() for document in documents)
        self.ranges = ranges
        self.engine = engine or delivery.mode()
        self.progress = progress
        self.renew = renew
        self.lease = range_lease()
        self.attempts = range_attempts()
        #: How many times ranges were re-queued, and why (lost, failed).
        self.retries: list[str] = []
        #: When the ranges last changed (a worker took, advanced or settled one).
        self.active_at = self.clock.time()
        self._seen: list[tuple[str, int, int, float]] = []

    def plan(self) -> tuple[list[Range], int]:
        total = count_rows(self.documents)
        parts = self.ranges or max(1, math.ceil(total / DEFAULT_RANGE_ROWS))
        planned: list[Range] = []
        for document in self.documents:
            model = document.get_model()
            assert model is not None
            for after, upto in split_ranges(document, parts):
                planned.append(
                    Range(
                        number=len(planned),
                        token=self.token,
                        document=document_label(document),
                        after=_jsonable(after),
                        upto=_jsonable(upto),
                        target=self.target,
                        require_alias=self.require_alias,
                        chunk_size=self.chunk_size,
                    )
                )
        return planned, total

    def enqueue(self, entry: Range) -> None:
        delivery.submit(
            "fill_range", self.using, self.name, entry.number, self.token, engine=self.engine
        )

    def run(self) -> FillResult:
        if self.engine == delivery.INLINE:
            raise RebuildError(
                "A distributed fill needs a task engine, and DJANGOES_DELIVERY is 'inline'. "
                "Set it to 'django_tasks' or 'celery' (and run its workers)."
            )
        started = self.clock.monotonic()
        planned, total = self.plan()
        now = self.clock.time()
        for entry in planned:
            entry.enqueued = now
        self.board.put(planned)
        for entry in planned:
            self.enqueue(entry)
        unreadable_since: float | None = None
        while True:
            try:
                current = self.board.all(len(planned))
            except (ApiError, TransportError) as exc:
                # The journal's shard may be on a node that is restarting: wait for it, as
                # the workers do, but not for ever.
                if isinstance(exc, NotFoundError):
                    raise RangeLost(
                        f"The journal '{self.board.index}' is gone: the rebuild was cancelled "
                        f"or cleaned up by another one."
                    ) from exc
                unreadable_since = unreadable_since or self.clock.monotonic()
                if self.clock.monotonic() - unreadable_since > UNREADABLE_LIMIT:
                    raise RebuildError(
                        f"The ranges in '{self.board.index}' could not be read for "
                        f"{UNREADABLE_LIMIT:.0f}s ({exc}); the rebuild stops."
                    ) from exc
                logger.warning("Could not read the ranges (%s); trying again.", exc)
                if self.renew is not None:
                    self.renew()
                self.clock.sleep(self.poll_interval)
                continue
            unreadable_since = None
            if self.progress is not None:
                read = sum(r.indexed if r.state == DONE else r.read for r, *_ in current)
                self.progress(min(read, total) if total else read, total)
            if all(entry.state == DONE for entry, *_ in current):
                result = FillResult(indexed=sum(entry.indexed for entry, *_ in current))
                result.seconds = self.clock.monotonic() - started
                return result
            seen = [(e.state, e.read, e.attempts, e.lease_until) for e, *_ in current]
            if seen != self._seen:
                self._seen, self.active_at = seen, self.clock.time()
            for entry, seq_no, term in current:
                self._look_after(entry, seq_no, term)
            if self.renew is not None:
                self.renew()
            self.clock.sleep(self.poll_interval)

    def _look_after(self, entry: Range, seq_no: int, term: int) -> None:
        """Re-queue ``entry`` if its worker is lost, its task lost, or it failed."""
        now = self.clock.time()
        if entry.state == RUNNING and entry.lease_until < now:
            why = f"its worker {entry.owner} stopped renewing its lease (lost)"
        elif entry.state == QUEUED and now - max(entry.enqueued, self.active_at) > self.lease:
            why = "no worker took it or any other range within a lease (its task was lost)"
        elif entry.state == FAILED:
            if entry.attempts >= self.attempts:
                raise RebuildError(
                    f"{entry.describe()} failed {entry.attempts} times (DJANGOES_REBUILD_RANGE_"
                    f"ATTEMPTS); the last error: {entry.error}"
                )
            if entry.not_before == 0.0:  # wait a back-off before it runs again
                entry.not_before = now + min(60.0, 2.0**entry.attempts)
                self.board.write(entry, seq_no, term)
                return
            if entry.not_before > now:
                return
            why = f"it failed: {entry.error}"
        else:
            return
        if entry.state == RUNNING and entry.attempts >= self.attempts:
            raise RebuildError(
                f"{entry.describe()} was lost {entry.attempts} times (DJANGOES_REBUILD_RANGE_"
                f"ATTEMPTS): its workers stop renewing their lease. Look at the workers' logs."
            )
        entry.state, entry.owner, entry.lease_until, entry.enqueued = QUEUED, "", 0.0, now
        entry.not_before = 0.0
        if self.board.write(entry, seq_no, term) is not None:
            self.retries.append(f"{entry.describe()}: {why}")
            logger.warning("Re-queued %s: %s.", entry.describe(), why)
            self.enqueue(entry)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (int, float, str)):
        return value
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return str(value)


class DistributedRebuild(Rebuild):
    """A zero-downtime rebuild whose fill runs as range tasks on the task engine.

    As :class:`~djangoes_dsl.rebuild.Rebuild`, with ``ranges`` (the primary-key ranges per
    Document; default one per ``DEFAULT_RANGE_ROWS`` rows) and ``engine`` (default:
    ``DJANGOES_DELIVERY``). The coordinator — this object — takes the lock, creates the new
    index, writes and enqueues the ranges, waits for them (re-queuing lost and failed ones),
    then replays the journal, swaps and cleans up as a rebuild does.
    """

    def __init__(
        self,
        key: str,
        using: str | None = None,
        *,
        ranges: int | None = None,
        engine: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(key, using, **kwargs)
        self.ranges = ranges
        self.engine = engine
        self.fill_alias = f"{self.new_index}-filling"
        self.distributed: DistributedFill | None = None

    def fill(self) -> FillResult:
        """Fill the new index by range tasks; return once every range is done."""
        # The workers write through an alias that goes with the index: once a cancelled
        # rebuild deleted it, their writes fail instead of re-creating it.
        self.client.indices.put_alias(index=self.new_index, name=self.fill_alias)
        self.distributed = DistributedFill(
            self.client,
            self.using,
            self.name,
            self.documents,
            self.fill_alias,
            require_alias=True,
            chunk_size=self.chunk_size,
            ranges=self.ranges,
            engine=self.engine,
            progress=self.progress,
            renew=self.lock.renew,
            clock=self.clock,
        )
        self.result = self.distributed.run()
        self.client.indices.delete_alias(index=self.new_index, name=self.fill_alias)
        self.filled = True
        return self.result


def populate_distributed(
    key: str,
    using: str | None = None,
    *,
    documents: list[type[Document]] | None = None,
    chunk_size: int | None = None,
    ranges: int | None = None,
    engine: str | None = None,
    progress: ProgressCallback | None = None,
) -> FillResult:
    """Index every row of the index's Documents into it as it is, by range tasks.

    Holds the rebuild lock meanwhile (no rebuild of the index runs at the same time); its
    journal holds the range documents.
    """
    using, backend, name = populate_target(key, using)
    lock = RebuildLock(
        backend.client, name, key=key, new_index="", serving=lambda: backend.concrete_indices(name)
    )
    lock.acquire()
    try:
        result = DistributedFill(
            backend.client,
            using,
            name,
            documents if documents is not None else registry.documents_for_index(key),
            name,
            require_alias=False,
            chunk_size=chunk_size,
            ranges=ranges,
            engine=engine,
            progress=progress,
            renew=lock.renew,
        ).run()
    finally:
        lock.release()
    backend.refresh(index=name)
    return result
