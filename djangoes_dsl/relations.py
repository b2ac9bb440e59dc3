"""Fields read through relations: ``Object``/``Nested`` from related rows, ``attr`` paths.

A Document field from :mod:`djangoes_dsl.fields` may name where its value comes from with
``attr`` (``"manufacturer.name"``, or ``"manufacturer__name"``); without it, from the
attribute of the field's own name. An ``Object`` or ``Nested`` field read that way through a
relation holds the related row's properties: one object through a foreign key or a
one-to-one, a list of objects through a reverse foreign key or a many-to-many. Each property
is read from the related row by its own ``attr`` or name, or by the Document's method
``prepare_<field>__<property>(self, related_row)``. A method or property on the way is
called; a dict is read by key.

What the Document reads through relations decides three things here:

- the ``select_related`` / ``prefetch_related`` lookups its rows are read with, so a page of
  rows costs a fixed number of queries whatever the number of related rows
  (:func:`read_lookups`);
- the models whose changes re-index it, and how its rows are found from a related row
  (:func:`related_paths`), which ``Document.get_related_models`` and
  ``Document.get_instances_from_related`` use.
- the properties of ``model_fields=``, mapped from the related model's field types when the
  Document class is built (:func:`expand_model_fields`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import models
from django.db.models.constants import LOOKUP_SEP
from django.utils.encoding import force_str
from django.utils.functional import Promise

from .adapters import inner_document, mapping_fields, object_properties
from .fields import AttrMixin, Object, field_for_model_field


@dataclass(frozen=True)
class Path:
    """A field's source: the attribute path, and the properties when it is an object."""

    name: str
    parts: tuple[str, ...]
    field: Any
    properties: tuple[Path, ...] | None  # None: a value, not an object

    @property
    def is_object(self) -> bool:
        return self.properties is not None


def split_attr(attr: str) -> tuple[str, ...]:
    """Return the parts of an ``attr`` path: dots or Django's ``__`` separate them."""
    return tuple(part for part in attr.replace(LOOKUP_SEP, ".").split(".") if part)


def _path(name: str, field: Any) -> Path:
    attr = getattr(field, "_djangoes_attr", None)
    parts = split_attr(attr) if attr else (name,)
    properties = None
    if isinstance(field, Object):
        properties = tuple(_path(prop, sub) for prop, sub in object_properties(field).items())
    return Path(name, parts, field, properties)


def reads_through_path(field: Any) -> bool:
    """Whether a Document field is read by :func:`getter`: an ``attr`` or an ``Object``."""
    return isinstance(field, Object) or (
        isinstance(field, AttrMixin) and field._djangoes_attr is not None
    )


def paths(document: type) -> dict[str, Path]:
    """Return ``{field name: Path}`` for the Document's fields read through paths."""
    return {
        name: _path(name, field)
        for name, field in mapping_fields(document).items()
        if reads_through_path(field)
    }


# -- reading values from model instances ------------------------------------------------------


def follow(value: Any, parts: tuple[str, ...]) -> Any:
    """Return what ``parts`` lead to from ``value``: an object, a value, a list, or None.

    A related manager gives its rows (a list), a callable is called, a mapping is read by
    key; a missing related row (``ObjectDoesNotExist``) or attribute gives None. Through a
    list, the rest of the path is followed from each item (a flat list).
    """
    for number, part in enumerate(parts):
        if value is None:
            return None
        if isinstance(value, list):
            rest = parts[number:]
            found: list[Any] = []
            for item in value:
                got = follow(item, rest)
                if isinstance(got, list):
                    found.extend(got)
                elif got is not None:
                    found.append(got)
            return found
        value = _step(value, part)
    return _resolved(value)


def _step(value: Any, part: str) -> Any:
    if isinstance(value, Mapping):
        return _resolved(value.get(part))
    try:
        return _resolved(getattr(value, part))
    except ObjectDoesNotExist:
        return None
    except AttributeError:
        return None


