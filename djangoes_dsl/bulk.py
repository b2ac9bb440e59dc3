"""Index the rows that bulk ORM calls touch: they send no model signals of their own.

``QuerySet.bulk_create()``, ``bulk_update()`` and ``update()`` write rows without
``post_save``. Give a model ``objects = IndexedManager()`` (or a manager built from
``IndexedQuerySet``) and these calls index the touched rows when the transaction commits,
in bulk, like saves do; on a model in a Document's ``Django.related_models`` they re-index
the rows that embed the touched ones. Anything else can say what it touched with
``index_on_commit(rows)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import models, transaction


def index_on_commit(
    rows: models.QuerySet | Iterable[models.Model], using: str | None = None
) -> None:
    """Index ``rows`` (a queryset, or model instances of one model) when the transaction
    commits, as if each had been saved.

    Use it after writes that send no signals (``bulk_create`` on a many-to-many through
    table, raw SQL, ...). Outside a transaction they are sent at once. Nothing happens while
    signal indexing is switched off or paused.
    """
    # Not at the top: this module is imported with the package, before Django's models are
    # ready, and the signal processor's modules need the outbox model.
    from .signals import get_signal_processor

    processor = get_signal_processor()
    if processor is None:
        return
    if isinstance(rows, models.QuerySet):
        using = using or rows.db
        instances: list[models.Model] = list(rows)
    else:
        instances = [row for row in rows if row.pk is not None]
    if not instances:
        return
    processor.handle_rows(type(instances[0]), instances, using)


class IndexedQuerySet(models.QuerySet):
    """A QuerySet whose ``bulk_create``, ``bulk_update`` and ``update`` index the rows they
    touch on commit (see the module's documentation)."""

    def bulk_create(self, objs: Iterable[models.Model], *args: Any, **kwargs: Any) -> list[Any]:
        created = super().bulk_create(objs, *args, **kwargs)
        index_on_commit([obj for obj in created if obj.pk is not None], using=self.db)
        return created

    def bulk_update(self, objs: Iterable[models.Model], *args: Any, **kwargs: Any) -> int:
        objs = list(objs)
        count = super().bulk_update(objs, *args, **kwargs)
        index_on_commit(objs, using=self.db)
        return count

    def update(self, **kwargs: Any) -> int:
        # The rows are found first, in the same transaction as the update; rows another
        # transaction makes match the filter in between are updated but not indexed.
        with transaction.atomic(using=self.db, savepoint=False):
            pks: Sequence[Any] = list(self.values_list("pk", flat=True))
            count = super().update(**kwargs)
            if pks:
                index_on_commit(self.model._base_manager.using(self.db).filter(pk__in=pks))
        return count


#: A manager whose querysets are IndexedQuerySets: ``objects = IndexedManager()``.
IndexedManager = models.Manager.from_queryset(IndexedQuerySet)
