"""Read documents from the database with ``QuerySet.values_list()``: no model instances.

A Document is read this way, in rebuilds and in signal writes, when every one of its fields
is a model column (``Django.fields``) or a lookup path (``Django.lookups``) and it defines no
``prepare_<field>`` method and overrides none of ``prepare``, ``source``, ``from_instance``
and ``to_action``. A page of rows is then one query for the columns and the to-one paths
(joins), plus one query per to-many path; the documents are exactly those ``source()``
builds from model instances, at a fraction of the cost. Otherwise rows are read as model
instances (with the queryset's ``select_related``/``prefetch_related``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models.constants import LOOKUP_SEP

from .adapters import mapping_field_names, mapping_fields
from .embeddings import computed_field_names
from .relations import ObjectColumns, reads_through_path, values_plan

#: Document methods that, when overridden, make a Document read model instances.
INSTANCE_METHODS = ("prepare", "source", "from_instance", "to_action")


@dataclass(frozen=True)
class Lookup:
    """A resolved ``Django.lookups`` path: its last field, and whether it yields a list."""

    path: str
    field: models.Field
    many: bool


def resolve_lookup(model: type[models.Model], path: str) -> Lookup:
    """Follow ``path`` (``"category__name"``) from ``model``; raise ValueError if it can't.

    Every part but the last must be a relation; the last must be a field that is not one.
    """
    parts = path.split(LOOKUP_SEP)
    current: Any = model
    many = False
    for number, part in enumerate(parts):
        try:
            field = current._meta.get_field(part)
        except FieldDoesNotExist:
            raise ValueError(f"'{path}': {current.__name__} has no field '{part}'") from None
        last = number == len(parts) - 1
        if field.is_relation:
            if last:
                raise ValueError(
                    f"'{path}' ends at the relation '{part}': name one of "
                    f"{field.related_model.__name__}'s fields, e.g. '{path}{LOOKUP_SEP}pk'"
                )
            many = many or field.many_to_many or field.one_to_many
            current = field.related_model
        elif not last:
            raise ValueError(f"'{path}': '{part}' is not a relation, it cannot be followed")
    return Lookup(path, field, many)


def lookups_of(document: type[Any]) -> dict[str, str]:
    """Return ``Django.lookups``: ``{document field: lookup path}``."""
    return dict(getattr(document.Django, "lookups", None) or {})


def path_getter(lookup: Lookup, plain: Callable[[Any], Any]) -> Callable[[Any, Any], Any]:
    """Return ``get(document, instance)`` that follows ``lookup`` on a model instance.

    The values of a to-many lookup go through ``plain`` and are sorted, as when read by
    :class:`ValuesReader`.
    """
    parts = lookup.path.split(LOOKUP_SEP)

    def get(document: Any, instance: models.Model) -> Any:
        objects: list[Any] = [instance]
        for part in parts:
            found: list[Any] = []
            for obj in objects:
                value = getattr(obj, part, None)
                if isinstance(value, models.Manager):
                    found.extend(value.all())
                elif value is not None:
                    found.append(value)
            objects = found
        if lookup.many:
            return _sorted([plain(value) for value in objects])
        return objects[0] if objects else None

    return get


def _sorted(values: list[Any]) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:
        return values


@dataclass(frozen=True)
class ValuesReader:
    """Builds a Document's ``_source`` dicts from ``values_list()`` rows."""

    columns: tuple[tuple[str, str], ...]  # (document field, path) read by the page's query
    many: tuple[tuple[str, str], ...]  # (document field, to-many path): a query per page
    plain: Callable[[Any], Any]  # turns a database value into the document's value
    #: Per column: whether its values go through ``plain`` (False: the database gives
    #: str, int, bool, date or datetime values, or None).
    convert: tuple[bool, ...]
    #: Object and Nested fields read through relations: to-one ones joined, a query per page
    #: for each to-many one.
    objects: tuple[ObjectColumns, ...] = ()

    def read(self, queryset: models.QuerySet, limit: int | None = None) -> list[tuple[Any, dict]]:
        """Return ``[(pk, source)]`` for the rows of ``queryset`` (the first ``limit``).

        With ``limit``, ``queryset`` must be ordered by primary key.
        """
        queryset = queryset.select_related(None).prefetch_related(None)
        joined = [plan for plan in self.objects if not plan.many]
        extra = [f"{plan.path}__{column}" for plan in joined for _, column, _ in plan.columns]
        rows = queryset.values_list("pk", *(path for _, path in self.columns), *extra)
        if limit is not None:
            rows = rows[:limit]
        names = [name for name, _ in self.columns]
        plain = self.plain
        converted = [position for position, convert in enumerate(self.convert, 1) if convert]
        order: list[Any] = []
        sources: dict[Any, dict[str, Any]] = {}
        for row in rows:
            if converted:
                row = list(row)
                for position in converted:
                    value = plain(row[position])
                    row[position] = None if value == [] or value == {} else value
            pk = row[0]
            order.append(pk)  # a row the queryset yields twice is indexed twice, as instances
            sources[pk] = {
                name: value
                for name, value in zip(names, row[1 : 1 + len(names)], strict=True)
                if value is not None
            }
            position = 1 + len(names)
            for plan in joined:
                width = len(plan.columns)
                found = self._object(plan, row[position : position + width])
                position += width
                if found:
                    sources[pk][plan.name] = found
        if self.objects and sources:
            base = queryset.model._base_manager.using(queryset.db).filter(_page_rows(sources))
            for plan in self.objects:
                if plan.many:
                    self._read_lists(plan, base, sources)
        if self.many and sources:
            base = queryset.model._base_manager.using(queryset.db).filter(_page_rows(sources))
            for name, path in self.many:
                lists: dict[Any, list[Any]] = {}
                for pk, value in base.filter(**{f"{path}__isnull": False}).values_list("pk", path):
                    lists.setdefault(pk, []).append(plain(value))
                for pk, values in lists.items():
                    if pk in sources:
                        sources[pk][name] = _sorted(values)
        return [(pk, sources[pk]) for pk in order]

    def _object(self, plan: ObjectColumns, values: Any) -> dict[str, Any]:
        plain = self.plain
        found = {}
        for (name, _, convert), value in zip(plan.columns, values, strict=True):
            if convert:
                value = plain(value)
            if value is not None and value != [] and value != {}:
                found[name] = value
        return found

    def _read_lists(
        self, plan: ObjectColumns, base: models.QuerySet, sources: dict[Any, dict[str, Any]]
    ) -> None:
        """Read the objects of a to-many ``plan`` for a page: one query."""
        columns = [f"{plan.path}__{column}" for _, column, _ in plan.columns]
        rows = (
            base.filter(**{f"{plan.path}__isnull": False})
            .order_by("pk", *plan.ordering)
            .values_list("pk", *columns)
        )
        lists: dict[Any, list[dict[str, Any]]] = {}
        for pk, *values in rows:
            lists.setdefault(pk, []).append(self._object(plan, values))
        for pk, objects in lists.items():
            if pk in sources:
                sources[pk][plan.name] = objects