def _resolved(value: Any) -> Any:
    if isinstance(value, models.Manager):
        return list(value.all())
    if isinstance(value, models.QuerySet):
        return list(value)
    if isinstance(value, Promise):
        return force_str(value)
    if callable(value) and not isinstance(value, (type, models.Model)):
        return _resolved(value())
    return value


Getter = Callable[[Any, Any], Any]


def getter(document: type, path: Path, plain: Callable[[Any], Any]) -> Getter:
    """Return ``get(document_instance, model_instance)`` for a top-level ``path``."""
    if not path.is_object:
        return _value_reader(path, plain)

    build = _object_builder(document, path, path.name, plain)

    def get_object(doc: Any, instance: Any) -> Any:
        return build(doc, follow(instance, path.parts))

    return get_object


def _converter(field: Any, plain: Callable[[Any], Any]) -> Callable[[Any], Any]:
    # A field class may say how its values are indexed (the compat FileField: the file's
    # URL); else the Document's conversion of model values.
    convert = getattr(field, "djangoes_value", None)
    return convert if convert is not None else plain


def _object_builder(
    document: type, path: Path, prefix: str, plain: Callable[[Any], Any]
) -> Callable[[Any, Any], Any]:
    """Return ``build(document_instance, found)``: the object(s) of ``found``."""
    readers: list[tuple[str, Callable[[Any, Any], Any]]] = []
    inner = inner_document(path.field)
    for prop in path.properties or ():
        readers.append((prop.name, _property_reader(document, inner, prop, prefix, plain)))

    def one(doc: Any, obj: Any) -> Any:
        if not readers:
            return dict(obj) if isinstance(obj, Mapping) else None
        data = {}
        for name, read in readers:
            value = read(doc, obj)
            if value is not None and value != [] and value != {}:
                data[name] = value
        return data

    def build(doc: Any, found: Any) -> Any:
        if found is None:
            return None
        if isinstance(found, (list, tuple, set)):
            return [one(doc, obj) for obj in in_order(found) if obj is not None]
        return one(doc, found)

    return build


def in_order(rows: Any) -> list[Any]:
    """Return related rows in their model's ``Meta.ordering`` (as the relation gives them),
    else by primary key: the same order whichever way the rows were read."""
    rows = list(rows)
    models_only = rows and all(isinstance(row, models.Model) for row in rows)
    if models_only and not rows[0]._meta.ordering:
        return sorted(rows, key=lambda row: (row.pk is None, row.pk))
    return rows


def _property_reader(
    document: type, inner: Any, prop: Path, prefix: str, plain: Callable[[Any], Any]
) -> Callable[[Any, Any], Any]:
    method = f"prepare_{prefix}{LOOKUP_SEP}{prop.name}"
    if hasattr(document, method):
        return lambda doc, obj: getattr(doc, method)(obj)
    # An InnerDoc given as doc_class may prepare its own properties (prepare_<property>).
    own = getattr(inner, f"prepare_{prop.name}", None) if inner is not None else None
    if callable(own):
        return lambda doc, obj: getattr(inner(), f"prepare_{prop.name}")(obj)
    if prop.is_object:
        build = _object_builder(document, prop, f"{prefix}{LOOKUP_SEP}{prop.name}", plain)
        return lambda doc, obj: build(doc, follow(obj, prop.parts))
    return _value_reader(prop, plain)


def _value_reader(path: Path, plain: Callable[[Any], Any]) -> Getter:
    """Return ``read(document_instance, obj)``: the value (or list of values) ``path``
    leads to from ``obj``, converted for the index."""
    convert = _converter(path.field, plain)

    def read(doc: Any, obj: Any) -> Any:
        value = follow(obj, path.parts)
        if isinstance(value, list):
            return [convert(item) for item in value if item is not None]
        return None if value is None else convert(value)

    return read


# -- what the database is asked ---------------------------------------------------------------


@dataclass(frozen=True)
class Hop:
    """A relation a path goes through, from the Document's model."""

    query: str  # the path as a filter() lookup: "ads", "manufacturer__car"
    attribute: str  # the path as a prefetch_related() lookup: accessor names
    model: type[models.Model]  # the model it reaches
    to_one: bool  # every relation on the way is a forward foreign key or one-to-one
    #: For a reverse foreign key or one-to-one: the model reached, the attribute of its
    #: foreign key column, and the model that key points to (the row's parent).
    link: tuple[type[models.Model], str, type[models.Model]] | None = None


