"""Send the index and delete operations of model rows to Elasticsearch in bulk.

Used by the signal processor (after a transaction commits) and by rebuilds (to replay the
writes made during the fill). Rows are re-read from the database when their operations are
sent, so a document always reflects committed data; a row that is gone (or no longer in the
Document's ``get_queryset()``) is deleted from the index.

Every bulk request also records each touched row in the *rebuild journal* (see
:mod:`djangoes_dsl.journal`): while a rebuild of that index runs, the rebuild replays those
records before and after swapping the alias. So writes made during a rebuild are never lost,
from any process, without an extra request and without polling.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from elasticsearch import helpers

import djangoes

from .documents import Document
from .journal import journal_action, missed_journal

logger = logging.getLogger("djangoes_dsl.indexing")

#: Operations to send: ``{(Document, pk): None}`` re-reads the row and indexes it (or deletes
#: its document when the row is gone); a string value deletes the document from that index.
Operations = dict[tuple[type[Document], Any], "str | None"]

DEFAULT_BULK_CHUNK_SIZE = 500


def bulk_chunk_size() -> int:
    """Return the rows per bulk request of signal writes (``DJANGOES_BULK_CHUNK_SIZE``)."""
    return int(getattr(settings, "DJANGOES_BULK_CHUNK_SIZE", DEFAULT_BULK_CHUNK_SIZE))


@dataclass
class IndexingFailure:
    """Operations Elasticsearch did not apply, on one server.

    ``errors`` holds one dict per failed action: ``op``, ``index``, ``id``, ``status`` and
    ``error``. ``exception`` is set when the request itself failed (connection error, ...).
    """

    using: str
    errors: list[dict[str, Any]] = field(default_factory=list)
    exception: BaseException | None = None

    @property
    def ids(self) -> list[str]:
        return [str(error["id"]) for error in self.errors]

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
    if not errors:
        return "no details"
    error = errors[0]["error"]
    if isinstance(error, dict):
        return f"{error.get('type')}: {error.get('reason')}"
    return str(error)


class IndexingError(Exception):
    """Raised after commit, with ``DJANGOES_INDEXING_ERRORS = "raise"``, when writes failed."""

    def __init__(self, failures: list[IndexingFailure]) -> None:
        self.failures = failures
        super().__init__(" | ".join(str(failure) for failure in failures))


# -- sending ---------------------------------------------------------------------------------


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


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


def build_actions(
    operations: Operations,
    *,
    database: str | None = None,
    chunk_size: int = DEFAULT_BULK_CHUNK_SIZE,
    journal: bool = True,
    target: Callable[[type[Document]], str] | None = None,
) -> dict[str, Iterator[dict[str, Any]]]:
    """Return ``{ES server alias: bulk actions}`` for ``operations``, rows read lazily.

    ``target`` picks the index a Document's writes go to (default: its NAME).
    """
    per_server: dict[str, dict[type[Document], list[tuple[Any, str | None]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for (document, pk), delete_from in operations.items():
        per_server[document.get_using()][document].append((pk, delete_from))
    return {
        using: _actions(documents, database, chunk_size, journal, target)
        for using, documents in per_server.items()
    }


def _actions(
    documents: dict[type[Document], list[tuple[Any, str | None]]],
    database: str | None,
    chunk_size: int,
    journal: bool,
    target: Callable[[type[Document]], str] | None,
) -> Iterator[dict[str, Any]]:
    for document, entries in documents.items():
        index = target(document) if target else document.get_index_name()
        for chunk in _chunks(entries, chunk_size):
            wanted = [pk for pk, delete_from in chunk if delete_from is None]
            found: dict[Any, dict[str, Any]] = {}
            if wanted:
                queryset = document.get_queryset()
                if database is not None:
                    queryset = queryset.using(database)
                found = dict(document.read_actions(queryset.filter(pk__in=wanted), index))
            for pk, delete_from in chunk:
                action = found.get(pk) if delete_from is None else None
                if action is not None:
                    yield action
                else:
                    yield {"_op_type": "delete", "_index": delete_from or index, "_id": str(pk)}
                if journal:
                    yield journal_action(document, pk, delete_from or index)


def send_operations(
    operations: Operations,
    *,
    database: str | None = None,
    chunk_size: int | None = None,
    journal: bool = True,
    target: Callable[[type[Document]], str] | None = None,
) -> list[IndexingFailure]:
    """Send ``operations`` as chunked bulk requests; return what failed (never raise).

    ``chunk_size`` counts rows; with the journal each row is two actions of one request.
    """
    chunk_size = chunk_size or bulk_chunk_size()
    failures = []
    try:
        streams = build_actions(
            operations, database=database, chunk_size=chunk_size, journal=journal, target=target
        )
    except Exception as exc:
        return [_whole_failure("?", operations, exc)]
    for using, actions in streams.items():
        failure = _stream(using, actions, chunk_size * (2 if journal else 1), operations)
        if failure is not None:
            failures.append(failure)
    return failures


def _stream(
    using: str, actions: Iterable[dict[str, Any]], chunk_size: int, operations: Operations
) -> IndexingFailure | None:
    failure = IndexingFailure(using)
    try:
        client = djangoes.connections[using].client
        for ok, item in helpers.streaming_bulk(
            client,
            actions,
            chunk_size=chunk_size,
            raise_on_error=False,
            raise_on_exception=False,
            max_retries=2,
            initial_backoff=1,
            expand_action_callback=expand_action,
        ):
            if not ok and not _harmless(item):
                failure.errors.append(_error_of(item))
    except Exception as exc:
        # Connection errors, or a Document's prepare raising: the operations not confirmed
        # may not have been applied, so all of this server's are reported.
        whole = _whole_failure(using, operations, exc)
        failure.exception = exc
        failure.errors = whole.errors
    return failure if failure.errors else None


def _whole_failure(using: str, operations: Operations, exc: BaseException) -> IndexingFailure:
    errors = []
    for (document, pk), delete_from in operations.items():
        try:
            if using not in ("?", document.get_using()):
                continue
            index = delete_from or document.get_index_name()
        except ImproperlyConfigured:
            index = document.__name__
        errors.append(
            {
                "op": "delete" if delete_from else "index",
                "index": index,
                "id": str(pk),
                "status": None,
                "error": f"{type(exc).__name__}: {exc}",
            }
        )
    return IndexingFailure(using, errors, exc)


def _harmless(item: dict[str, Any]) -> bool:
    ((op, result),) = item.items()
    status = result.get("status")
    if op == "delete" and status == 404:
        return True  # the document was not indexed: nothing to delete
    return missed_journal(result)


def _error_of(item: dict[str, Any]) -> dict[str, Any]:
    ((op, result),) = item.items()
    return {
        "op": op,
        "index": result.get("_index"),
        "id": result.get("_id"),
        "status": result.get("status"),
        "error": result.get("error") or result.get("exception"),
    }


# -- reporting -------------------------------------------------------------------------------


def errors_mode() -> str:
    """Return ``DJANGOES_INDEXING_ERRORS``: "log" (default) or "raise"."""
    mode = getattr(settings, "DJANGOES_INDEXING_ERRORS", "log")
    if mode not in ("log", "raise"):
        raise ImproperlyConfigured(
            f"DJANGOES_INDEXING_ERRORS is {mode!r}; it must be 'log' or 'raise'."
        )
    return mode


def failure_handler() -> Callable[[IndexingFailure], Any] | None:
    """Return the callable named by ``DJANGOES_INDEXING_FAILURE_HANDLER``, if any."""
    path = getattr(settings, "DJANGOES_INDEXING_FAILURE_HANDLER", None)
    if not path:
        return None
    if callable(path):
        return path
    try:
        return import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"DJANGOES_INDEXING_FAILURE_HANDLER {path!r} cannot be imported: {exc}"
        ) from exc


def report(failures: list[IndexingFailure]) -> None:
    """Log ``failures``, hand each to the failure handler, and raise if so configured."""
    if not failures:
        return
    handler = failure_handler()
    for failure in failures:
        logger.error("%s", failure, exc_info=failure.exception)
        if handler is not None:
            try:
                handler(failure)
            except Exception:
                logger.exception("DJANGOES_INDEXING_FAILURE_HANDLER raised on: %s", failure)
    if errors_mode() == "raise":
        raise IndexingError(failures)