def _page_rows(pks: dict[Any, Any]) -> models.Q:
    """The rows of a page by primary key: a range when the keys are integers that fill
    most of it (a page of a table read in key order: other rows of the range are read and
    left out), else the list (a thousand parameters cost Django more than the query)."""
    if all(type(pk) is int for pk in pks):
        lowest, highest = min(pks), max(pks)
        if highest - lowest < 2 * len(pks):
            return models.Q(pk__gte=lowest, pk__lte=highest)
    return models.Q(pk__in=list(pks))


def values_reader(
    document: type[Any], base: type[Any], plain: Callable[[Any], Any]
) -> ValuesReader | None:
    """Return how to read ``document`` with ``values_list()``, or None if it needs instances.

    ``base`` is the Document base class, whose INSTANCE_METHODS ``document`` must not
    override.
    """
    model = document.get_model()
    if model is None:
        return None
    for method in INSTANCE_METHODS:
        if inspect.getattr_static(document, method) is not inspect.getattr_static(base, method):
            return None
    lookups = lookups_of(document)
    columns: list[tuple[str, str]] = []
    convert: list[bool] = []
    many: list[tuple[str, str]] = []
    objects: list[ObjectColumns] = []
    mapped = mapping_fields(document)
    computed = computed_field_names(document)
    for name in mapping_field_names(document):
        if name in computed:
            continue
        if document._has_prepare(name):
            return None
        if reads_through_path(mapped[name]):
            # Object, Nested and attr fields: joined or one query per page, when they can be.
            plan = values_plan(document, model, name, _gives_plain_values)
            if plan is None:
                return None
            if isinstance(plan, ObjectColumns):
                objects.append(plan)
            else:
                columns.append((name, plan[1]))
                convert.append(True)
            continue
        if name in lookups:
            try:
                lookup = resolve_lookup(model, lookups[name])
            except ValueError:
                return None
            if isinstance(lookup.field, models.FileField):
                return None
            if lookup.many:
                many.append((name, lookup.path))
            else:
                columns.append((name, lookup.path))
                convert.append(not _gives_plain_values(lookup.field))
            continue
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            return None
        # A file is a FieldFile on an instance (an empty one indexed as missing).
        if not field.concrete or field.many_to_many or isinstance(field, models.FileField):
            return None
        columns.append((name, field.attname))
        convert.append(not _gives_plain_values(field))
    return ValuesReader(tuple(columns), tuple(many), plain, tuple(convert), tuple(objects))


#: Model fields whose values come from every database as str, int, bool, date, datetime
#: or None (unless a subclass converts them itself, with ``from_db_value``).
_PLAIN_FIELDS = (
    models.CharField,
    models.TextField,
    models.IntegerField,
    models.BooleanField,
    models.DateField,
)


def _gives_plain_values(field: Any) -> bool:
    """Whether ``values_list()`` gives the values of ``field`` (a foreign key: of the field
    it points to) as the document holds them, without ``plain``."""
    while isinstance(field, models.ForeignKey):
        field = field.target_field
    return isinstance(field, _PLAIN_FIELDS) and not hasattr(field, "from_db_value")
