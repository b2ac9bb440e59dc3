"""Fill indices from the database; rebuild them with zero downtime.

A rebuild of the index ``products`` (NAME ``shop_products``):

1. creates the journal ``shop_products-journal-<ts>`` with the alias
   ``shop_products-rebuilding``, the marker every process's signal writes also address
   (see :mod:`djangoes_dsl.indexing`), so from now on every write is recorded;
2. creates ``shop_products-<ts>`` from the configured body, without aliases, with
   ``refresh_interval: -1`` and no replicas;
3. fills it from every Document of the index, reading ``get_queryset()`` in primary-key
   pages (constant memory; with ``values_list()`` when the Document allows it) while a
   thread sends the bulk requests (``streaming_bulk``, or ``parallel_bulk`` with
   ``parallel``) — on large tables from forked worker processes,
   each over its own primary-key range (see :func:`fill`);
4. restores refresh and replicas, refreshes, then replays the journal: the rows written
   since the fill began are read again from the database and indexed (or deleted);
5. swaps in ONE ``_aliases`` call: NAME and ALIASES move to the new index (an old concrete
   index called NAME is removed in the same call, which migrates it to the alias scheme);
6. replays the journal once more (writes that reached the old index before the swap),
   deletes the journal and the old index.

Until step 5 nothing serving changes; if anything fails before it, the new index and the
journal are deleted and the old index keeps serving.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import itertools
import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connections as db_connections
from elasticsearch import helpers

import djangoes

from . import conf
from .documents import Document
from .indexing import (
    Operations,
    document_label,
    expand_action,
    journal_alias,
    send_operations,
)
from .progress import Progress
from .registry import registry

logger = logging.getLogger("djangoes_dsl.rebuild")

JOURNAL_MAPPINGS = {
    "dynamic": False,
    "properties": {"document": {"type": "keyword"}, "pk": {"type": "keyword"}},
}


#: A fill in worker processes gives each worker at least this many rows; smaller tables are
#: filled in this process (a fork, a database connection and a client per worker would cost
#: more than they save).
MIN_ROWS_PER_PROCESS = 5_000


class RebuildError(Exception):
    """A fill, populate or rebuild could not complete."""


@dataclass
class FillResult:
    indexed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


# -- reading rows ----------------------------------------------------------------------------


def iter_pages(
    document: type[Document], index: str, chunk_size: int, after: Any = None, upto: Any = None
) -> Iterator[list[dict[str, Any]]]:
    """Yield the bulk actions that index the document's rows into ``index``, a page at a time.

    Pages of ``chunk_size`` rows, by primary key (keyset): each is one query (plus one per
    to-many lookup or prefetch), nothing else is kept, so memory does not grow with the
    table, and rows committed meanwhile are seen by later pages. ``after`` and ``upto``
    limit the rows to ``after < pk <= upto`` (a worker's range).
    """
    queryset = document.get_queryset().order_by("pk")
    if upto is not None:
        queryset = queryset.filter(pk__lte=upto)
    last = after
    while True:
        page_qs = queryset if last is None else queryset.filter(pk__gt=last)
        page = document.read_actions(page_qs, index, limit=chunk_size)
        if page:
            yield [action for _, action in page]
        if len(page) < chunk_size:
            return
        last = page[-1][0]


#: What one fill (or one worker of a fill) reads: ``(Document, after, upto)`` per Document,
#: the bounds of its primary-key range (``None``: unbounded).
Plan = list[tuple[type[Document], Any, Any]]


def _actions(
    plan: Plan, index: str, chunk_size: int, advance: Callable[[int], Any] | None
) -> Iterator[dict[str, Any]]:
    for document, after, upto in plan:
        bounds = {} if after is None and upto is None else {"after": after, "upto": upto}
        for page in iter_pages(document, index, chunk_size, **bounds):
            yield from page
            if advance is not None:
                advance(len(page))


def count_rows(documents: Iterable[type[Document]]) -> int:
    return sum(document.get_queryset().count() for document in documents)


def split_ranges(document: type[Document], parts: int) -> list[tuple[Any, Any]]:
    """Split the document's rows into up to ``parts`` primary-key ranges of equal size.

    Returns ``(after, upto)`` pairs (``after < pk <= upto``, ``None`` unbounded) that cover
    every primary key, also those of rows created later. One query per boundary.
    """
    pks = (
        document.get_queryset()
        .select_related(None)
        .prefetch_related(None)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    count = pks.count()
    parts = max(1, min(parts, count))
    bounds: list[Any] = []
    for part in range(1, parts):
        pk = pks[count * part // parts - 1]
        if not bounds or pk != bounds[-1]:
            bounds.append(pk)
    edges = [None, *bounds, None]
    return list(itertools.pairwise(edges))


_FILL_ACTION_KEYS = frozenset({"_op_type", "_index", "_id", "_source"})


def _expand_fill_action(data: Any) -> tuple[dict[str, Any], Any]:
    """``expand_action`` with a short cut for the actions ``Document.to_action`` returns."""
    if data.keys() == _FILL_ACTION_KEYS and data["_op_type"] == "index":
        return {"index": {"_index": data["_index"], "_id": data["_id"]}}, data["_source"]
    return expand_action(data)


def _send(
    client: Any, actions: Iterable[dict[str, Any]], chunk_size: int, parallel: int
) -> FillResult:
    """Send ``actions`` in bulk requests of ``chunk_size``; return what was indexed and not.

    ``parallel`` threads send the requests (``parallel_bulk``); 0 sends them from one
    thread with retries of rejected (429) requests (``streaming_bulk``), while this thread
    goes on reading rows: the database and the node work at the same time.
    """
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
        return _collect(results)
    pipe = _Pipe(chunk_size)
    sender = threading.Thread(
        target=pipe.drain,
        args=(lambda stream: helpers.streaming_bulk(client, stream, max_retries=3, **options),),
        name="djangoes-fill-sender",
        daemon=True,
    )
    sender.start()
    try:
        for action in actions:
            pipe.put(action)
    finally:
        pipe.close()
        sender.join()
    return pipe.result()


def _collect(results: Iterable[tuple[bool, dict[str, Any]]]) -> FillResult:
    result = FillResult()
    for ok, item in results:
        if ok:
            result.indexed += 1
        else:
            ((op, info),) = item.items()
            result.errors.append({"op": op, **info})
    return result


class _Pipe:
    """Hand actions, a chunk at a time, from the reading thread to the sending thread.

    At most two chunks wait (memory stays constant). When the sender fails, ``put`` raises
    its exception in the reader; when the reader stops (done or failing), ``close`` lets the
    sender finish what it has.
    """

    _END = object()

    def __init__(self, chunk_size: int) -> None:
        self.chunk_size = chunk_size
        self.chunk: list[dict[str, Any]] = []
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.outcome: FillResult | None = None

    def put(self, action: dict[str, Any]) -> None:
        self.chunk.append(action)
        if len(self.chunk) >= self.chunk_size:
            self._hand_over(self.chunk)
            self.chunk = []

    def _hand_over(self, item: Any) -> None:
        while True:
            if self.error is not None:
                raise self.error
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        if self.error is None:
            if self.chunk:
                self._hand_over(self.chunk)
            self._hand_over(self._END)

    def _stream(self) -> Iterator[dict[str, Any]]:
        while (chunk := self.queue.get()) is not self._END:
            yield from chunk

    def drain(self, send: Callable[[Iterator[dict[str, Any]]], Any]) -> None:
        try:
            self.outcome = _collect(send(self._stream()))
        except BaseException as exc:
            self.error = exc

    def result(self) -> FillResult:
        if self.error is not None:
            raise self.error
        assert self.outcome is not None
        return self.outcome


# -- worker processes ------------------------------------------------------------------------


def default_processes() -> int | None:
    """Return ``DJANGOES_REBUILD_PROCESSES``: ``None`` (default) chooses, 0 never forks."""
    return conf.get("DJANGOES_REBUILD_PROCESSES")


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _fork_obstacle(automatic: bool) -> str | None:
    """Return why this process should not fork fill workers now (None: it may)."""
    if not hasattr(os, "fork"):
        return "this platform cannot fork"
    for connection in db_connections.all(initialized_only=True):
        if connection.in_atomic_block:
            return (
                f"the database connection '{connection.alias}' is inside a transaction "
                f"(workers would not see its uncommitted rows)"
            )
    if automatic and sys.platform == "darwin":
        return "forking is not reliable on macOS"
    if automatic and threading.active_count() > 1:
        return "other threads are running (a fork copies locks they may hold)"
    return None


def fill_processes(requested: int | None, total_rows: int) -> int:
    """Return how many worker processes a fill of ``total_rows`` rows uses (0: none).

    ``requested`` ``None`` chooses: one worker per CPU, at least ``MIN_ROWS_PER_PROCESS``
    rows each, when forking is safe (not inside a transaction, no other threads, a platform
    that forks reliably); else 0. An explicit number is used as asked, and an explicit
    number that cannot be honoured raises ``RebuildError``.
    """
    if requested is not None:
        if requested <= 1:
            return 0
        obstacle = _fork_obstacle(automatic=False)
        if obstacle:
            raise RebuildError(f"Cannot fill in {requested} processes: {obstacle}.")
        return requested
    workers = min(_cpus(), total_rows // MIN_ROWS_PER_PROCESS)
    if workers < 2:
        return 0
    obstacle = _fork_obstacle(automatic=True)
    if obstacle:
        logger.info("Filling in this process only: %s.", obstacle)
        return 0
    return workers


def _worker(
    sender: Any, using: str, plan: Plan, index: str, chunk_size: int, parallel: int
) -> None:
    """Fill ``plan`` into ``index`` in a forked child; report to the parent through ``sender``.

    Messages: ``("progress", rows)`` per page, then ``("done", indexed, errors)`` or
    ``("error", pickled exception, traceback text)``.
    """
    try:
        # The parent closed its connections before forking; close whatever is left so this
        # process opens its own (an in-memory SQLite database stays: its copy is private).
        db_connections.close_all()
        # djangoes dropped the parent's clients at the fork; this builds this process's own.
        client = djangoes.connections[using].client
        actions = _actions(plan, index, chunk_size, lambda rows: sender.send(("progress", rows)))
        result = _send(client, actions, chunk_size, parallel)
        sender.send(("done", result.indexed, result.errors))
    except BaseException as exc:
        text = traceback.format_exc()
        try:
            payload = pickle.dumps(exc)
            pickle.loads(payload)
        except Exception:
            payload = pickle.dumps(RebuildError(f"{type(exc).__name__}: {exc}"))
        with contextlib.suppress(Exception):
            sender.send(("error", payload, text))
    finally:
        sender.close()


def _fill_in_processes(
    using: str,
    documents: list[type[Document]],
    index: str,
    chunk_size: int,
    parallel: int,
    processes: int,
    advance: Callable[[int], Any] | None,
) -> FillResult:
    """Fill ``index`` from ``processes`` forked workers, each over its own primary-key ranges.

    Any worker failing (an exception, or dying) stops the others and fails the fill, after
    every worker has ended: nothing writes to ``index`` once this returns or raises.
    """
    plans: list[Plan] = [[] for _ in range(processes)]
    for document in documents:
        for number, (after, upto) in enumerate(split_ranges(document, processes)):
            plans[number].append((document, after, upto))
    plans = [plan for plan in plans if plan]
    # Children must not share this process's database sessions: close them here (they
    # reconnect on next use; an in-memory SQLite database ignores this), children open theirs.
    db_connections.close_all()
    context = multiprocessing.get_context("fork")
    workers: list[tuple[Any, Any]] = []
    results: dict[int, FillResult] = {}
    try:
        for plan in plans:
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(
                target=_worker,
                args=(sender, using, plan, index, chunk_size, parallel),
                name=f"djangoes-fill-{len(workers)}",
                daemon=True,
            )
            process.start()
            sender.close()
            workers.append((process, receiver))
        pending = {receiver: number for number, (_, receiver) in enumerate(workers)}
        while pending:
            for ready in multiprocessing.connection.wait(list(pending)):
                receiver = ready  # type: ignore[assignment]  # wait() returns what it was given
                number = pending[receiver]
                try:
                    message = receiver.recv()
                except EOFError:
                    process = workers[number][0]
                    process.join()
                    raise RebuildError(
                        f"Fill worker {number} (pid {process.pid}) ended without a result "
                        f"(exit code {process.exitcode})."
                    ) from None
                if message[0] == "progress":
                    if advance is not None:
                        advance(message[1])
                elif message[0] == "done":
                    results[number] = FillResult(indexed=message[1], errors=message[2])
                    del pending[receiver]
                else:
                    exc = pickle.loads(message[1])
                    exc.add_note(f"Raised in fill worker {number}:\n{message[2]}")
                    raise exc
    finally:
        for process, receiver in workers:
            if process.is_alive():
                process.kill()
            process.join()
            receiver.close()
    result = FillResult()
    for number in sorted(results):  # workers' ranges in primary-key order
        result.indexed += results[number].indexed
        result.errors.extend(results[number].errors)
    return result


def fill(
    client: Any,
    documents: list[type[Document]],
    index: str,
    *,
    chunk_size: int | None = None,
    parallel: int = 0,
    processes: int | None = 0,
    using: str | None = None,
    progress: Progress | None = None,
) -> FillResult:
    """Index every row of ``documents`` into ``index``; raise RebuildError on failures.

    ``processes``: 0 fills in this process; N >= 2 forks N workers, each reading its own
    primary-key range with its own database connection and client (the server ``using``);
    ``None`` chooses (see :func:`fill_processes`). ``parallel`` threads send the bulk
    requests of each process.
    """
    chunk_size = chunk_size or min(document.get_chunk_size() for document in documents)
    started = time.monotonic()
    advance = progress.advance if progress is not None else None
    if processes != 0 and using is not None:
        total = progress.total if progress is not None else count_rows(documents)
        processes = fill_processes(processes, total)
    elif processes:
        raise ValueError("fill() in worker processes needs the server alias: using=...")
    if processes:
        assert using is not None
        result = _fill_in_processes(
            using, documents, index, chunk_size, parallel, processes, advance
        )
    else:
        plan = [(document, None, None) for document in documents]
        result = _send(client, _actions(plan, index, chunk_size, advance), chunk_size, parallel)
    result.seconds = time.monotonic() - started
    if result.errors:
        first = result.errors[0]
        raise RebuildError(
            f"{len(result.errors)} document(s) could not be indexed into '{index}' "
            f"(first: id {first.get('_id')}: {first.get('error')})."
        )
    return result


# -- settings during the fill ----------------------------------------------------------------


def _pop_setting(settings: dict[str, Any], name: str) -> Any:
    value = None
    for key in (name, f"index.{name}"):
        if key in settings:
            value = settings.pop(key)
    nested = settings.get("index")
    if isinstance(nested, dict) and name in nested:
        value = nested.pop(name)
    return value


def fill_settings(body: dict[str, Any]) -> dict[str, Any]:
    """Switch ``body`` to fast-fill settings; return the settings to restore afterwards."""
    settings = body.get("settings") or {}
    body["settings"] = settings
    restore = {
        "number_of_replicas": _pop_setting(settings, "number_of_replicas"),
        "refresh_interval": _pop_setting(settings, "refresh_interval"),
    }
    settings["number_of_replicas"] = 0
    settings["refresh_interval"] = "-1"
    return restore


def timestamp() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y%m%d%H%M%S%f")


# -- the rebuild -----------------------------------------------------------------------------


def _server_for(key: str, using: str | None) -> str:
    """Return ``using``, else the server that serves index ``key`` (``default`` first)."""
    return using or registry.choose_server(key, None) or djangoes.DEFAULT_ES_ALIAS


class Rebuild:
    """A zero-downtime rebuild of the index ``key`` on the server ``using``."""

    replay_rounds = 3

    def __init__(
        self,
        key: str,
        using: str | None = None,
        *,
        documents: list[type[Document]] | None = None,
        chunk_size: int | None = None,
        parallel: int = 0,
        processes: int | None = None,
        stdout: Any = None,
    ) -> None:
        self.key = key
        self.using = _server_for(key, using)
        self.backend = djangoes.connections[self.using]
        self.client = self.backend.client
        self.settings = self.backend.get_index(key)
        self.name: str = self.settings["NAME"]
        self.aliases: list[str] = list(self.settings["ALIASES"])
        self.documents = documents if documents is not None else registry.documents_for_index(key)
        self.chunk_size = chunk_size
        self.parallel = parallel
        self.processes = default_processes() if processes is None else processes
        self.stdout = stdout
        stamp = timestamp()
        self.new_index = f"{self.name}-{stamp}"
        self.journal = f"{self.name}-journal-{stamp}"
        self.marker = journal_alias(self.name)
        self.replayed = 0
        self._seq_no = -1

    def say(self, message: str) -> None:
        if self.stdout is not None:
            self.stdout.write(message)
        logger.info("%s", message)

    def run(self) -> str:
        """Rebuild; return the new concrete index (NAME's target from now on)."""
        if self.client.indices.exists_alias(name=self.marker):
            raise RebuildError(
                f"A rebuild of '{self.key}' is already running (alias '{self.marker}' exists). "
                f"If it crashed, delete its journal: DELETE /{self.name}-journal-* and the "
                f"unfinished '{self.name}-<timestamp>' index."
            )
        old = self.backend.concrete_indices(self.name)
        try:
            # Both without waiting for shard start: writes wait for their shard themselves.
            # (No helper thread here: the fill may fork right after.)
            self.create_journal()
            restore = self.create_new_index()
            self.prepare_new_index(restore)
            self.swap(old)
        except BaseException:
            # ignore_unavailable: either may not have been created.
            self.client.indices.delete(
                index=f"{self.new_index},{self.journal}", ignore_unavailable=True
            )
            raise
        try:
            self.replay()
        except BaseException:
            self.client.options(ignore_status=404).indices.delete(index=self.journal)
            raise
        stale = [index for index in old if index != self.name]
        self.client.indices.delete(index=",".join([self.journal, *stale]), ignore_unavailable=True)
        self.say(f"{self.key}: '{self.name}' now points to '{self.new_index}'.")
        return self.new_index

    def create_journal(self) -> None:
        self.client.indices.create(
            index=self.journal,
            settings={"number_of_shards": 1, "number_of_replicas": 0},
            mappings=JOURNAL_MAPPINGS,
            aliases={self.marker: {}},
            # Return once the alias is in the cluster state: from then on writes address
            # the journal, and wait for its shard themselves if they come that early.
            wait_for_active_shards="0",
        )

    def create_new_index(self) -> dict[str, Any]:
        """Create the new index with fill settings; return the settings to restore after."""
        body = copy.deepcopy(self.backend.get_index_body(self.key, with_aliases=False))
        restore = fill_settings(body)
        self.client.indices.create(index=self.new_index, wait_for_active_shards="0", **body)
        return restore

    def prepare_new_index(self, restore: dict[str, Any]) -> None:
        progress = Progress(self.key, count_rows(self.documents), self.stdout)
        fill(
            self.client,
            self.documents,
            self.new_index,
            chunk_size=self.chunk_size,
            parallel=self.parallel,
            processes=self.processes,
            using=self.using,
            progress=progress,
        )
        progress.finish()
        self.client.indices.put_settings(index=self.new_index, settings={"index": restore})
        self.client.indices.refresh(index=self.new_index)
        for _ in range(self.replay_rounds):
            if not self.replay():
                break

    def replay(self) -> int:
        """Index again, from the database, the rows the journal recorded; return how many."""
        self.client.indices.refresh(index=self.journal)
        labels = {document_label(document): document for document in self.documents}
        operations: Operations = {}
        search_after = None
        while True:
            extra: dict[str, Any] = {}
            if search_after is not None:
                extra["search_after"] = search_after
            response = self.client.search(
                index=self.journal,
                query={"range": {"_seq_no": {"gt": self._seq_no}}},
                sort=[{"_seq_no": "asc"}],
                seq_no_primary_term=True,
                size=1000,
                **extra,
            )
            hits = response["hits"]["hits"]
            for hit in hits:
                document = labels.get(hit["_source"].get("document"))
                model = document.get_model() if document is not None else None
                if document is not None and model is not None:
                    pk = model._meta.pk.to_python(hit["_source"]["pk"])
                    operations[(document, pk)] = None
                self._seq_no = max(self._seq_no, hit["_seq_no"])
            if len(hits) < 1000:
                break
            search_after = hits[-1]["sort"]
        if not operations:
            return 0
        failures = send_operations(
            operations, journal=False, target=lambda document: self.new_index
        )
        if failures:
            raise RebuildError(
                f"Replaying the writes made during the rebuild failed: {failures[0]}"
            )
        self.replayed += len(operations)
        self.client.indices.refresh(index=self.new_index)
        return len(operations)

    def swap(self, old: list[str]) -> None:
        """Point NAME and ALIASES at the new index, in one atomic ``_aliases`` call."""
        names = {self.name, *self.aliases}
        actions: list[dict[str, Any]] = []
        current = (
            self.client.indices.get_alias(index=",".join(old), ignore_unavailable=True)
            if old
            else {}
        )
        for index in old:
            if index == self.name:
                actions.append({"remove_index": {"index": index}})
                continue
            for alias in sorted(names & set(current.get(index, {}).get("aliases", {}))):
                actions.append({"remove": {"index": index, "alias": alias}})
        actions.append(
            {"add": {"index": self.new_index, "alias": self.name, "is_write_index": True}}
        )
        actions.extend({"add": {"index": self.new_index, "alias": alias}} for alias in self.aliases)
        self.client.indices.update_aliases(actions=actions)


# -- populate, create, delete ----------------------------------------------------------------


def populate(
    key: str,
    using: str | None = None,
    *,
    documents: list[type[Document]] | None = None,
    chunk_size: int | None = None,
    parallel: int = 0,
    processes: int | None = None,
    stdout: Any = None,
) -> FillResult:
    """Index every row of the index's Documents into it as it is (created if missing).

    ``processes`` as for :func:`fill`; ``None`` takes ``DJANGOES_REBUILD_PROCESSES``.
    """
    using = _server_for(key, using)
    backend = djangoes.connections[using]
    name = backend.get_index(key)["NAME"]
    if not backend.concrete_indices(name):
        backend.create_index(key)
    documents = documents if documents is not None else registry.documents_for_index(key)
    progress = Progress(key, count_rows(documents), stdout)
    result = fill(
        backend.client,
        documents,
        name,
        chunk_size=chunk_size,
        parallel=parallel,
        processes=default_processes() if processes is None else processes,
        using=using,
        progress=progress,
    )
    progress.finish()
    backend.refresh(index=name)
    return result
