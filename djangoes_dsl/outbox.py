"""The outbox: indexing operations kept in the database until Elasticsearch has them.

Operations land here when a send fails (the node is down, a timeout, a 429 or 5xx, an item
error) and, in durable mode (``DJANGOES_DURABLE = True``), inside the transaction of the change
itself, before anything is sent. Drainers (``manage.py search_index sync``, a periodic task)
send them again with back-off until Elasticsearch confirms them.

Two drainers never send the same operations at once: a drainer *claims* rows with one
conditional UPDATE (``claimed_until`` in the past → now plus a lease, with its own token), so
on every database exactly one drainer wins each row; on PostgreSQL the candidates are picked
with ``SELECT ... FOR UPDATE SKIP LOCKED`` so that drainers do not even compete for them. A
drainer that dies leaves its claim to expire. Sending an operation twice (a drainer and the
process that recorded it, both after the grace period) is harmless: rows are read again when
sent, and the versions keep the newest state (see :mod:`djangoes_dsl.versions`).

Claims and back-off read the time from the module's ``clock`` (the real one; see
:mod:`djangoes_dsl.clock`): a test that sets it to a ``ManualClock`` and advances it past
``DJANGOES_OUTBOX_CLAIM_LEASE`` sees a dead drainer's claims expire without waiting.
"""

from __future__ import annotations

import datetime
import logging
import random
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, router, transaction
from django.db import connections as db_connections
from django.db.models import Count, Min
from django.utils import timezone

from . import conf
from .clock import SYSTEM, Clock
from .documents import Document
from .indexing import IndexingFailure, Operations, OperationSet, report, send_operations
from .models import PendingOperation
from .registry import document_label, registry

logger = logging.getLogger("djangoes_dsl.outbox")

Action = PendingOperation.Action
State = PendingOperation.State

DEFAULT_BATCH_SIZE = 500

#: The clock of claims, their leases and back-off (:class:`djangoes_dsl.clock.Clock`).
clock: Clock = SYSTEM


def now() -> datetime.datetime:
    """Return the time of ``clock`` as Django stores it (aware, or naive local time when
    ``USE_TZ`` is off), as :func:`django.utils.timezone.now` does."""
    current = clock.now()
    return current if settings.USE_TZ else timezone.make_naive(current)


def durable() -> bool:
    """Return ``DJANGOES_DURABLE``: record operations inside the transaction of the change."""
    return bool(conf.get("DJANGOES_DURABLE"))


def grace() -> float:
    """Seconds a freshly recorded operation is left to the process that recorded it."""
    return float(conf.get("DJANGOES_OUTBOX_GRACE"))


def claim_lease() -> datetime.timedelta:
    """Return how long a claim on outbox rows lasts: ``DJANGOES_OUTBOX_CLAIM_LEASE`` seconds
    (300). A drainer or task worker that dies while sending leaves its rows to others after
    that; keep it well above ``request_timeout`` times the retries of a bulk request."""
    return datetime.timedelta(seconds=conf.get("DJANGOES_OUTBOX_CLAIM_LEASE"))


def backoff(attempts: int) -> float:
    """Return the delay before the next attempt after ``attempts`` failed ones (with jitter)."""
    base = float(conf.get("DJANGOES_RETRY_BACKOFF"))
    cap = float(conf.get("DJANGOES_RETRY_MAX_BACKOFF"))
    delay = min(cap, base * 2 ** max(attempts - 1, 0))
    return delay * random.uniform(0.8, 1.0)


def databases() -> list[str]:
    """Return the databases that hold an outbox table (where djangoes_dsl is migrated)."""
    return [
        alias for alias in db_connections if router.allow_migrate_model(alias, PendingOperation)
    ]


# -- recording -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """An operation to record: the Document, the row's pk, the action and its target."""

    document: type[Document]
    pk: Any
    action: str = Action.INDEX
    target: str = ""


