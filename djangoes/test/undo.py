"""The undo log: per-test isolation of index contents, and reads that see what a test wrote.

While test names are in force every client of ``connections`` tells the ``Observer``
installed here about the requests it sends (through its transport, see
``djangoes.test.transport``), as ``djangoes.backends.requests`` classifies them:

- before any request, the writes the code under test committed are sent
  (``djangoes.transactions.run_test_commits``), then what closed scopes left to undo, in bulk
  requests of the log's own; and a search (``ApiRequest.is_search``) first refreshes the test
  indices written since their last refresh, so a test always reads its own writes;
- after a write, the documents it changed — concrete index, id and version, as the response
  reports them — are recorded in the innermost open scope of the ``Journal``.

A ``TestScope`` is one test, class, module or run: the runner, the pytest plugin and the test
cases open and close the same object.

Scopes nest like the transactions of Django's ``TestCase``: the run, a module or a class
(what ``setUpTestData`` or a fixture wrote), a test. Closing a scope undoes its documents
without recreating any index: a document only it wrote is deleted; a document an enclosing
scope wrote is put back as it was when the scope opened (read with one ``_mget`` per scope
whose documents a later scope may touch). Deletes and restores carry the last version the
scope saw (``external_gte``), so the versions the next test sends are never refused.

What is not undone: index-level changes (mappings, settings, aliases, indices created or
deleted; documents in an index the scope deleted are put back only if the index exists
again), writes by ``_update_by_query``/``_delete_by_query``/``_reindex``, bulk requests whose
``filter_path`` hides the items, and requests that do not go through ``connections``.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import threading
import weakref
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.conf import settings
from elastic_transport import Transport, TransportError
from elasticsearch import ApiError, Elasticsearch

from .. import connections
from ..backends.requests import ApiRequest
from ..transactions import discard_test_commits, run_test_commits

__all__ = ["Journal", "Observer", "Scope", "TestScope", "journal", "keep_documents", "observer"]

logger = logging.getLogger("djangoes.test")

_KEEP_ATTRIBUTE = "djangoes_keep_documents"

_F = TypeVar("_F")


def keep_documents(test: _F) -> _F:
    """Mark a test (function, method or class) whose documents stay after it.

    Its writes then belong to the enclosing scope (the class, the module or the run) and are
    undone when that one closes.
    """
    setattr(test, _KEEP_ATTRIBUTE, True)
    return test


def keeps_documents(*objects: Any) -> bool:
    """Return whether any of ``objects`` (a test, its function, its class) is marked."""
    return any(getattr(obj, _KEEP_ATTRIBUTE, False) for obj in objects if obj is not None)


def isolation_enabled() -> bool:
    """Return whether tests' documents are undone (``DJANGOES_TEST_ISOLATION``, default True)."""
    return bool(getattr(settings, "DJANGOES_TEST_ISOLATION", True))


@dataclass(frozen=True)
class Server:
    """The ES_SERVERS alias and HOSTS a write went to."""

    alias: str
    hosts: tuple[str, ...]


#: A document: (server, concrete index, id).
Key = tuple[Server, str, str]
#: What a scope last did to a document: (version seen or None, whether it is deleted now).
Change = tuple["int | None", bool]


@dataclass(eq=False)
class Scope:
    """What one test, class, module or run wrote (see the module's docstring)."""

    label: str
    written: dict[Key, Change] = field(default_factory=dict)
    #: Documents of enclosing scopes this scope changed: their state when it opened
    #: (the ``_source``, or None when absent).
    restore: dict[Key, dict[str, Any] | None] = field(default_factory=dict)
    dropped: bool = False