def _relation(model: type[models.Model], part: str) -> Any:
    """Return the relation of ``model`` whose attribute is ``part``; None if none is."""
    try:
        field = model._meta.get_field(part)
    except FieldDoesNotExist:
        field = None
    if field is not None and field.is_relation and (field.concrete or field.many_to_many):
        return field
    for related in model._meta.related_objects:
        if related.get_accessor_name() == part:
            return related
    if field is not None and field.is_relation and not field.concrete:
        return field  # a reverse relation named by its query name
    return None


def hops(model: type[models.Model], parts: Iterable[str]) -> list[Hop]:
    """Return the relations ``parts`` go through from ``model``, until the first part that
    is not a relation."""
    found: list[Hop] = []
    query: list[str] = []
    attribute: list[str] = []
    current: Any = model
    to_one = True
    for part in parts:
        relation = _relation(current, part)
        if relation is None:
            break
        concrete = getattr(relation, "concrete", False)
        forward_one = concrete and (relation.many_to_one or relation.one_to_one)
        to_one = to_one and bool(forward_one)
        query.append(relation.name)
        attribute.append(part)
        link = None
        if not concrete and not relation.many_to_many:
            link = (relation.related_model, relation.field.attname, current)
        current = relation.related_model
        found.append(Hop(LOOKUP_SEP.join(query), LOOKUP_SEP.join(attribute), current, to_one, link))
    return found


def _walk(model: type[models.Model], path: Path, prefix: Hop | None) -> list[Hop]:
    """Return every relation a path and its properties go through, from the Document's
    model (deeper hops prefixed by the outer one)."""
    start = prefix.model if prefix is not None else model
    own = hops(start, path.parts)
    if prefix is not None:
        own = [
            Hop(
                f"{prefix.query}{LOOKUP_SEP}{hop.query}",
                f"{prefix.attribute}{LOOKUP_SEP}{hop.attribute}",
                hop.model,
                prefix.to_one and hop.to_one,
                hop.link,
            )
            for hop in own
        ]
    found = list(own)
    if path.properties and own and len(own) == len(path.parts):
        for prop in path.properties:
            found += _walk(model, prop, own[-1])
    return found


def relation_hops(document: type, model: type[models.Model]) -> list[Hop]:
    """Return every relation the Document's path-read fields go through, from ``model``."""
    found: dict[str, Hop] = {}
    for path in paths(document).values():
        for hop in _walk(model, path, None):
            found.setdefault(hop.query, hop)
    return list(found.values())


def read_lookups(document: type, model: type[models.Model]) -> tuple[list[str], list[str]]:
    """Return ``(select_related, prefetch_related)`` lookups that read what the Document's
    fields need through relations with the rows: a fixed number of queries per page."""
    hops_found = relation_hops(document, model)
    joined = [hop.query for hop in hops_found if hop.to_one]
    # Only the deepest of each chain: prefetch_related("a__b") prefetches "a" as well.
    fetched = [hop.attribute for hop in hops_found if not hop.to_one]
    deepest = [
        lookup
        for lookup in fetched
        if not any(other.startswith(f"{lookup}{LOOKUP_SEP}") for other in fetched)
    ]
    return joined, deepest


def related_paths(document: type, model: type[models.Model]) -> list[tuple[str, type]]:
    """Return ``(filter lookup, related model)`` for every relation the Document's fields
    read through: a change to a row of that model re-indexes ``model``'s rows whose
    ``lookup`` reaches it."""
    return [(hop.query, hop.model) for hop in relation_hops(document, model)]


def parent_links(
    document: type, model: type[models.Model]
) -> list[tuple[type[models.Model], str, type[models.Model]]]:
    """Return ``(child model, foreign key attribute, parent model)`` for each foreign key a
    related row holds on the way (a reverse foreign key or one-to-one): when it changes, the
    row leaves one parent for another, and both parents' documents change."""
    return list(dict.fromkeys(hop.link for hop in relation_hops(document, model) if hop.link))


