"""The range documents of a distributed fill, and the task that fills one range.

A distributed fill (see :mod:`djangoes_dsl.distributed`, the coordinator) writes one range
document per primary-key range into the rebuild's journal index (the *board*); a worker that
runs :func:`run_range` claims its range with a conditional write (``if_seq_no`` /
``if_primary_term``: exactly one worker wins it), fills it page by page, renews the claim's
lease as it goes (a heartbeat that also reports the rows read), and marks the range done, or
failed with the error. This module is what the workers need; it knows nothing of how ranges
are enqueued.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from typing import Any

from elasticsearch import ConflictError, NotFoundError

import djangoes

from . import conf
from .clock import SYSTEM, Clock
from .journal import Journal
from .rebuild import FillResult, RebuildError
from .rebuild.pages import Page, iter_pages
from .registry import registry
from .sender import Sender

logger = logging.getLogger("djangoes_dsl.rebuild")

__all__ = [
    "DEFAULT_RANGE_ROWS",
    "Board",
    "Range",
    "RangeLost",
    "run_range",
]

#: Rows per range when the number of ranges is not given.
DEFAULT_RANGE_ROWS = 20_000
#: The key of a range document's fields in its ``_source`` (the journal's replay reads only
#: entries with a ``document`` and a ``pk``, so it passes over range documents).
RANGE_KEY = "djangoes_range"
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
#: How long the coordinator waits for an unreadable journal (a node restarting) before it
#: gives up.
UNREADABLE_LIMIT = 300.0


def range_lease() -> float:
    """Return ``DJANGOES_REBUILD_RANGE_LEASE``: seconds a worker's claim on a range lasts."""
    return float(conf.get("DJANGOES_REBUILD_RANGE_LEASE"))


def range_attempts() -> int:
    """Return ``DJANGOES_REBUILD_RANGE_ATTEMPTS``: attempts per range before a rebuild fails."""
    return int(conf.get("DJANGOES_REBUILD_RANGE_ATTEMPTS"))


def _heartbeat(lease: float) -> float:
    # Often enough for progress lines, and four times per lease at least.
    return min(lease / 4, 2.0)


class RangeLost(RebuildError):
    """This worker no longer holds its range (the rebuild ended, or the lease expired)."""


@dataclass
class Range:
    """One primary-key range of one Document: ``after < pk <= upto``, ``None`` unbounded."""

    number: int
    token: str
    document: str
    after: Any
    upto: Any
    target: str
    require_alias: bool
    chunk_size: int
    state: str = QUEUED
    owner: str = ""
    lease_until: float = 0.0
    attempts: int = 0
    read: int = 0
    indexed: int = 0
    error: str = ""
    not_before: float = 0.0
    enqueued: float = 0.0

    @classmethod
    def from_source(cls, source: dict[str, Any]) -> Range:
        values = source.get(RANGE_KEY) or {}
        known = {f.name for f in fields(cls)}
        return cls(**{name: value for name, value in values.items() if name in known})

    def source(self) -> dict[str, Any]:
        return {RANGE_KEY: asdict(self)}

    def describe(self) -> str:
        if self.after is None and self.upto is None:
            bounds = "every pk"
        elif self.after is None:
            bounds = f"pk <= {self.upto}"
        elif self.upto is None:
            bounds = f"pk > {self.after}"
        else:
            bounds = f"{self.after} < pk <= {self.upto}"
        return f"range {self.number} of {self.document.rsplit('.', 1)[-1]} ({bounds})"


class Board:
    """The range documents of a distributed fill ``token``, in the journal of the index
    ``name`` (see :mod:`djangoes_dsl.journal`).

    Ids carry the fill's token, so a worker of an older fill never touches a newer one's
    ranges; writes go through the journal's marker alias with ``require_alias``, so a worker
    that outlived its rebuild cannot re-create the journal. Claims and their leases are
    measured by ``clock`` (default: the class's ``clock``, the real one; see
    :mod:`djangoes_dsl.clock`).
    """

    #: The clock of claims and heartbeats, unless one is given.
    clock: Clock = SYSTEM

    def __init__(self, client: Any, name: str, token: str, clock: Clock | None = None) -> None:
        if clock is not None:
            self.clock = clock
        self.client = client
        self.journal = Journal(client, name)
        self.index = self.journal.index
        self.token = token

    def doc_id(self, number: int) -> str:
        return f"range:{self.token}:{number}"

    def put(self, ranges: list[Range]) -> None:
        """Write the range documents of a new fill."""
        operations: list[dict[str, Any]] = []
        for entry in ranges:
            operations.append({"index": {"_index": self.index, "_id": self.doc_id(entry.number)}})
            operations.append(entry.source())
        response = self.client.bulk(operations=operations, refresh=False)
        if response.get("errors"):
            failed = [item for item in response["items"] if item["index"].get("error")]
            raise RebuildError(
                f"Could not write the ranges of the fill into '{self.index}': "
                f"{failed[0]['index']['error']}"
            )

    def get(self, number: int) -> tuple[Range, int, int] | None:
        """Return the range ``number`` with its ``_seq_no`` and ``_primary_term``, or None."""
        found = self.client.options(ignore_status=404).get(index=self.index, id=self.doc_id(number))
        if not found.body.get("found"):
            return None
        return Range.from_source(found["_source"]), found["_seq_no"], found["_primary_term"]

    def all(self, count: int) -> list[tuple[Range, int, int]]:
        """Return ranges 0 .. ``count`` - 1 as they are now (read in real time)."""
        response = self.client.mget(
            index=self.index, ids=[self.doc_id(number) for number in range(count)]
        )
        found = []
        for doc in response["docs"]:
            if not doc.get("found"):
                raise RangeLost(
                    f"The range document {doc['_id']} of '{self.index}' is gone: the rebuild "
                    f"was cancelled or cleaned up."
                )
            found.append((Range.from_source(doc["_source"]), doc["_seq_no"], doc["_primary_term"]))
        return found

    def write(self, entry: Range, seq_no: int, primary_term: int) -> int | None:
        """Write ``entry`` unless it changed since (``seq_no``, ``primary_term``); return its
        new ``_seq_no``, or None when another writer changed it first or it is gone."""
        try:
            response = self.client.index(
                index=self.journal.alias,
                id=self.doc_id(entry.number),
                document=entry.source(),
                if_seq_no=seq_no,
                if_primary_term=primary_term,
                require_alias=True,
            )
        except (ConflictError, NotFoundError):
            return None
        return int(response["_seq_no"])