class Journal:
    """The open scopes of this process and what each one wrote."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.scopes: list[Scope] = [Scope("run")]
        #: The state now of documents written by open scopes (``_source`` or None).
        self.known: dict[Key, dict[str, Any] | None] = {}
        #: Documents written by open scopes whose state now is not in ``known``.
        self.unknown: set[Key] = set()
        #: Indices written since their last refresh, per server.
        self.dirty: dict[Server, set[str]] = {}
        #: Bulk operations that undo closed scopes, not sent yet, per server.
        self.pending: dict[Server, list[Operation]] = {}
        self.pid = os.getpid()

    @property
    def top(self) -> Scope:
        return self.scopes[-1]

    # -- recording ---------------------------------------------------------------------------

    def record(self, server: Server, index: str, doc_id: str, change: Change) -> None:
        """Record that the innermost scope changed document ``doc_id`` of ``index``."""
        key = (server, index, doc_id)
        with self.lock:
            top = self.top
            if key not in top.written and key not in top.restore and self._outer(key):
                top.restore[key] = self.known.get(key)
            top.written[key] = change
            self.known.pop(key, None)
            self.unknown.add(key)

    def drop(self, server: Server, pattern: str) -> None:
        """Record that the innermost scope deleted the indices ``pattern`` matches."""
        with self.lock:
            top = self.top
            top.dropped = True
            for scope in self.scopes:
                for key in list(scope.written):
                    if key[0] != server or not fnmatch.fnmatchcase(key[1], pattern):
                        continue
                    if scope is top and key not in top.restore:
                        del top.written[key]  # gone with its index: nothing to undo
                        self.unknown.discard(key)
                        self.known.pop(key, None)
                    else:  # an enclosing scope's document: put it back later, if it can be
                        self.record(server, key[1], key[2], (None, True))

    def _outer(self, key: Key) -> bool:
        return any(key in scope.written for scope in self.scopes[:-1])

    # -- scopes ------------------------------------------------------------------------------

    def push(self, label: str) -> Scope:
        """Open a scope inside the innermost one; return it."""
        self.flush()
        with self.lock:
            if self.unknown:
                self.known.update(_read_documents(self.unknown))
                self.unknown.clear()
            scope = Scope(label)
            self.scopes.append(scope)
            return scope

    def pop(self, scope: Scope, keep: bool = False) -> None:
        """Close ``scope`` (and any scope left open inside it): undo what it wrote, or with
        ``keep`` hand it to the enclosing scope."""
        with self.lock:
            if scope not in self.scopes[1:]:
                return
            while self.scopes[-1] is not scope:
                self.pop(self.scopes[-1])
            self.scopes.pop()
            if keep:
                self._merge(scope)
                return
            actions: dict[Server, list[Undo]] = {}
            for key, change in scope.written.items():
                restoring = key in scope.restore
                state = scope.restore.get(key)
                self.unknown.discard(key)
                if restoring:
                    self.known[key] = state
                    # The scope that wrote it first must undo it with the version put back.
                    owner = next((s for s in reversed(self.scopes) if key in s.written), None)
                    if owner is not None:
                        version = owner.written[key][0] if change[0] is None else change[0]
                        owner.written[key] = (version, state is None)
                if state is None and change[1]:
                    continue  # deleted now, and to be absent: nothing to do
                actions.setdefault(key[0], []).append((key, change, state))
        for server, items in actions.items():
            if scope.dropped:  # which indices exist again must be asked: at once, alone
                self.flush(server)  # in order: what earlier scopes left first
                client = _client(server)
                if client is not None:
                    operations = _undo_operations(client, items, check_indices=True)
                    _send_undo(client, server, operations)
            else:
                with self.lock:
                    self.pending.setdefault(server, []).extend(_undo_operations(None, items))

    def take_pending(self, server: Server) -> list[Operation]:
        with self.lock:
            return self.pending.pop(server, [])

    def flush(self, server: Server | None = None) -> None:
        """Send what closed scopes left to undo (on ``server``, or everywhere)."""
        for target in [server] if server is not None else list(self.pending):
            operations = self.take_pending(target)
            client = _client(target) if operations else None
            if client is not None:
                _send_undo(client, target, operations)

    def _merge(self, scope: Scope) -> None:
        parent = self.top
        for key, state in scope.restore.items():
            if key not in parent.written and key not in parent.restore and self._outer(key):
                parent.restore[key] = state
        parent.written.update(scope.written)
        parent.dropped = parent.dropped or scope.dropped

    # -- refreshes ---------------------------------------------------------------------------

    def written_since_refresh(self, server: Server, index: str) -> None:
        with self.lock:
            self.dirty.setdefault(server, set()).add(index)

    def take_dirty(self, server: Server) -> list[str]:
        with self.lock:
            names = self.dirty.pop(server, None)
        return sorted(names) if names else []

    def refreshed(self, server: Server, expression: str) -> None:
        """Forget the indices of ``server`` a refresh of ``expression`` covered."""
        with self.lock:
            dirty = self.dirty.get(server)
            if not dirty:
                return
            items = [item for item in expression.split(",") if item]
            if not items or any(item in ("_all", "*") for item in items):
                dirty.clear()
                return
            names = _names_behind(server, items)
            for name in list(dirty):
                if any(name == n or name.startswith(f"{n}-") for n in names) or any(
                    fnmatch.fnmatchcase(name, item) for item in items
                ):
                    dirty.discard(name)


def _names_behind(server: Server, items: list[str]) -> set[str]:
    """Return the test NAMEs behind ``items`` (names or aliases of the server's indices)."""
    names = set(items)
    backend = _backend_for(server)
    if backend is not None:
        for index in backend.server_indices.values():
            if index["NAME"] in names or names.intersection(index["ALIASES"]):
                names.add(index["NAME"])
    return names


# -- sending ---------------------------------------------------------------------------------

# The requests of the test support itself go through clients of their own, one per server,
# built from the settings of the connection that wrote (without the guard: their targets are
# test indices the guard let through before). What closing a scope undoes waits in
# ``Journal.pending`` and is sent, in bulk requests of its own, just before the next request
# to that server — so nothing sees the indices before it is done.

_clients: dict[Server, Elasticsearch] = {}
_clients_lock = threading.Lock()


def _backend_for(server: Server) -> Any:
    """Return the backend of ``connections`` that talks to ``server`` now, or None."""
    try:
        backend = connections[server.alias]
    except Exception:
        backend = None
    if backend is not None and _hosts(backend) == server.hosts:
        return backend
    for candidate in connections.all(initialized_only=True):
        if _hosts(candidate) == server.hosts:
            return candidate
    return None


def _hosts(backend: Any) -> tuple[str, ...]:
    return tuple(str(host) for host in backend.server.get("HOSTS", ()))


def _client(server: Server) -> Elasticsearch | None:
    """Return the test support's own client for ``server`` (None: no connection has it)."""
    with _clients_lock:
        client = _clients.get(server)
        if client is None:
            backend = _backend_for(server)
            if backend is None:
                return None
            client = Elasticsearch(hosts=list(backend.server["HOSTS"]), **backend.server["PARAMS"])
            _clients[server] = client
        return client


def close_clients() -> None:
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()


def _read_documents(keys: Iterable[Key]) -> dict[Key, dict[str, Any] | None]:
    """Return the ``_source`` (None when absent) of every document in ``keys``."""
    per_server: dict[Server, list[Key]] = {}
    for key in keys:
        per_server.setdefault(key[0], []).append(key)
    found: dict[Key, dict[str, Any] | None] = dict.fromkeys(
        (key for server_keys in per_server.values() for key in server_keys), None
    )
    for server, server_keys in per_server.items():
        client = _client(server)
        if client is None:
            continue
        for chunk in _chunks(server_keys, 1000):
            docs = [{"_index": index, "_id": doc_id} for _, index, doc_id in chunk]
            try:
                response = client.mget(docs=docs)
            except (ApiError, TransportError) as exc:
                logger.warning("Could not read %d test documents: %s", len(chunk), exc)
                continue
            for key, doc in zip(chunk, response.body.get("docs", []), strict=False):
                if doc.get("found"):
                    found[key] = doc.get("_source")
    return found


Undo = tuple[Key, Change, "dict[str, Any] | None"]
#: One bulk operation: its action line and, for ``index``, the document.
Operation = tuple[dict[str, Any], "dict[str, Any] | None"]


def _undo_operations(
    client: Elasticsearch | None, items: list[Undo], check_indices: bool = False
) -> list[Operation]:
    """Return the bulk operations that put back (or delete) the documents of ``items``."""
    if check_indices and client is not None:
        try:
            existing = _existing_indices(client, {key[1] for key, _, _ in items})
        except (ApiError, TransportError) as exc:
            logger.warning("Could not undo %d test writes: %s", len(items), exc)
            return []
        items = [item for item in items if item[0][1] in existing]
    operations: list[Operation] = []
    for (_, index, doc_id), (version, _), state in items:
        meta: dict[str, Any] = {"_index": index, "_id": doc_id}
        if version is not None:
            meta["version"] = version
            meta["version_type"] = "external_gte"
        operations.append(({"delete": meta}, None) if state is None else ({"index": meta}, state))
    return operations


def _send_undo(client: Elasticsearch, server: Server, operations: list[Operation]) -> None:
    """Send ``operations`` in bulk requests of their own."""
    for chunk in _chunks(operations, 1000):
        try:
            lines = [
                line for action, source in chunk for line in (action, source) if line is not None
            ]
            response = client.bulk(operations=lines)
        except (ApiError, TransportError) as exc:
            logger.warning("Could not undo %d test writes: %s", len(chunk), exc)
            continue
        report_undo(response.body.get("items", []))
    _undone(server, operations)


def _undone(server: Server, operations: list[Operation]) -> None:
    with journal.lock:
        journal.dirty.setdefault(server, set()).update(
            next(iter(action.values()))["_index"] for action, _ in operations
        )


def report_undo(items: list[dict[str, Any]]) -> None:
    """Log the operations of an undo that failed (absent or newer documents are fine)."""
    failed = [
        result
        for item in items
        for result in item.values()
        if result.get("status", 500) >= 300 and result.get("status") not in (404, 409)
    ]
    if failed:
        logger.warning("Could not undo %d test writes: %s", len(failed), failed)


def _existing_indices(client: Elasticsearch, names: set[str]) -> set[str]:
    response = client.indices.get_settings(
        index=sorted(names),
        ignore_unavailable=True,
        allow_no_indices=True,
        filter_path="*.settings.index.uuid",
    )
    return set(response.body) if isinstance(response.body, dict) else set()


_T = TypeVar("_T")


def _chunks(items: list[_T], size: int) -> Iterator[list[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- the observer ----------------------------------------------------------------------------


class Observer:
    """What the test transports call around each request while test names are in force."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.isolate = isolation_enabled()
        self._servers: weakref.WeakKeyDictionary[Transport, Server | None] = (
            weakref.WeakKeyDictionary()
        )

    def server(self, transport: Transport) -> Server | None:
        """Return the server ``transport`` talks to (None: not a client of ``connections``)."""
        try:
            return self._servers[transport]
        except KeyError:
            pass
        found = None
        for backend in connections.all(initialized_only=True):
            # The sync client, or one of the async clients (one per event loop).
            clients = [backend.client, *getattr(backend, "async_clients", list)()]
            if any(client.transport is transport for client in clients):
                found = Server(backend.alias, _hosts(backend))
                break
        self._servers[transport] = found
        return found

    def before(self, transport: Transport, request: ApiRequest) -> None:
        """Send what the code under test committed and what closed scopes left to undo;
        refresh what was written before a search."""
        run_test_commits()
        server = self.server(transport)
        if server is None:
            return
        if self.journal.pending.get(server):
            self.journal.flush(server)
        if self.journal.dirty.get(server) and request.is_search:
            self._refresh(server)

    def _refresh(self, server: Server) -> None:
        names = self.journal.take_dirty(server)
        client = _client(server) if names else None
        if client is not None:
            # On a connection error the request itself reports the node.
            with suppress(ApiError, TransportError):
                client.indices.refresh(index=names, ignore_unavailable=True, allow_no_indices=True)

    def after(self, transport: Transport, request: ApiRequest, response: Any) -> None:
        """Record what a successful write changed (and what a refresh made visible)."""
        if request.method in ("GET", "HEAD") or not 200 <= response.meta.status < 300:
            return
        endpoint = request.endpoint
        if endpoint not in _RECORDED:
            return
        server = self.server(transport)
        if server is None:
            return
        body = response.body
        parts = request.parts
        if endpoint == "indices.refresh":
            self.journal.refreshed(server, parts.get("index", ""))
        elif endpoint == "indices.delete":
            if self.isolate:
                for pattern in parts.get("index", "").split(","):
                    self.journal.drop(server, pattern)
        elif not isinstance(body, dict):
            return
        elif endpoint == "bulk":
            refreshed = _refreshes(request)
            for item in body.get("items", ()):
                for op, result in item.items():
                    self._written(server, op, result, refreshed)
        else:
            op = "delete" if endpoint == "delete" else "index"
            self._written(server, op, body, _refreshes(request))

    def _written(self, server: Server, op: str, result: dict[str, Any], refreshed: bool) -> None:
        status = result.get("status", 200)
        outcome = result.get("result")
        if not 200 <= status < 300 or outcome in ("noop", "not_found"):
            return
        index, doc_id = result.get("_index"), result.get("_id")
        if not isinstance(index, str) or not isinstance(doc_id, str):
            return
        if not refreshed:
            self.journal.written_since_refresh(server, index)
        if self.isolate:
            deleted = op == "delete" or outcome == "deleted"
            self.journal.record(server, index, doc_id, (result.get("_version"), deleted))


#: The APIs whose effect the log records.
_RECORDED = frozenset(
    {"bulk", "index", "create", "update", "delete", "indices.delete", "indices.refresh"}
)


def _refreshes(request: ApiRequest) -> bool:
    return request.param("refresh") in ("", "true", "wait_for")


# -- the process's journal -------------------------------------------------------------------

_JOURNAL_LOCK = threading.RLock()
journal = Journal()
_observer: Observer | None = None


def observer() -> Observer | None:
    """Return the observer of this process's test transports (None: no run is open)."""
    return _observer


def install() -> None:
    """Observe the test transports with this process's journal (a fresh one after a fork:
    a parallel worker must not undo what its parent recorded)."""
    global journal, _observer
    with _JOURNAL_LOCK:
        if journal.pid != os.getpid():
            journal = Journal()
            _clients.clear()  # the parent's, with its sockets
        _observer = Observer(journal)


def flush() -> None:
    """Send what closed scopes left to undo, everywhere (at the end of a run)."""
    journal.flush()


def uninstall() -> None:
    """Stop observing: test names are no longer in force."""
    global _observer
    journal.flush()
    _observer = None
    close_clients()


class TestScope:
    """The documents written while it is open — by one test, class, module, or the run —
    undone when it closes, as Django rolls back a test's rows.

    Scopes nest: one opened inside another undoes only its own writes and puts back what it
    changed of the enclosing scope's documents. With ``keep`` its documents are handed to the
    enclosing scope instead (see ``keep_documents``). Use it as a context manager, or call
    ``open()`` and ``close()``. Before it opens and before it closes, the writes committed so
    far are sent, so they belong to the scope they were made in; when it closes without
    ``keep``, what the test committed but never sent is dropped (its rows roll back too).
    """

    __test__ = False  # not a test class, for pytest

    def __init__(self, label: str, keep: bool = False) -> None:
        self.label = label
        self.keep = keep
        self._scope: Scope | None = None

    @classmethod
    def of_test(cls, test: Any, label: str | None = None) -> TestScope:
        """Return the scope of ``test`` (a ``unittest.TestCase``), kept when it or its class is
        marked with ``keep_documents``."""
        method = getattr(type(test), test.id().rsplit(".", 1)[-1], None)
        return cls(label or test.id(), keep=keeps_documents(method, type(test)))

    def open(self) -> TestScope:
        run_test_commits()
        self._scope = journal.push(self.label)
        return self

    def close(self) -> None:
        opened, self._scope = self._scope, None
        if opened is None:
            return
        if self.keep:
            run_test_commits()
        else:
            discard_test_commits()
        journal.pop(opened, keep=self.keep)

    def __enter__(self) -> TestScope:
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()
