"""Send the index and delete operations of model rows to Elasticsearch in bulk.

Used by the signal processor (after a transaction commits) and by rebuilds (to replay the
writes made during the fill). Rows are re-read from the database when their operations are
sent, so a document always reflects committed data; a row that is gone (or no longer in the
Document's ``get_queryset()``) is deleted from the index.

Every bulk request also records each touched row in the *rebuild journal* (see
:mod:`djangoes_dsl.journal`): while a rebuild of that index runs, the rebuild replays those
records before and after swapping the alias. The document actions of rows a journal recorded
are sent once more after the response (:func:`_send_again`), so a write in flight across the
swap reaches the new index too. Writes made during a rebuild are never lost, from any process,
without polling, and without an extra request while no rebuild runs.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError
from elasticsearch import ApiError, TransportError

import djangoes

from . import conf
from .documents import Document
from .embeddings import EmbedderUnavailable
from .journal import journal_action, missed_journal
from .sender import Sender
from .versions import read_version, versioned

logger = logging.getLogger("djangoes_dsl.indexing")

#: Operations to send: ``{(Document, pk): None}`` re-reads the row and indexes it (or deletes
#: its document when the row is gone); a string value deletes the document from that index.
Operations = dict[tuple[type[Document], Any], "str | None"]


class OperationSet:
    """The operations of a batch or of outbox rows, one per row: the one owner of how
    operations on rows combine.

    The newest operation on a row wins, in its place (a delete after a save deletes; a save
    after a delete indexes what is there then). The rows a related change makes stale are
    indexed again, unless the batch already has an operation on them (a delete stays one).
    ``sources`` lists, per row, what asked for it (outbox row ids), when given.
    """

    def __init__(self) -> None:
        self.operations: Operations = {}
        self.sources: dict[tuple[type[Document], Any], list[Any]] = defaultdict(list)

    def add(
        self, document: type[Document], pk: Any, delete_from: str | None, source: Any = None
    ) -> None:
        """Add an operation on row ``pk``: index it (``delete_from`` None) or delete its
        document from the index ``delete_from``."""
        key = (document, pk)
        self.operations.pop(key, None)
        self.operations[key] = delete_from
        if source is not None:
            self.sources[key].append(source)

    def add_dependants(self, document: type[Document], found: Any, source: Any = None) -> None:
        """Index again the rows ``found`` (what ``document.get_instances_from_related``
        returned: a queryset, instances, or one instance)."""
        for pk in row_pks(found):
            key = (document, pk)
            self.operations.setdefault(key, None)
            if source is not None:
                self.sources[key].append(source)


def row_pks(found: Any) -> list[Any]:
    """Return the primary keys of ``found``: a queryset, an iterable of rows, a row, None."""
    if hasattr(found, "values_list"):
        return list(found.values_list("pk", flat=True))
    if hasattr(found, "_meta"):
        return [found.pk]
    return [row.pk for row in found or ()]


DEFAULT_BULK_CHUNK_SIZE = 500


def bulk_chunk_size() -> int:
    """Return the rows per bulk request of signal writes (``DJANGOES_BULK_CHUNK_SIZE``)."""
    return conf.get("DJANGOES_BULK_CHUNK_SIZE")


@dataclass
class IndexingFailure:
    """Operations Elasticsearch did not apply, on one server.

    ``errors`` holds one dict per failed operation: ``op``, ``index``, ``id``, ``status``,
    ``error``, ``retryable`` (a timeout, a node down, a 429 or 5xx: worth sending again; not
    a mapping conflict) and ``key`` (``(Document, pk)``). ``exception`` is set when the
    request itself failed (connection error, ...).
    """

    using: str
    errors: list[dict[str, Any]] = field(default_factory=list)
    exception: BaseException | None = None

    @property
    def ids(self) -> list[str]:
        return [str(error["id"]) for error in self.errors]

    @property
    def retryable(self) -> bool:
        """Whether every failed operation is worth sending again."""
        return all(error.get("retryable", True) for error in self.errors)

    def operations(self) -> Iterator[tuple[tuple[type[Document], Any], bool, str]]:
        """Yield ``((Document, pk), retryable, error text)`` per failed operation."""
        for error in self.errors:
            key = error.get("key")
            if key is not None:
                yield key, bool(error.get("retryable", True)), _reason(error)

    def __str__(self) -> str:
        by_index: dict[str, list[str]] = defaultdict(list)
        for error in self.errors:
            by_index[error["index"]].append(str(error["id"]))
        where = "; ".join(
            f"{index}: ids {', '.join(ids[:20])}{' ...' if len(ids) > 20 else ''}"
            for index, ids in by_index.items()
        )
        cause = (
            f"{type(self.exception).__name__}: {self.exception}"
            if self.exception is not None
            else _first_reason(self.errors)
        )
        return (
            f"{len(self.errors)} indexing operation(s) failed on ES_SERVERS['{self.using}'] "
            f"({where}): {cause}"
        )


def _first_reason(errors: list[dict[str, Any]]) -> str:
    return _reason(errors[0]) if errors else "no details"


def _reason(error: dict[str, Any]) -> str:
    detail = error.get("error")
    if isinstance(detail, dict):
        return f"{detail.get('type')}: {detail.get('reason')}"
    return str(detail)


class IndexingError(Exception):
    """Raised after commit, with ``DJANGOES_INDEXING_ERRORS = "raise"``, when writes failed."""

    def __init__(self, failures: list[IndexingFailure]) -> None:
        self.failures = failures
        super().__init__(" | ".join(str(failure) for failure in failures))


# -- sending ---------------------------------------------------------------------------------


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True)
class _Sent:
    """What one action of a bulk request stands for, to settle its result."""

    key: tuple[type[Document], Any]
    op: str
    journal: bool = False


def build_actions(
    operations: Operations,
    *,
    database: str | None = None,
    chunk_size: int = DEFAULT_BULK_CHUNK_SIZE,
    journal: bool = True,
    target: Callable[[type[Document]], str] | None = None,
    sent: dict[str, list[_Sent]] | None = None,
) -> dict[str, Iterator[dict[str, Any]]]:
    """Return ``{ES server alias: bulk actions}`` for ``operations``, rows read lazily.

    ``target`` picks the index a Document's writes go to (default: its NAME). Every action
    carries a version read before its rows (see :mod:`djangoes_dsl.versions`). When given,
    ``sent`` receives, per server, what each action stands for, at the action's position.
    """
    per_server: dict[str, dict[type[Document], list[tuple[Any, str | None]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for (document, pk), delete_from in operations.items():
        per_server[document.get_using()][document].append((pk, delete_from))
    return {
        using: _actions(
            documents,
            database,
            chunk_size,
            journal,
            target,
            None if sent is None else sent.setdefault(using, []),
        )
        for using, documents in per_server.items()
    }


def _actions(
    documents: dict[type[Document], list[tuple[Any, str | None]]],
    database: str | None,
    chunk_size: int,
    journal: bool,
    target: Callable[[type[Document]], str] | None,
    sent: list[_Sent] | None,
) -> Iterator[dict[str, Any]]:
    for document, entries in documents.items():
        index = target(document) if target else document.get_index_name()
        for chunk in _chunks(entries, chunk_size):
            wanted = [pk for pk, delete_from in chunk if delete_from is None]
            queryset = document.get_queryset()
            if database is not None:
                queryset = queryset.using(database)
            # Read before the rows: deletes of rows found gone carry it too.
            version = read_version(queryset.db)
            found: dict[Any, dict[str, Any]] = {}
            if wanted:
                found = dict(
                    document.read_actions(queryset.filter(pk__in=wanted), index, version=version)
                )
            for pk, delete_from in chunk:
                action = found.get(pk) if delete_from is None else None
                if action is None:
                    action = versioned(
                        {
                            "_op_type": "delete",
                            "_index": delete_from or index,
                            "_id": document.document_id(pk),
                        },
                        version,
                    )
                if sent is not None:
                    sent.append(_Sent((document, pk), action["_op_type"]))
                yield action
                if journal:
                    if sent is not None:
                        sent.append(_Sent((document, pk), "index", journal=True))
                    yield journal_action(document, pk, delete_from or index)


def send_operations(
    operations: Operations,
    *,
    database: str | None = None,
    chunk_size: int | None = None,
    journal: bool = True,
    target: Callable[[type[Document]], str] | None = None,
    max_retries: int = 0,
) -> list[IndexingFailure]:
    """Send ``operations`` as chunked bulk requests; return what failed (never raise).

    ``chunk_size`` counts rows; with the journal each row is two actions of one request.
    Nothing is retried here unless ``max_retries`` (429 rejections, with back-off, blocking):
    failed operations are returned, marked retryable or not, for the outbox to keep.

    With the journal, the document actions of rows that a rebuild's journal recorded are
    sent once more, alone, after the response: see :func:`_send_again`.
    """
    chunk_size = chunk_size or bulk_chunk_size()
    failures = []
    sent: dict[str, list[_Sent]] = {}
    try:
        streams = build_actions(
            operations,
            database=database,
            chunk_size=chunk_size,
            journal=journal,
            target=target,
            sent=sent,
        )
    except Exception as exc:
        return [_whole_failure("?", operations, exc)]
    for using, actions in streams.items():
        outcome = _stream(
            using, actions, chunk_size * (2 if journal else 1), operations, sent[using], max_retries
        )
        if journal and outcome.again:
            _send_again(outcome, operations, database, chunk_size, max_retries)
        failure = outcome.failure()
        if failure is not None:
            failures.append(failure)
    return failures


@dataclass
class _Outcome:
    """What the node answered to the operations of one server."""

    using: str
    #: The first error of each operation's document action, and of its journal action.
    failed: dict[tuple[type[Document], Any], dict[str, Any]] = field(default_factory=dict)
    journal_failed: dict[tuple[type[Document], Any], dict[str, Any]] = field(default_factory=dict)
    #: Operations a rebuild's journal recorded, and those whose index was gone when the
    #: node came to apply them: their document actions are sent again.
    journalled: set[tuple[type[Document], Any]] = field(default_factory=set)
    gone: set[tuple[type[Document], Any]] = field(default_factory=set)
    exception: BaseException | None = None

    @property
    def again(self) -> set[tuple[type[Document], Any]]:
        return self.journalled | self.gone

    def failure(self) -> IndexingFailure | None:
        errors = {**self.failed}
        for key, error in self.journal_failed.items():
            errors.setdefault(key, error)
        if not errors:
            return None
        return IndexingFailure(self.using, list(errors.values()), self.exception)


def _send_again(
    outcome: _Outcome,
    operations: Operations,
    database: str | None,
    chunk_size: int,
    max_retries: int,
) -> None:
    """Send the document actions of ``outcome.again`` once more; their result replaces the
    first one's.

    This is what keeps a write in flight across a rebuild's alias swap (see "Writes across
    a rebuild's swap" in docs/architecture.md). The node resolves NAME when it receives a
    bulk request; a request resolved just before the swap writes to the old index, and its
    journal entry may land after the rebuild's last replay read the journal, just before
    the old index is deleted. Sent again after the journal entry was confirmed, the
    document either goes to the new index (NAME resolved after the swap), or the swap had
    not happened yet when NAME was resolved, and then the journal entry was there before
    the swap, so the rebuild's replay that follows the swap indexes the row anew. Either
    way the row reaches the new index. While no rebuild runs, journal actions are not
    recorded (the marker alias does not exist), and nothing is sent again.

    So are the operations whose document or journal action failed because its index was
    deleted after the node resolved the name: the rebuild that deleted it has swapped (or
    given up, and then the old index still serves), so the second send goes to the index
    that serves now. A rebuild started since reads the committed row in its own fill.
    """
    again = {key: operations[key] for key in operations if key in outcome.again}
    for key in again:
        outcome.failed.pop(key, None)
    sent: dict[str, list[_Sent]] = {}
    try:
        streams = build_actions(
            again, database=database, chunk_size=chunk_size, journal=False, sent=sent
        )
    except Exception as exc:
        for document, pk in again:
            outcome.failed[(document, pk)] = _whole_error(document, pk, again[(document, pk)], exc)
        outcome.exception = exc
        return
    for using, actions in streams.items():
        second = _stream(
            using, actions, chunk_size, again, sent[using], max_retries, covered=outcome.journalled
        )
        outcome.failed.update(second.failed)
        if second.exception is not None:
            outcome.exception = second.exception


def _stream(
    using: str,
    actions: Iterable[dict[str, Any]],
    chunk_size: int,
    operations: Operations,
    sent: list[_Sent],
    max_retries: int,
    covered: set[tuple[type[Document], Any]] | None = None,
) -> _Outcome:
    """Send ``actions`` to the server ``using``; return what the node answered.

    ``covered``: operations whose journal entry was confirmed before this request: their
    documents' index being gone is harmless (see :func:`_send_again`).
    """
    outcome = _Outcome(using)
    settled: set[tuple[type[Document], Any]] = set()
    try:
        sender = Sender(
            djangoes.connections[using].client,
            chunk_size=chunk_size,
            max_retries=max_retries,
            initial_backoff=1,
            # Whole items: the transport's observers (djangoes.test's per-test undo) read
            # what each write did (its concrete index, id and version) from them.
            filter_path=None,
        )
        for reply in sender.stream(actions):
            failed = {error["position"]: error for error in reply.errors}
            for position in reply.positions:
                what = sent[position]
                settled.add(what.key)
                error = failed.get(position)
                if what.journal:
                    if error is None:
                        outcome.journalled.add(what.key)
                    elif missed_journal(error):
                        pass  # no rebuild runs: the journal's marker alias does not exist
                    elif _index_gone(error):
                        # The journal was deleted after the node resolved the marker: that
                        # rebuild has ended, so NAME names the index to keep (see _send_again).
                        outcome.gone.add(what.key)
                    else:
                        outcome.journal_failed.setdefault(what.key, _error_of(error, what))
                    continue
                if error is None:
                    continue
                if _index_gone(error):
                    if covered is not None and what.key in covered:
                        continue
                    outcome.gone.add(what.key)
                outcome.failed.setdefault(what.key, _error_of(error, what))
    except Exception as exc:
        # A connection error, or a Document's prepare raising: the operations not confirmed
        # may or may not have been applied; they are sent again (harmless, see versions.py).
        outcome.exception = exc
        for (document, pk), delete_from in operations.items():
            key = (document, pk)
            if key in settled or _using_of(document) != using:
                continue
            outcome.failed[key] = _whole_error(document, pk, delete_from, exc)
    return outcome


def _index_gone(error: dict[str, Any]) -> bool:
    """Whether a bulk action failed because its index was deleted after the node resolved
    its name (a rebuild deleted the old index meanwhile)."""
    detail = error.get("error")
    return (
        error.get("status") == 404
        and isinstance(detail, dict)
        and detail.get("type") == "index_not_found_exception"
    )


def _using_of(document: type[Document]) -> str | None:
    try:
        return document.get_using()
    except ImproperlyConfigured:
        return None


def _retryable_exception(exc: BaseException) -> bool:
    """Whether a request that raised ``exc`` is worth sending again later."""
    if isinstance(exc, (TransportError, DatabaseError, EmbedderUnavailable)):
        return True  # connection errors, timeouts, 429/5xx, a database hiccup, an embedder
    return isinstance(exc, ApiError) and (exc.status_code == 429 or exc.status_code >= 500)


def _whole_error(
    document: type[Document], pk: Any, delete_from: str | None, exc: BaseException
) -> dict[str, Any]:
    try:
        index = delete_from or document.get_index_name()
    except ImproperlyConfigured:
        index = document.__name__
    return {
        "op": "delete" if delete_from else "index",
        "index": index,
        "id": str(pk),
        "status": getattr(exc, "status_code", None),
        "error": f"{type(exc).__name__}: {exc}",
        "retryable": _retryable_exception(exc),
        "key": (document, pk),
    }


def _whole_failure(using: str, operations: Operations, exc: BaseException) -> IndexingFailure:
    errors = [
        _whole_error(document, pk, delete_from, exc)
        for (document, pk), delete_from in operations.items()
        if using in ("?", _using_of(document))
    ]
    return IndexingFailure(using, errors, exc)


def _error_of(error: dict[str, Any], what: _Sent) -> dict[str, Any]:
    status = error.get("status")
    return {
        "op": error.get("op"),
        "index": error.get("_index"),
        "id": error.get("_id"),
        "status": status,
        "error": error.get("error"),
        # A journal action that failed may be a rebuild that misses the write: send it
        # again too.
        "retryable": status is None or status == 429 or status >= 500 or what.journal,
        "key": what.key,
    }


# -- reporting -------------------------------------------------------------------------------


def errors_mode() -> str:
    """Return ``DJANGOES_INDEXING_ERRORS``: "log" (default) or "raise"."""
    return conf.get("DJANGOES_INDEXING_ERRORS")


def failure_handler() -> Callable[[IndexingFailure], Any] | None:
    """Return the callable named by ``DJANGOES_INDEXING_FAILURE_HANDLER``, if any."""
    return conf.get("DJANGOES_INDEXING_FAILURE_HANDLER")


def report(failures: list[IndexingFailure]) -> None:
    """Log ``failures``, hand each to the failure handler, and raise if so configured.

    The failures (with their ids) are logged before anything that can raise: an invalid
    DJANGOES_INDEXING_FAILURE_HANDLER or DJANGOES_INDEXING_ERRORS raises ImproperlyConfigured
    only after that.
    """
    if not failures:
        return
    for failure in failures:
        logger.error("%s", failure, exc_info=failure.exception)
    handler = failure_handler()
    if handler is not None:
        for failure in failures:
            try:
                handler(failure)
            except Exception:
                logger.exception("DJANGOES_INDEXING_FAILURE_HANDLER raised on: %s", failure)
    if errors_mode() == "raise":
        raise IndexingError(failures)
