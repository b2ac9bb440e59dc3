"""Signal-driven indexing: keep documents in step with their rows, on transaction commit.

The processor named by ``DJANGOES_SIGNAL_PROCESSOR`` (default
``"djangoes_dsl.signals.TransactionSignalProcessor"``; ``None`` or ``"disabled"`` switches it
off) listens to ``post_save``, ``pre_delete`` and ``m2m_changed`` of every model and turns them
into operations on the Documents of the model (and on the Documents that list it in
``Django.related_models``). See docs/indexing.md.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any, cast

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, models
from django.db import connections as db_connections
from django.db.models import signals

from djangoes.adapters.django import (
    CommitHook,
    append_commit_hook,
    commit_hook_pending,
    savepoint_ids,
)
from djangoes.transactions import on_commit, waits_for_commit

from . import conf, delivery, outbox
from .documents import Document
from .indexing import Operations, OperationSet, errors_mode, report, row_pks, send_operations
from .pause import indexing_paused, is_paused
from .registry import DocumentRegistry, registry
from .relations import parent_links

__all__ = [
    "BaseSignalProcessor",
    "TransactionSignalProcessor",
    "get_signal_processor",
    "indexing_paused",
    "setup_signal_processor",
]

DEFAULT_SIGNAL_PROCESSOR = "djangoes_dsl.signals.TransactionSignalProcessor"
DISABLED = conf.DISABLED_PROCESSOR

# A pending operation: (Document, pk, index to delete from or None to re-read the row), or
# (Document, _RELATED, instance) for a related row whose dependants are found after commit.
_RELATED = object()
_Op = tuple[type[Document], Any, Any]
#: Where a related row keeps the parents it was read with (see ``handle_init``).
_PARENTS = "_djangoes_parents"


def _listens(document: type[Document]) -> bool:
    if getattr(document.Django, "ignore_signals", False) or is_paused(document):
        return False
    try:
        return document.get_binding() is not None
    except ImproperlyConfigured:
        # Invalid ES settings: the change is not dropped. Its send fails, the outbox keeps
        # it (refused, with the error), and `search_index sync --include-failed` sends it
        # once the settings are fixed.
        return True


def _delete_target(document: type[Document]) -> str | None:
    """Return the index the row's document is deleted from; None: decided when sent."""
    try:
        return document.get_index_name()
    except ImproperlyConfigured:
        return None