def record(
    entries: Iterable[Entry],
    database: str | None = None,
    *,
    delay: float = 0.0,
    state: str = State.PENDING,
    attempts: int = 0,
    error: str = "",
) -> list[int]:
    """Insert ``entries`` into the outbox of ``database``; return their ids.

    Inside a transaction the rows commit (or roll back) with it.
    """
    database = database or DEFAULT_DB_ALIAS
    next_attempt = now() + datetime.timedelta(seconds=delay)
    rows = [
        PendingOperation(
            document=document_label(entry.document),
            object_pk=str(entry.pk),
            action=entry.action,
            target=entry.target,
            database=database,
            state=state,
            attempts=attempts,
            next_attempt=next_attempt,
            last_error=error[:2000],
        )
        for entry in entries
    ]
    if not rows:
        return []
    created = PendingOperation.objects.using(database).bulk_create(rows)
    return [row.pk for row in created if row.pk is not None]


def entries_of(operations: Operations) -> list[Entry]:
    """Return the outbox entries of resolved ``operations``."""
    return [
        Entry(document, pk, Action.DELETE, delete_from) if delete_from else Entry(document, pk)
        for (document, pk), delete_from in operations.items()
    ]


def keep_failures(
    failures: list[IndexingFailure], operations: Operations, database: str | None
) -> int:
    """Record the operations of ``failures`` in the outbox (after a send that was not
    recorded before); return how many. Never raises: a database error is logged.
    """
    retry: list[Entry] = []
    refused: list[tuple[Entry, str]] = []
    for failure in failures:
        for key, retryable, error in failure.operations():
            if key not in operations:
                continue
            entry = entries_of({key: operations[key]})[0]
            if retryable:
                retry.append(entry)
            else:
                refused.append((entry, error))
    try:
        with transaction.atomic(using=database or DEFAULT_DB_ALIAS):
            record(retry, database, delay=backoff(1), attempts=1, error=_first_error(failures))
            for entry, error in refused:
                record([entry], database, state=State.FAILED, attempts=1, error=error)
    except DatabaseError:
        logger.exception(
            "Could not keep %d failed indexing operation(s) in the outbox of database %r.",
            len(retry) + len(refused),
            database or DEFAULT_DB_ALIAS,
        )
        return 0
    return len(retry) + len(refused)


def _first_error(failures: list[IndexingFailure]) -> str:
    return str(failures[0]) if failures else ""


# -- sending recorded operations -------------------------------------------------------------


@dataclass
class DrainResult:
    """What one drain did."""

    sent: int = 0
    retried_later: int = 0
    failed: int = 0
    failures: list[IndexingFailure] = field(default_factory=list)

    @property
    def claimed(self) -> int:
        return self.sent + self.retried_later + self.failed


def _operations_of(
    rows: list[PendingOperation],
) -> tuple[Operations, dict[tuple[type[Document], Any], list[Any]], dict[int, str]]:
    """Resolve outbox rows into operations.

    Return the operations, the row ids behind each operation, and ``{row id: error}`` for
    rows that cannot be resolved (an unknown Document).
    """
    resolved = OperationSet()
    unresolved: dict[int, str] = {}
    for row in rows:
        document = registry.document_for_label(row.document)
        model = document.get_model() if document is not None else None
        if document is None or model is None:
            unresolved[row.pk] = (
                f"No registered Document {row.document!r} with a Django.model: it was "
                f"renamed or removed. Delete this operation, or register the Document again."
            )
            continue
        if row.action == Action.RELATED:
            instance = _related_row(row.target, row.object_pk, row.database)
            if instance is not None:  # deleted: its dependants were recorded before it went
                found = document.get_instances_from_related(instance)
                resolved.add_dependants(document, found, source=row.pk)
            continue  # with no dependants there is nothing to send: done
        pk = model._meta.pk.to_python(row.object_pk)
        delete_from = row.target if row.action == Action.DELETE else None
        resolved.add(document, pk, delete_from, source=row.pk)
    return resolved.operations, resolved.sources, unresolved


def _related_row(label: str, pk: str, database: str) -> Any:
    """Return the row ``pk`` of the model ``label`` (None when it or its model is gone)."""
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        return None
    return model._base_manager.using(database).filter(pk=pk).first()


