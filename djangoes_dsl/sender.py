"""Send bulk actions to Elasticsearch: the one bulk engine of djangoes_dsl.

Signal delivery, outbox drains and a rebuild's replays (through :mod:`.indexing`), fills
(:mod:`.rebuild`) and distributed fills (:mod:`.ranges`) all send through a :class:`Sender`:

- each action is serialized once, into NDJSON: the action line of a versioned index action
  is built from its parts, its source serialized by the client's JSON serializer (so a
  ``serializer`` in ``PARAMS``, e.g. elasticsearch-py's ``OrjsonSerializer``, is used);
  any other action is read as ``elasticsearch.helpers`` reads it (:func:`expand_action`);
- actions are cut into requests of at most ``chunk_size`` actions and ``max_bytes`` bytes;
- actions (or whole requests) the node rejects with 429 (its queues full) are sent again
  after a doubling wait, ``max_retries`` times;
- every other failure is reported per action (its position in the stream, op, index, id,
  status and error), never raised; a lost connection, or an error raised by the actions'
  iterable, is raised;
- the actions carry external versions: a 409 says a newer version is there already (the
  write was stale, the index is right), and counts as done, as does deleting a document
  that is not there;
- ``parallel`` threads send requests at once, and :meth:`Sender.send_pages` reads pages in
  the calling thread (which owns the database connection) while a sending thread works.

It does not go through ``helpers.streaming_bulk``/``parallel_bulk``: those serialize a header
dict per document, build a result per document, and ``parallel_bulk`` retries nothing.
"""

from __future__ import annotations

import contextlib
import json
import queue
import re
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import ApiError, JsonSerializer, helpers

__all__ = [
    "INITIAL_BACKOFF",
    "ITEM_FIELDS",
    "MAX_CHUNK_BYTES",
    "MAX_RETRIES",
    "BulkResult",
    "Reply",
    "Sender",
    "expand_action",
]

#: What is read of each item of a bulk response by default (not its _id, _index, _version,
#: _shards, _seq_no, ...: the items come in the order of the actions): less for the node to
#: write and for the sender to parse. Every item has a status, so none is left out.
ITEM_FIELDS = "items.*.status,items.*.error"
#: Retries of actions (or whole requests) the node rejected with 429, and the wait before
#: the first one, doubled for each next one (as elasticsearch.helpers).
MAX_RETRIES = 3
INITIAL_BACKOFF = 2.0
#: A request holds at most ``chunk_size`` actions and this many bytes (as elasticsearch.helpers).
MAX_CHUNK_BYTES = 100 * 1024 * 1024
#: Pages waiting between the reading and the sending thread of :meth:`Sender.send_pages`.
QUEUED_PAGES = 2


@dataclass
class BulkResult:
    """What was sent: the actions done, the failed ones, and the requests it took.

    ``indexed`` counts the actions the node applied, and those it found already superseded
    (409: a newer version) or already done (deleting a document that is not there).
    ``errors`` holds one dict per failed action: ``position`` (in the stream of actions),
    ``op``, ``_index``, ``_id`` (as sent; the item's own fields replace them when the
    response carries them), ``status`` and ``error``.
    """

    indexed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    #: Bulk requests sent, retries included.
    requests: int = 0

    def add(self, other: BulkResult) -> None:
        self.indexed += other.indexed
        self.errors.extend(other.errors)
        self.requests += other.requests


@dataclass
class Reply(BulkResult):
    """The node's answers to one chunk of actions, retries done: the actions at
    ``positions`` of the stream."""

    positions: range = range(0)


@dataclass(slots=True)
class _Line:
    """One action of a request: where it is in the stream, what to report of it, and its
    NDJSON lines."""

    position: int
    op: str
    index: Any
    id: Any
    versioned: bool
    body: bytes  # the action line and the source line (when it has one), each ending in \n


def expand_action(data: Any) -> tuple[dict[str, Any], Any]:
    """Expand a bulk action like elasticsearch.helpers, keeping ``require_alias``."""
    require_alias = data.get("require_alias")
    if require_alias is None:
        return helpers.expand_action(data)
    data = dict(data)
    del data["require_alias"]
    header, body = helpers.expand_action(data)
    ((_, meta),) = header.items()
    meta["require_alias"] = require_alias
    return header, body


_VERSIONED_INDEX_KEYS = frozenset(
    {"_op_type", "_index", "_id", "_source", "version", "version_type"}
)
#: The same through an alias that must exist (a distributed fill's writes), and that flag's
#: part of the action line.
_VERSIONED_ALIAS_KEYS = _VERSIONED_INDEX_KEYS | {"require_alias"}
_REQUIRE_ALIAS = {None: b"", True: b',"require_alias":true', False: b',"require_alias":false'}
#: Document ids written into an action line as they are (others are JSON-encoded).
_PLAIN_ID = re.compile(r"[A-Za-z0-9_.:@+=-]*")