def expand_model_fields(field: Any, model: type[models.Model] | None, name: str) -> Any:
    """Return ``field`` with the properties its ``model_fields`` name mapped from the types
    of the related model's fields (unchanged when it names none)."""
    wanted = getattr(field, "_djangoes_model_fields", ())
    if not wanted or model is None:
        return field
    attr = getattr(field, "_djangoes_attr", None)
    found = hops(model, split_attr(attr) if attr else (name,))
    if not found:
        raise TypeError(
            f"{name} = {type(field).__name__}(model_fields=...): '{attr or name}' is not a "
            f"relation of {model.__name__}; give properties= instead."
        )
    related = found[-1].model
    properties = dict(object_properties(field))
    for field_name in wanted:
        if field_name not in properties:
            model_field: Any = (
                related._meta.pk if field_name == "pk" else related._meta.get_field(field_name)
            )
            properties[field_name] = field_for_model_field(model_field)
    kwargs = dict(field._djangoes_kwargs)
    kwargs["properties"] = properties
    return type(field)(**kwargs)


# -- reading with values_list() -----------------------------------------------------------------


@dataclass(frozen=True)
class ObjectColumns:
    """An ``Object``/``Nested`` field read with ``values_list()``: ``path`` is the relation
    (a filter lookup), ``columns`` its properties as ``(name, column, converted)``."""

    name: str
    path: str
    columns: tuple[tuple[str, str, bool], ...]
    many: bool
    ordering: tuple[str, ...]  # of the related rows of a list: lookups from the row


def values_plan(
    document: type, model: type[models.Model], name: str, gives_plain: Callable[[Any], bool]
) -> tuple[str, str] | ObjectColumns | None:
    """Return how ``values_list()`` reads the path-read field ``name``: ``("column", path)``
    for a value through to-one relations, an :class:`ObjectColumns`, or None when the field
    needs model instances (a method, a file, a converted value, a prepare hook, a property
    that is a relation or an object, a value through a to-many relation).

    ``gives_plain(model_field)``: whether the database gives the field's values as the
    document holds them.
    """
    path = paths(document)[name]
    if getattr(path.field, "djangoes_value", None) is not None:
        return None
    found = hops(model, path.parts)
    if not path.is_object:
        if len(found) != len(path.parts) - 1 or (found and not found[-1].to_one):
            return None
        end = found[-1].model if found else model
        field = _plain_column(end, path.parts[-1])
        if field is None:
            return None
        prefix = f"{found[-1].query}{LOOKUP_SEP}" if found else ""
        return ("column", f"{prefix}{field.attname if not found else field.name}")
    if not found or len(found) != len(path.parts):
        return None
    related = found[-1].model
    inner = inner_document(path.field)
    columns = []
    for prop in path.properties or ():
        method = f"prepare_{name}{LOOKUP_SEP}{prop.name}"
        own = getattr(inner, f"prepare_{prop.name}", None) if inner is not None else None
        if prop.is_object or hasattr(document, method) or own is not None:
            return None
        if len(prop.parts) != 1 or getattr(prop.field, "djangoes_value", None) is not None:
            return None
        field = _plain_column(related, prop.parts[0])
        if field is None:
            return None
        columns.append((prop.name, field.name, not gives_plain(field)))
    if not columns:
        return None
    query = found[-1].query
    ordering = tuple(
        f"-{query}{LOOKUP_SEP}{item[1:]}" if item.startswith("-") else f"{query}{LOOKUP_SEP}{item}"
        for item in (related._meta.ordering or ["pk"])
        if isinstance(item, str)
    )
    return ObjectColumns(name, query, tuple(columns), not found[-1].to_one, ordering)


def _plain_column(model: type[models.Model], name: str) -> Any:
    """Return the concrete field ``name`` of ``model`` read as a column, or None (a
    relation, a file, or no such field)."""
    try:
        field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    if not getattr(field, "concrete", False) or field.is_relation:
        return None
    if isinstance(field, models.FileField):
        return None
    return field