def send_rows(rows: list[PendingOperation], database: str) -> DrainResult:
    """Send the operations of outbox ``rows`` (of ``database``); settle the rows.

    Confirmed operations are deleted; retryable failures wait with back-off; refused ones
    are marked failed (kept, reported, never dropped).
    """
    result = DrainResult()
    if not rows:
        return result
    operations, behind, unresolved = _operations_of(rows)
    failures = send_operations(operations, database=database) if operations else []
    outcome: dict[int, tuple[bool, str]] = {}
    for failure in failures:
        for key, retryable, error in failure.operations():
            for row_id in behind.get(key, ()):
                outcome[row_id] = (retryable, error)
    for row_id, error in unresolved.items():
        outcome[row_id] = (False, error)
    attempts = {row.pk: row.attempts for row in rows}
    done = [row.pk for row in rows if row.pk not in outcome]
    manager = PendingOperation.objects.using(database)
    with transaction.atomic(using=database):
        if done:
            manager.filter(pk__in=done).delete()
        current = now()
        for row_id, (retryable, error) in outcome.items():
            tries = attempts[row_id] + 1
            manager.filter(pk=row_id).update(
                state=State.PENDING if retryable else State.FAILED,
                attempts=tries,
                next_attempt=current + datetime.timedelta(seconds=backoff(tries)),
                last_attempt=current,
                claimed_until=None,
                claim="",
                last_error=error[:2000],
            )
    result.sent = len(done)
    result.retried_later = sum(1 for retryable, _ in outcome.values() if retryable)
    result.failed = len(outcome) - result.retried_later
    result.failures = failures
    return result


def settle(
    ids: list[int], failures: list[IndexingFailure], operations: Operations, database: str | None
) -> None:
    """After a send of operations recorded as outbox rows ``ids``: delete the confirmed rows,
    and mark the failed ones for a retry (or as refused). Never raises."""
    database = database or DEFAULT_DB_ALIAS
    if not failures:
        # Deleted now, as part of the delivery: a row left for later would look pending to
        # `status` and the deploy check, and a forked child or a killed process would leave
        # it for good.
        try:
            PendingOperation.objects.using(database).filter(pk__in=ids).delete()
        except DatabaseError:
            logger.exception(
                "Could not delete %d sent operation(s) from the outbox of database %r; "
                "drainers will send them again (harmless).",
                len(ids),
                database,
            )
        return
    failed: dict[tuple[type[Document], Any], tuple[bool, str]] = {}
    for failure in failures:
        for key, retryable, error in failure.operations():
            failed[key] = (retryable, error)
    try:
        manager = PendingOperation.objects.using(database)
        rows = list(manager.filter(pk__in=ids))
        keys = _row_keys(rows)
        covered = set(keys.values())
        # Failures of operations no row stands for (the dependants of a related row):
        # kept as rows of their own.
        uncovered = [
            IndexingFailure(f.using, [e for e in f.errors if e.get("key") not in covered])
            for f in failures
        ]
        keep_failures([f for f in uncovered if f.errors], operations, database)
        done = [row.pk for row in rows if keys.get(row.pk) not in failed]
        current = now()
        with transaction.atomic(using=database):
            if done:
                manager.filter(pk__in=done).delete()
            for row in rows:
                row_key = keys.get(row.pk)
                if row_key is None or row_key not in failed:
                    continue
                retryable, error = failed[row_key]
                manager.filter(pk=row.pk).update(
                    state=State.PENDING if retryable else State.FAILED,
                    attempts=row.attempts + 1,
                    next_attempt=current + datetime.timedelta(seconds=backoff(row.attempts + 1)),
                    last_error=error[:2000],
                )
    except DatabaseError:
        logger.exception(
            "Could not settle %d outbox operation(s) in database %r; drainers will send them "
            "again (harmless).",
            len(ids),
            database,
        )


def _row_keys(rows: list[PendingOperation]) -> dict[int, tuple[type[Document], Any] | None]:
    keys: dict[int, tuple[type[Document], Any] | None] = {}
    for row in rows:
        document = registry.document_for_label(row.document)
        model = document.get_model() if document is not None else None
        if document is None or model is None or row.action == Action.RELATED:
            keys[row.pk] = None
            continue
        keys[row.pk] = (document, model._meta.pk.to_python(row.object_pk))
    return keys


