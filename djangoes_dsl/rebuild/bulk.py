"""Send pages of bulk actions to Elasticsearch while the next pages are read.

The calling thread reads the pages (it owns the database connection); one sending thread
of a :class:`~concurrent.futures.ThreadPoolExecutor` feeds them to ``streaming_bulk`` (or,
with ``parallel``, to ``parallel_bulk`` and its threads). A bounded queue of two pages
between them keeps memory constant and lets the database and the node work at the same
time.
"""

from __future__ import annotations

import contextlib
import queue
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import helpers

from ..indexing import expand_action
from .pages import Page

#: Pages waiting between the reading and the sending thread.
QUEUED_PAGES = 2
_END = None


@dataclass
class FillResult:
    """What a fill indexed: the count, the failed items, and how it ran."""

    indexed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    #: The worker processes that filled (0: the calling process).
    processes: int = 0

    def add(self, other: FillResult) -> None:
        self.indexed += other.indexed
        self.errors.extend(other.errors)


_FILL_ACTION_KEYS = frozenset({"_op_type", "_index", "_id", "_source", "version", "version_type"})


def _expand_fill_action(data: Any) -> tuple[dict[str, Any], Any]:
    """``expand_action`` with a short cut for the actions ``Document.read_actions`` returns."""
    if data.keys() == _FILL_ACTION_KEYS and data["_op_type"] == "index":
        header = {
            "_index": data["_index"],
            "_id": data["_id"],
            "version": data["version"],
            "version_type": data["version_type"],
        }
        return {"index": header}, data["_source"]
    return expand_action(data)


def _bulk(
    client: Any, actions: Iterable[dict[str, Any]], chunk_size: int, parallel: int
) -> FillResult:
    options: dict[str, Any] = {
        "chunk_size": chunk_size,
        "raise_on_error": False,
        "raise_on_exception": False,
        "expand_action_callback": _expand_fill_action,
    }
    if parallel:
        results = helpers.parallel_bulk(
            client, actions, thread_count=parallel, queue_size=parallel, **options
        )
    else:  # one request at a time, with retries of rejected (429) requests
        results = helpers.streaming_bulk(client, actions, max_retries=3, **options)
    result = FillResult()
    for ok, item in results:
        if ok:
            result.indexed += 1
            continue
        ((op, info),) = item.items()
        if info.get("status") == 409:
            # A newer version of the row is there already (a signal write, or another fill
            # of the range): what this fill read is older, and the index is right.
            result.indexed += 1
            continue
        result.errors.append({"op": op, **info})
    return result


def _taken(handoff: queue.Queue[Page | None]) -> Iterator[dict[str, Any]]:
    while (page := handoff.get()) is not _END:
        yield from page


def _hand_over(handoff: queue.Queue[Page | None], page: Page | None, sender: Future[Any]) -> None:
    """Queue ``page`` for the sender; raise the sender's error if it stopped."""
    while True:
        try:
            handoff.put(page, timeout=0.1)
            return
        except queue.Full:
            if sender.done():
                sender.result()  # raises what stopped it
                raise RuntimeError("The bulk sender ended before the last page.") from None


def send_pages(
    client: Any, pages: Iterable[Page], *, chunk_size: int, parallel: int = 0
) -> FillResult:
    """Send ``pages`` in bulk requests of ``chunk_size`` actions; return what was indexed.

    Items Elasticsearch refused are returned in ``errors``, never raised; an error while
    reading (a Document's ``prepare`` raising) or sending (a lost connection) is raised
    after the sending thread has ended.
    """
    handoff: queue.Queue[Page | None] = queue.Queue(maxsize=QUEUED_PAGES)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="djangoes-fill-sender") as pool:
        sender = pool.submit(_bulk, client, _taken(handoff), chunk_size, parallel)
        try:
            for page in pages:
                _hand_over(handoff, page, sender)
        except BaseException:
            # Reading failed: let the sender end (the pool waits for it), then raise the
            # reading error, not one of the sender's.
            with contextlib.suppress(Exception):
                _hand_over(handoff, _END, sender)
            raise
        _hand_over(handoff, _END, sender)
        return sender.result()