class BaseSignalProcessor:
    """Turn model signals into document operations; subclasses decide when they are sent.

    ``setup()`` connects the receivers, ``teardown()`` disconnects them. ``enqueue(ops,
    using)`` receives the operations of one signal; ``send(ops, using)`` sends them.
    """

    def __init__(self, registry: DocumentRegistry = registry) -> None:
        self.registry = registry
        self._connected: list[tuple[Any, Any, str]] = []
        #: ``{child model: [(Document, foreign key attribute, parent model)]}``: see
        #: ``relations.parent_links``.
        self._links: dict[type[models.Model], list[tuple[type[Document], str, Any]]] = {}

    # -- wiring ------------------------------------------------------------------------------

    def senders(self) -> tuple[set[type[models.Model]], set[type[models.Model]]]:
        """Return the models whose saves and deletes concern a Document, and the
        many-to-many through models whose changes do.

        Only these get receivers: every other model keeps Django's fast delete (a
        ``pre_delete`` receiver makes ``QuerySet.delete()`` load each row).
        """
        roots: set[type[models.Model]] = set()
        for document in self.registry.documents:
            model = document.get_model()
            if model is not None:
                roots.add(model._meta.concrete_model)  # type: ignore[arg-type]
            roots.update(document.get_related_models())
        rows = {
            model
            for model in apps.get_models(include_auto_created=True)
            if model in roots or model._meta.concrete_model in roots
        }
        through: set[type[models.Model]] = set()
        for model in roots:
            for field in model._meta.get_fields(include_hidden=True):
                if field.many_to_many:
                    # A ManyToManyField holds it on its remote_field, the reverse relation
                    # (ManyToManyRel) on itself.
                    relation: Any = getattr(field, "remote_field", None) or field
                    if getattr(relation, "through", None) is None:
                        relation = field
                    if getattr(relation, "through", None) is not None:
                        through.add(relation.through)
        return rows, through

    def setup(self) -> None:
        """Connect the receivers for the models that concern a Document (see ``senders``);
        connect them again whenever a Document is registered or unregistered."""
        self.connect()
        self.registry.add_listener(self.connect)

    def connect(self) -> None:
        self.disconnect()
        rows, through = self.senders()
        wanted: list[tuple[Any, Any, type[models.Model]]] = [
            (signals.post_save, self.handle_save, model) for model in rows
        ]
        wanted += [(signals.pre_delete, self.handle_pre_delete, model) for model in rows]
        wanted += [(signals.m2m_changed, self.handle_m2m_changed, model) for model in through]
        self._links = {}
        for document in self.registry.documents:
            model = document.get_model()
            for child, attname, parent in parent_links(document, model) if model else ():
                self._links.setdefault(child, []).append((document, attname, parent))
        wanted += [(signals.post_init, self.handle_init, model) for model in self._links]
        for signal, receiver, model in wanted:
            uid = f"djangoes_dsl.signals.{id(self)}.{id(signal)}.{model._meta.label}"
            signal.connect(receiver, sender=model, weak=False, dispatch_uid=uid)
            self._connected.append((signal, model, uid))

    def disconnect(self) -> None:
        for signal, model, uid in self._connected:
            signal.disconnect(sender=model, dispatch_uid=uid)
        self._connected = []

    def teardown(self) -> None:
        self.registry.remove_listener(self.connect)
        self.disconnect()

    # -- which documents a model concerns -----------------------------------------------------

    def _documents(self, model: type[models.Model]) -> list[type[Document]]:
        return [doc for doc in self.registry.documents_for_model(model) if _listens(doc)]

    def _dependants(self, model: type[models.Model]) -> list[type[Document]]:
        return [doc for doc in self.registry.documents_for_related(model) if _listens(doc)]

    # -- receivers ---------------------------------------------------------------------------

    def handle_init(self, sender: Any, instance: models.Model, **kwargs: Any) -> None:
        """Remember the parents a related row was read (or built) with (see ``_moved``)."""
        values = instance.__dict__
        values[_PARENTS] = {
            attname: values.get(attname) for _, attname, _ in self._links.get(sender, ())
        }

    def handle_save(self, sender: Any, instance: models.Model, **kwargs: Any) -> None:
        """Re-index the saved row; re-index the rows whose documents embed it."""
        ops: list[_Op] = [(doc, instance.pk, None) for doc in self._documents(sender)]
        ops += [(doc, _RELATED, instance) for doc in self._dependants(sender)]
        ops += self._moved(sender, instance)
        if ops:
            self.enqueue(ops, kwargs.get("using"))

    def _moved(self, sender: Any, instance: models.Model) -> list[_Op]:
        """Re-index the parent a related row left: the row's documents found through its
        new parent at commit do not reach the old one."""
        ops: list[_Op] = []
        links = self._links.get(sender)
        if not links:
            return ops
        values = instance.__dict__
        loaded = values.get(_PARENTS) or {}
        for document, attname, parent in links:
            old = loaded.get(attname)
            if old is None or old == values.get(attname) or not _listens(document):
                continue
            if parent is document.get_model():
                ops.append((document, old, None))
            else:
                ops.append((document, _RELATED, parent(pk=old)))
        values[_PARENTS] = {attname: values.get(attname) for _, attname, _ in links}
        return ops

    def handle_pre_delete(self, sender: Any, instance: models.Model, **kwargs: Any) -> None:
        """Delete the row's documents (id and index kept now, before the row goes)."""
        ops: list[_Op] = [
            (doc, instance.pk, _delete_target(doc)) for doc in self._documents(sender)
        ]
        for doc in self._dependants(sender):
            # Found now: after the delete the relation to ``instance`` is gone.
            ops += [(doc, pk, None) for pk in row_pks(doc.get_instances_from_related(instance))]
        if ops:
            self.enqueue(ops, kwargs.get("using"))

    def handle_m2m_changed(
        self,
        sender: Any,
        instance: models.Model,
        action: str,
        reverse: bool,
        model: type[models.Model],
        pk_set: set[Any] | None,
        **kwargs: Any,
    ) -> None:
        """Re-index the rows on both sides of changed many-to-many links."""
        if action not in ("post_add", "post_remove", "pre_clear"):
            return
        ops: list[_Op] = [(doc, instance.pk, None) for doc in self._documents(type(instance))]
        other_side = self._documents(model)
        if other_side:
            if action == "pre_clear":
                pk_set = set(_linked_pks(instance, sender, reverse, model, kwargs.get("using")))
            ops += [(doc, pk, None) for doc in other_side for pk in pk_set or ()]
        if ops:
            self.enqueue(ops, kwargs.get("using"))

    def handle_rows(
        self, model: type[models.Model], instances: list[models.Model], using: str | None
    ) -> None:
        """Index ``instances`` of ``model`` and the rows that embed them, as saves would."""
        documents, dependants = self._documents(model), self._dependants(model)
        ops: list[_Op] = [(doc, row.pk, None) for doc in documents for row in instances]
        ops += [(doc, _RELATED, row) for doc in dependants for row in instances]
        if ops:
            self.enqueue(ops, using)

    # -- sending -----------------------------------------------------------------------------

    def enqueue(self, ops: list[_Op], using: str | None) -> None:
        """Send ``ops`` at once (override to defer); in durable mode record them first."""
        ids = record_ops(ops, using) if delivery.records_first() else None
        self.send(ops, using, ids)

    def send(
        self, ops: Iterable[_Op], using: str | None, outbox_ids: list[int] | None = None
    ) -> None:
        """Send ``ops`` (last operation per row wins); keep what failed; report failures.

        ``outbox_ids``: the outbox rows that recorded ``ops`` (durable mode), deleted once
        sent. Without them, failed operations are recorded in the outbox now.
        """
        if outbox_ids is not None and delivery.queued():
            # A task worker reads the rows, sends them and settles the outbox.
            delivery.enqueue(using or DEFAULT_DB_ALIAS, outbox_ids)
            return
        operations = _resolve(ops)
        failures = send_operations(operations, database=using)
        if outbox_ids is not None:
            outbox.settle(outbox_ids, failures, operations, using)
        elif failures:
            outbox.keep_failures(failures, operations, using)
        report(failures)