def _json_string(value: Any) -> bytes:
    # Not the serializer: its dumps() passes a str through as the body it already is.
    return json.dumps(str(value), ensure_ascii=False).encode("utf-8", "surrogatepass")


def _dumps(serializer: Any) -> Callable[[Any], bytes]:
    """Return ``serializer.dumps``; for elasticsearch-py's own ``JsonSerializer``, the same
    JSON from one encoder kept for the whole stream (its ``dumps`` calls ``json.dumps`` with
    options, which builds an encoder per document: half its cost on a small document)."""
    if type(serializer) is not JsonSerializer:
        return serializer.dumps  # type: ignore[no-any-return]
    encode = json.JSONEncoder(
        default=serializer.default, ensure_ascii=False, separators=(",", ":")
    ).encode

    def dumps(data: Any) -> bytes:
        if isinstance(data, str | bytes):  # a body serialized already, as the serializer
            return serializer.dumps(data)  # type: ignore[no-any-return]
        try:
            return encode(data).encode("utf-8", "surrogatepass")
        except (ValueError, TypeError):  # the serializer's own error (SerializationError)
            return serializer.dumps(data)  # type: ignore[no-any-return]

    return dumps


class _Encoder:
    """Serialize actions into NDJSON lines with the client's JSON serializer, once each."""

    def __init__(self, client: Any) -> None:
        self.dumps = _dumps(client.transport.serializers.get_serializer("application/json"))
        self.strings: dict[Any, bytes] = {}
        self.frame_key: tuple[Any, Any, Any, Any] | None = None
        self.frame = (b"", b"")

    def string(self, value: Any) -> bytes:
        """Return ``value`` as a JSON string (index names repeat: kept)."""
        found = self.strings.get(value)
        if found is None:
            found = _json_string(value)
            if len(self.strings) < 64:
                self.strings[value] = found
        return found

    def line(self, position: int, data: dict[str, Any]) -> _Line:
        keys = data.keys()
        if (
            keys == _VERSIONED_INDEX_KEYS
            or (keys == _VERSIONED_ALIAS_KEYS and type(data["require_alias"]) is bool)
        ) and data["_op_type"] == "index":
            doc_id = data["_id"]
            if type(doc_id) is str and _PLAIN_ID.fullmatch(doc_id):
                quoted = b'"' + doc_id.encode() + b'"'
            else:
                quoted = _json_string(doc_id)
            # What comes before and after the id: the same for a page's actions (one index,
            # one version), built once.
            key = (data["_index"], data["version"], data["version_type"], data.get("require_alias"))
            if key != self.frame_key:
                self.frame_key = key
                suffix = (b',"version":', str(int(key[1])).encode(), b',"version_type":')
                self.frame = (
                    b'{"index":{"_index":' + self.string(key[0]) + b',"_id":',
                    b"".join((*suffix, self.string(key[2]), _REQUIRE_ALIAS[key[3]], b"}}\n")),
                )
            before, after = self.frame
            body = b"".join((before, quoted, after, self.dumps(data["_source"]), b"\n"))
            return _Line(position, "index", data["_index"], doc_id, True, body)
        action, source = expand_action(data)
        ((op, meta),) = action.items()
        body = self.dumps(action) + b"\n"
        if source is not None:
            body += self.dumps(source) + b"\n"
        return _Line(position, op, meta.get("_index"), meta.get("_id"), "version" in meta, body)


def _done(line: _Line, status: int) -> bool:
    """Whether the node's ``status`` for ``line`` means its write is (or was) there."""
    return (
        200 <= status < 300
        # A newer version of the document is there already: this write was stale.
        or (status == 409 and line.versioned)
        # The document was not there: nothing to delete.
        or (status == 404 and line.op == "delete")
    )