def claim(
    database: str,
    limit: int = DEFAULT_BATCH_SIZE,
    *,
    due_only: bool = True,
    include_failed: bool = False,
    ids: list[int] | None = None,
    not_tried_since: datetime.datetime | None = None,
) -> list[PendingOperation]:
    """Claim up to ``limit`` operations of ``database`` for this drainer; return them.

    ``due_only``: only those whose back-off is over (else every pending one). ``ids``: only
    those rows; ``not_tried_since``: not those sent since then. Rows another drainer
    claimed (and whose lease is running) are skipped.
    """
    manager = PendingOperation.objects.using(database)
    current = now()
    states = [State.PENDING, State.FAILED] if include_failed else [State.PENDING]
    candidates = manager.filter(state__in=states).exclude(claimed_until__gt=current)
    if due_only:
        candidates = candidates.filter(next_attempt__lte=current)
    if ids is not None:
        candidates = candidates.filter(pk__in=ids)
    if not_tried_since is not None:
        candidates = candidates.exclude(last_attempt__gte=not_tried_since)
    token = uuid.uuid4().hex
    connection = db_connections[database]
    with transaction.atomic(using=database):
        picked = candidates.order_by("next_attempt", "pk")
        if connection.features.has_select_for_update_skip_locked:
            picked = picked.select_for_update(skip_locked=True)
        chosen = list(picked.values_list("pk", flat=True)[:limit])
        if not chosen:
            return []
        # The claim itself: one conditional UPDATE, so each row goes to one drainer only.
        manager.filter(pk__in=chosen).exclude(claimed_until__gt=current).update(
            claimed_until=current + claim_lease(), claim=token
        )
    return list(manager.filter(pk__in=chosen, claim=token).order_by("pk"))


def deliver(database: str, ids: list[int]) -> dict[str, int]:
    """Send the outbox rows ``ids`` of ``database`` (a queued batch, in a task worker);
    return the counts. Rows that are gone (sent already) or that a drainer claimed are
    skipped."""
    rows = claim(database, len(ids), due_only=False, ids=ids)
    result = send_rows(rows, database)
    return {
        "claimed": len(rows),
        "sent": result.sent,
        "retried_later": result.retried_later,
        "failed": result.failed,
    }


def drain(
    database: str | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    due_only: bool = False,
    include_failed: bool = False,
    progress: Callable[[DrainResult], Any] | None = None,
) -> DrainResult:
    """Send every pending operation (of ``database``, else of every database) once.

    ``due_only``: only those whose back-off is over. ``include_failed``: also the ones
    Elasticsearch refused before (after a fix). ``progress`` is called after each batch with
    the running totals. Operations that fail again wait for their next attempt.
    """
    total = DrainResult()
    started = now()
    for alias in [database] if database else databases():
        while True:
            # Once per drain: what fails again waits for a later one.
            rows = claim(
                alias,
                batch_size,
                due_only=due_only,
                include_failed=include_failed,
                not_tried_since=started,
            )
            if not rows:
                break
            result = send_rows(rows, alias)
            total.sent += result.sent
            total.retried_later += result.retried_later
            total.failed += result.failed
            total.failures.extend(result.failures)
            if progress is not None:
                progress(total)
    return total


# -- status ----------------------------------------------------------------------------------


@dataclass
class OutboxStatus:
    """The outbox of one Document on one database."""

    document: str
    database: str
    pending: int
    failed: int
    oldest: datetime.datetime | None

    @property
    def oldest_age(self) -> float | None:
        """Seconds since the oldest waiting operation was recorded."""
        if self.oldest is None:
            return None
        return (timezone.now() - self.oldest).total_seconds()


def status(database: str | None = None) -> list[OutboxStatus]:
    """Return the outbox depth per Document (and database): pending, failed, oldest."""
    found: list[OutboxStatus] = []
    for alias in [database] if database else databases():
        rows = (
            PendingOperation.objects.using(alias)
            .values("document", "state")
            .annotate(count=Count("pk"), oldest=Min("created"))
        )
        per: dict[str, OutboxStatus] = {}
        for row in rows:
            entry = per.setdefault(
                row["document"], OutboxStatus(row["document"], alias, 0, 0, None)
            )
            if row["state"] == State.FAILED:
                entry.failed += row["count"]
            else:
                entry.pending += row["count"]
            if entry.oldest is None or row["oldest"] < entry.oldest:
                entry.oldest = row["oldest"]
        found.extend(per.values())
    return found


__all__ = [
    "DrainResult",
    "Entry",
    "OutboxStatus",
    "claim",
    "drain",
    "durable",
    "keep_failures",
    "record",
    "report",
    "send_rows",
    "settle",
    "status",
]