def record_ops(ops: Iterable[_Op], using: str | None) -> list[int]:
    """Record ``ops`` in the outbox of ``using`` (inside its transaction, if one is open)."""
    entries = []
    for document, pk, extra in ops:
        if pk is _RELATED:
            entries.append(
                outbox.Entry(document, extra.pk, outbox.Action.RELATED, extra._meta.label)
            )
        elif extra:
            entries.append(outbox.Entry(document, pk, outbox.Action.DELETE, extra))
        else:
            entries.append(outbox.Entry(document, pk))
    return outbox.record(entries, using, delay=outbox.grace())


class _Segment:
    """The operations recorded under one set of open savepoints."""

    __slots__ = ("alive",)

    def __init__(self, alive: bool = False) -> None:
        self.alive = alive

    def confirm(self) -> None:
        self.alive = True


class _Batch:
    """The operations of one transaction on one database connection, sent on commit.

    A rolled-back transaction drops the whole batch (Django discards its commit hooks).
    Operations recorded inside a savepoint count only if that savepoint's commit hook
    survives, i.e. the savepoint was not rolled back. Only the batch's newest hook sends,
    so it runs after those markers.
    """

    def __init__(self, processor: TransactionSignalProcessor, connection: Any, using: str) -> None:
        self.processor = processor
        self.using = using
        self.ops: list[tuple[_Segment, _Op]] = []
        self.outbox_ids: list[tuple[_Segment, int]] = []
        self.durable = delivery.records_first()
        self.segments: dict[frozenset[str], _Segment] = {}
        self.sent = False
        self.robust = processor.errors_mode() != "raise"
        self.generation = 0
        self.hook: CommitHook | None = None

    def _append_hook(self, connection: Any) -> None:
        # Not tied to the open savepoints: only a rollback of the whole transaction drops
        # it. Each addition appends a fresh hook and only the newest one sends (older ones do
        # nothing), so the batch goes after every savepoint marker registered before it, and
        # captureOnCommitCallbacks() in tests always sees a hook added inside its block.
        self.generation += 1
        generation = self.generation
        self.hook = append_commit_hook(connection, lambda: self.flush(generation), self.robust)

    def pending_on(self, connection: Any) -> bool:
        return not self.sent and commit_hook_pending(connection, self.hook)

    def add(self, ops: list[_Op], connection: Any) -> None:
        key = savepoint_ids(connection)
        segment = self.segments.get(key)
        if segment is None:
            segment = self.segments[key] = _Segment(alive=not key)
            if key:
                on_commit(connection, segment.confirm)
        self._append_hook(connection)
        self.ops.extend((segment, op) for op in ops)
        if self.durable:
            # Inside the transaction: committed with the change, or rolled back with it.
            self.outbox_ids.extend((segment, pk) for pk in record_ops(ops, self.using))

    def flush(self, generation: int | None = None) -> None:
        if self.sent or (generation is not None and generation != self.generation):
            return
        self.sent = True
        ops, self.ops = self.ops, []
        ids = [pk for segment, pk in self.outbox_ids if segment.alive] if self.durable else None
        self.processor.send([op for segment, op in ops if segment.alive], self.using, ids)