@dataclass(frozen=True)
class Sender:
    """Send bulk actions to one client's server (see the module's docstring).

    ``filter_path`` chooses what the node writes of each item (``None``: every field);
    ``sleep`` waits before a retry.
    """

    client: Any
    chunk_size: int = 500
    max_bytes: int = MAX_CHUNK_BYTES
    max_retries: int = MAX_RETRIES
    initial_backoff: float = INITIAL_BACKOFF
    parallel: int = 0
    filter_path: str | None = ITEM_FIELDS
    sleep: Callable[[float], Any] = time.sleep

    def _chunks(self, actions: Iterable[dict[str, Any]]) -> Iterator[list[_Line]]:
        """Serialize ``actions`` into requests of ``chunk_size`` actions and ``max_bytes``."""
        encoder = _Encoder(self.client)
        chunk: list[_Line] = []
        length = 0
        for position, data in enumerate(actions):
            line = encoder.line(position, data)
            if chunk and (
                len(chunk) == self.chunk_size or length + len(line.body) > self.max_bytes
            ):
                yield chunk
                chunk, length = [], 0
            chunk.append(line)
            length += len(line.body)
        if chunk:
            yield chunk

    def stream(self, actions: Iterable[dict[str, Any]]) -> Iterator[Reply]:
        """Send ``actions``; yield the :class:`Reply` to each chunk as it comes (in order,
        unless ``parallel`` threads send)."""
        client = self.client.options()
        chunks = self._chunks(actions)
        if not self.parallel:
            for chunk in chunks:
                yield self._send(client, chunk)
            return
        with ThreadPoolExecutor(
            max_workers=self.parallel, thread_name_prefix="djangoes-bulk"
        ) as pool:
            pending: set[Future[Reply]] = set()
            for chunk in chunks:
                pending.add(pool.submit(self._send, client, chunk))
                # At most twice as many chunks serialized and waiting as threads send.
                if len(pending) >= 2 * self.parallel:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        yield future.result()
            for future in as_completed(pending):
                yield future.result()

    def send(self, actions: Iterable[dict[str, Any]]) -> BulkResult:
        """Send ``actions``; return what was done and what failed."""
        result = BulkResult()
        for reply in self.stream(actions):
            result.add(reply)
        return result

    def send_pages(self, pages: Iterable[list[dict[str, Any]]]) -> BulkResult:
        """Send the actions of ``pages`` while the next pages are read (in this thread).

        A bounded queue of two pages between the threads keeps memory constant and lets the
        database and the node work at the same time. An error while reading (a Document's
        ``prepare`` raising) or sending (a lost connection) is raised after the sending
        thread has ended.
        """
        handoff: queue.Queue[list[dict[str, Any]] | None] = queue.Queue(maxsize=QUEUED_PAGES)

        def taken() -> Iterator[dict[str, Any]]:
            while (page := handoff.get()) is not None:
                yield from page

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="djangoes-sender") as pool:
            sender = pool.submit(self.send, taken())
            try:
                for page in pages:
                    _hand_over(handoff, page, sender)
            except BaseException:
                # Reading failed: let the sender end (the pool waits for it), then raise the
                # reading error, not one of the sender's.
                with contextlib.suppress(Exception):
                    _hand_over(handoff, None, sender)
                raise
            _hand_over(handoff, None, sender)
            return sender.result()

    def _send(self, client: Any, chunk: list[_Line]) -> Reply:
        """Send one request of ``chunk``; retry what the node rejected with 429; report
        every other failure in ``errors`` (a refused request: each of its actions)."""
        reply = Reply(positions=range(chunk[0].position, chunk[-1].position + 1))
        for attempt in range(self.max_retries + 1):
            if attempt:
                self.sleep(self.initial_backoff * 2 ** (attempt - 1))
            reply.requests += 1
            try:
                response = client.bulk(
                    operations=b"".join(line.body for line in chunk), filter_path=self.filter_path
                )
            except ApiError as exc:
                if exc.status_code == 429 and attempt < self.max_retries:
                    continue
                reply.errors.extend(
                    {"position": line.position, "op": line.op, "_index": line.index,
                     "_id": line.id, "status": exc.status_code, "error": str(exc)}
                    for line in chunk
                )  # fmt: skip
                return reply
            items = (response.body or {}).get("items", [])
            if len(items) != len(chunk):
                raise RuntimeError(
                    f"Elasticsearch answered {len(items)} items to a bulk request of {len(chunk)}."
                )
            retry = []
            for line, item in zip(chunk, items, strict=True):
                ((op, info),) = item.items()
                status = info.get("status", 500)
                if _done(line, status):
                    reply.indexed += 1
                elif status == 429 and attempt < self.max_retries:
                    retry.append(line)
                else:
                    reply.errors.append(
                        {"position": line.position, "op": op, "_index": line.index,
                         "_id": line.id, **info}
                    )  # fmt: skip
            if not retry:
                return reply
            chunk = retry
        return reply


def _hand_over(
    handoff: queue.Queue[list[dict[str, Any]] | None],
    page: list[dict[str, Any]] | None,
    sender: Future[Any],
) -> None:
    """Queue ``page`` for the sender; raise the sender's error if it stopped."""
    while True:
        try:
            handoff.put(page, timeout=0.1)
            return
        except queue.Full:
            if sender.done():
                sender.result()  # raises what stopped it
                raise RuntimeError("The bulk sender ended before the last page.") from None