# -- in the workers ----------------------------------------------------------------------------


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_range(using: str, name: str, number: int, token: str) -> dict[str, Any]:
    """Fill range ``number`` of the fill ``token`` of the index ``name`` (a task).

    Return what happened: ``{"state": "done", "indexed": N}``, or ``{"state": "skipped"}``
    when the range is not this worker's to fill (done already, claimed by another worker,
    of another fill). A failure is recorded on the board (the coordinator retries the range)
    and raised.
    """
    client = djangoes.connections[using].client
    board = Board(client, name, token)
    lease = range_lease()
    found = board.get(number)
    if found is None:
        return {"state": "skipped", "reason": "no such range (the rebuild ended)"}
    entry, seq_no, term = found
    now = board.clock.time()
    if entry.state != QUEUED or entry.not_before > now:
        return {"state": "skipped", "reason": f"the range is {entry.state}"}
    entry.state, entry.owner, entry.lease_until = RUNNING, worker_name(), now + lease
    entry.attempts, entry.read, entry.error = entry.attempts + 1, 0, ""
    claimed = board.write(entry, seq_no, term)
    if claimed is None:
        return {"state": "skipped", "reason": "another worker claimed it"}
    holder = _Holder(board, entry, claimed, term, lease)
    try:
        result = _fill(client, entry, holder)
        if result.errors:
            first = result.errors[0]
            raise RebuildError(
                f"{len(result.errors)} document(s) of {entry.describe()} could not be indexed "
                f"into '{entry.target}' (first: id {first.get('_id')}: {first.get('error')})."
            )
    except RangeLost:
        raise
    except BaseException as exc:
        holder.settle(FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
    holder.settle(DONE, indexed=result.indexed)
    return {"state": DONE, "indexed": result.indexed, "seconds": round(result.seconds, 3)}


class _Holder:
    """A worker's claim on its range: heartbeats, and the final word."""

    def __init__(self, board: Board, entry: Range, seq_no: int, term: int, lease: float) -> None:
        self.board, self.entry, self.seq_no, self.term = board, entry, seq_no, term
        self.lease = lease
        self.clock = board.clock
        self.beaten = self.clock.monotonic()

    def _write(self) -> None:
        written = self.board.write(self.entry, self.seq_no, self.term)
        if written is None:
            raise RangeLost(
                f"This worker lost {self.entry.describe()}: the rebuild ended, or the claim's "
                f"lease ({self.lease:.0f}s, DJANGOES_REBUILD_RANGE_LEASE) expired and the range "
                f"went to another worker."
            )
        self.seq_no = written

    def advance(self, rows: int) -> None:
        """Count ``rows`` read; renew the lease (and report progress) when due."""
        self.entry.read += rows
        if self.clock.monotonic() - self.beaten >= _heartbeat(self.lease):
            self.entry.lease_until = self.clock.time() + self.lease
            self._write()
            self.beaten = self.clock.monotonic()

    def settle(self, state: str, *, indexed: int = 0, error: str = "") -> None:
        self.entry.state, self.entry.indexed, self.entry.error = state, indexed, error[:2000]
        self.entry.lease_until = 0.0
        try:
            self._write()
        except RangeLost:
            logger.warning("Could not record %s as %s: %s", self.entry.describe(), state, error)
            if state == DONE:
                raise


def _fill(client: Any, entry: Range, holder: _Holder) -> FillResult:
    document = registry.document_for_label(entry.document)
    model = document.get_model() if document is not None else None
    if document is None or model is None:
        raise RebuildError(
            f"No registered Document {entry.document!r} with a Django.model in this worker: "
            f"deploy the same code to the workers as to the coordinator."
        )
    pk = model._meta.pk
    after = None if entry.after is None else pk.to_python(entry.after)
    upto = None if entry.upto is None else pk.to_python(entry.upto)

    def pages() -> Iterator[Page]:
        for page in iter_pages(document, entry.target, entry.chunk_size, after, upto):
            if entry.require_alias:
                page = [{**action, "require_alias": True} for action in page]
            yield page
            holder.advance(len(page))

    started = holder.clock.monotonic()
    result = FillResult()
    result.add(Sender(client, chunk_size=entry.chunk_size).send_pages(pages()))
    result.seconds = holder.clock.monotonic() - started
    return result