class TransactionSignalProcessor(BaseSignalProcessor):
    """Collect the operations of a transaction and send them in bulk when it commits.

    Outside a transaction (autocommit) each save is sent at once, as one bulk request.
    """

    def __init__(self, registry: DocumentRegistry = registry) -> None:
        super().__init__(registry)
        self._batches: weakref.WeakKeyDictionary[Any, _Batch] = weakref.WeakKeyDictionary()

    @staticmethod
    def errors_mode() -> str:
        return errors_mode()

    def enqueue(self, ops: list[_Op], using: str | None) -> None:
        connection = db_connections[using or DEFAULT_DB_ALIAS]
        if not waits_for_commit(connection):  # see djangoes.transactions for tests
            super().enqueue(ops, connection.alias)  # autocommit: the change is committed
            return
        batch = self._batches.get(connection)
        if batch is None or not batch.pending_on(connection):
            batch = self._batches[connection] = _Batch(self, connection, connection.alias)
        batch.add(ops, connection)


def _resolve(ops: Iterable[_Op]) -> Operations:
    """Return the operations to send, one per row, related rows looked up now."""
    resolved = OperationSet()
    related: dict[tuple[type[Document], type[models.Model], Any], models.Model] = {}
    for document, pk, extra in ops:
        if pk is _RELATED:
            related[(document, type(extra), extra.pk)] = extra
        else:
            resolved.add(document, pk, extra)
    grouped: dict[tuple[type[Document], type[models.Model]], list[Any]] = {}
    for (document, model, pk), instance in related.items():
        if _default_related_lookup(document):
            grouped.setdefault((document, model), []).append(pk)
        else:
            resolved.add_dependants(document, document.get_instances_from_related(instance))
    for (document, model), pks in grouped.items():
        # One query for every changed row of ``model``, not one per row.
        resolved.add_dependants(document, document.rows_from_related(model, pks))
    return resolved.operations


def _default_related_lookup(document: type[Document]) -> bool:
    method = getattr(document.get_instances_from_related, "__func__", None)
    return method is Document.get_instances_from_related.__func__  # type: ignore[attr-defined]


def _linked_pks(
    instance: models.Model, through: Any, reverse: bool, model: Any, using: str | None
) -> list[Any]:
    """Return the pks of ``model`` rows linked to ``instance`` through ``through``."""
    owner = model if reverse else type(instance)
    for m2m in owner._meta.many_to_many:
        if m2m.remote_field.through is through:
            break
    else:
        return []
    source, target = m2m.m2m_field_name(), m2m.m2m_reverse_field_name()
    if reverse:
        source, target = target, source
    manager = cast(Any, through)._default_manager  # not narrowed by the loop's "is"
    if using:
        manager = manager.using(using)
    return list(manager.filter(**{source: instance.pk}).values_list(target, flat=True))


# -- the configured processor -----------------------------------------------------------------

_processor: BaseSignalProcessor | None = None


def get_signal_processor() -> BaseSignalProcessor | None:
    """Return the active signal processor (None when switched off)."""
    return _processor


def setup_signal_processor() -> BaseSignalProcessor | None:
    """(Re)connect the processor named by ``DJANGOES_SIGNAL_PROCESSOR``; return it."""
    global _processor
    if _processor is not None:
        _processor.teardown()
        _processor = None
    processor_class = conf.get("DJANGOES_SIGNAL_PROCESSOR")
    if processor_class is None:
        return None
    _processor = processor_class(registry)
    _processor.setup()
    return _processor


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "DJANGOES_SIGNAL_PROCESSOR":
        setup_signal_processor()


setting_changed.connect(_on_setting_changed, dispatch_uid="djangoes_dsl.signals.setting")
