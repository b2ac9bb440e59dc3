"""Send pages of bulk actions to Elasticsearch while the next pages are read.

The calling thread reads the pages (it owns the database connection); one sending thread
of a :class:`~concurrent.futures.ThreadPoolExecutor` serializes them into NDJSON requests
and sends them (with ``parallel``, through that many more threads). A bounded queue of two
pages between them keeps memory constant and lets the database and the node work at the
same time.

A fill sends many documents of one shape, so it does not go through
``elasticsearch.helpers``: each action is serialized once (the helpers serialize a header
dict per document), the responses carry only each item's status and error
(``filter_path``), and no result is built per document. What the helpers do for a fill is
kept: requests of ``chunk_size`` actions (and at most 100 MB), actions (or requests) the
node rejects with 429 retried with a doubling wait, every other failure reported per
action, never raised.
"""

from __future__ import annotations

import contextlib
import json
import queue
import re
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import ApiError

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

#: What the fill reads of each item of a bulk response (not its _id, _index, _version,
#: _shards, _seq_no, ...: the items come in the order of the actions): less for the node to
#: write and for the fill to parse. Every item has a status, so none is left out.
ITEM_FIELDS = "items.*.status,items.*.error"
#: Retries of actions (or whole requests) the node rejected with 429 (its queues full), and
#: the wait before the first one, doubled for each next one (as elasticsearch.helpers).
MAX_RETRIES = 3
INITIAL_BACKOFF = 2.0
#: A request holds at most ``chunk_size`` actions and this many bytes.
MAX_CHUNK_BYTES = 100 * 1024 * 1024


@dataclass
class _Line:
    """One action of a request: what to report of it, and its NDJSON lines."""

    op: str
    index: Any
    id: Any
    body: bytes  # the action line and the source line (when it has one), each ending in \n


class _Encoder:
    """Serialize actions into NDJSON lines with the client's JSON serializer, once each.

    For the actions ``Document.read_actions`` returns, the action line is built from its
    parts (``elasticsearch.helpers`` serializes a header dict per document); the source is
    serialized by the client's serializer (so a ``serializer`` in ``PARAMS``, e.g.
    elasticsearch-py's ``OrjsonSerializer``, serializes the fill too).
    """

    def __init__(self, client: Any) -> None:
        self.dumps = client.transport.serializers.get_serializer("application/json").dumps
        self.strings: dict[Any, bytes] = {}

    def string(self, value: Any) -> bytes:
        """Return ``value`` as a JSON string (index names repeat: kept)."""
        found = self.strings.get(value)
        if found is None:
            found = _json_string(value)
            if len(self.strings) < 64:
                self.strings[value] = found
        return found

    def line(self, data: dict[str, Any]) -> _Line:
        if data.keys() == _FILL_ACTION_KEYS and data["_op_type"] == "index":
            doc_id = data["_id"]
            if type(doc_id) is str and _PLAIN_ID.fullmatch(doc_id):
                quoted = b'"' + doc_id.encode() + b'"'
            else:
                quoted = _json_string(doc_id)
            header = b"".join((
                b'{"index":{"_index":', self.string(data["_index"]), b',"_id":', quoted,
                b',"version":', str(int(data["version"])).encode(),
                b',"version_type":', self.string(data["version_type"]), b"}}\n",
            ))  # fmt: skip
            return _Line(
                "index", data["_index"], doc_id, header + self.dumps(data["_source"]) + b"\n"
            )
        action, source = expand_action(data)
        ((op, meta),) = action.items()
        body = self.dumps(action) + b"\n"
        if source is not None:
            body += self.dumps(source) + b"\n"
        return _Line(op, meta.get("_index"), meta.get("_id"), body)


#: Document ids written into an action line as they are (others are JSON-encoded).
_PLAIN_ID = re.compile(r"[A-Za-z0-9_.:@+=-]*")


def _json_string(value: Any) -> bytes:
    # Not the serializer: its dumps() passes a str through as the body it already is.
    return json.dumps(str(value), ensure_ascii=False).encode("utf-8", "surrogatepass")


def _chunks(
    encoder: _Encoder, actions: Iterable[dict[str, Any]], size: int
) -> Iterator[list[_Line]]:
    chunk: list[_Line] = []
    length = 0
    for data in actions:
        line = encoder.line(data)
        if chunk and (len(chunk) == size or length + len(line.body) > MAX_CHUNK_BYTES):
            yield chunk
            chunk, length = [], 0
        chunk.append(line)
        length += len(line.body)
    if chunk:
        yield chunk


def _send(client: Any, chunk: list[_Line]) -> FillResult:
    """Send one request of ``chunk``; retry what the node rejected with 429 (its queues
    full); report every other failure in ``errors`` (a refused request: each action)."""
    result = FillResult()
    for attempt in range(MAX_RETRIES + 1):
        if attempt:
            time.sleep(INITIAL_BACKOFF * 2 ** (attempt - 1))
        try:
            response = client.bulk(
                operations=b"".join(line.body for line in chunk), filter_path=ITEM_FIELDS
            )
        except ApiError as exc:
            if exc.status_code == 429 and attempt < MAX_RETRIES:
                continue
            for line in chunk:
                result.errors.append(
                    {"op": line.op, "_index": line.index, "_id": line.id,
                     "status": exc.status_code, "error": str(exc)}
                )  # fmt: skip
            return result
        items = (response.body or {}).get("items", [])
        if len(items) != len(chunk):
            raise RuntimeError(
                f"Elasticsearch answered {len(items)} items to a bulk request of {len(chunk)}."
            )
        retry = []
        for line, item in zip(chunk, items, strict=True):
            ((op, info),) = item.items()
            status = info.get("status", 500)
            # 409: a newer version of the row is there already (a signal write, or another
            # fill of the range): what this fill read is older, and the index is right.
            if 200 <= status < 300 or status == 409:
                result.indexed += 1
            elif status == 429 and attempt < MAX_RETRIES:
                retry.append(line)
            else:
                result.errors.append({"op": op, "_index": line.index, "_id": line.id, **info})
        if not retry:
            return result
        chunk = retry
    return result


def _bulk(
    client: Any, actions: Iterable[dict[str, Any]], chunk_size: int, parallel: int
) -> FillResult:
    """Send ``actions`` in requests of ``chunk_size``: one at a time, or ``parallel`` at
    once (at most twice as many serialized and waiting)."""
    client = client.options()
    result = FillResult()
    chunks = _chunks(_Encoder(client), actions, chunk_size)
    if not parallel:
        for chunk in chunks:
            result.add(_send(client, chunk))
        return result
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="djangoes-fill-bulk") as pool:
        pending: set[Future[FillResult]] = set()
        for chunk in chunks:
            pending.add(pool.submit(_send, client, chunk))
            if len(pending) >= 2 * parallel:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    result.add(future.result())
        for future in pending:
            result.add(future.result())
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
