"""The Document base: an elasticsearch.dsl Document bound to a configured index and a model."""

from __future__ import annotations

import datetime
import decimal
import inspect
import types
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import models
from elasticsearch import dsl
from elasticsearch.dsl import async_connections

from djangoes.adapters.django import prefetch_lookups, prefetch_to_many, to_many_lookup

from .adapters import (
    INDEX_ATTRIBUTE,
    DocumentHooks,
    coerced_fields,
    document_from_hit,
    keep_own_index,
    mapping_field_names,
    unnamed_index_options,
    value_reader,
)
from .asyncsearch import AsyncSearch
from .embeddings import computed_field_names, embed_sources, embedding_fields, hash_field_name
from .fields import Embedding, Keyword, field_for_model_field
from .relations import expand_model_fields, getter, paths, read_lookups, related_paths
from .search import Search
from .values import (
    INSTANCE_METHODS,
    ValuesReader,
    lookups_of,
    path_getter,
    resolve_lookup,
    values_reader,
)
from .versions import read_version, versioned

DEFAULT_CHUNK_SIZE = 1000

#: The keyword field that names each document's kind in an index shared by several Documents.
KIND_FIELD = "djangoes_kind"

_S = TypeVar("_S", Search, AsyncSearch)


class DocumentMeta(type(dsl.Document)):  # type: ignore[misc]
    """Add a mapping field for every name in ``Django.fields`` before the class is built."""

    def __new__(mcs, name: str, bases: tuple[type, ...], attrs: dict[str, Any]) -> Any:
        django_opts = attrs.get("Django")
        model = getattr(django_opts, "model", None)
        for field_name, value in list(attrs.items()):
            if getattr(value, "_djangoes_model_fields", ()):
                attrs[field_name] = expand_model_fields(value, model, field_name)
        for field_name in getattr(django_opts, "fields", ()) if model is not None else ():
            if field_name in attrs or model is None:
                continue
            try:
                model_field = model._meta.get_field(field_name)
            except FieldDoesNotExist:
                # Reported by the system check djangoes_dsl.E003; no mapping for it.
                continue
            attrs[field_name] = field_for_model_field(model_field)
        for field_name, path in (getattr(django_opts, "lookups", None) or {}).items():
            if field_name in attrs or model is None:
                continue
            try:
                lookup = resolve_lookup(model, path)
            except ValueError:
                # Reported by the system check djangoes_dsl.E006; no mapping for it.
                continue
            attrs[field_name] = field_for_model_field(lookup.field, multi=lookup.many)
        for field_name, value in list(attrs.items()):
            if isinstance(value, Embedding):
                # The hash of the text the vector was computed from (see embeddings.py).
                attrs.setdefault(hash_field_name(field_name), Keyword(index=False))
        # Each Document class starts with an unnamed index of its own; registering it binds
        # it to a configured index (see registry.py).
        attrs.setdefault("Index", unnamed_index_options())
        return super().__new__(mcs, name, bases, attrs)

    def __setattr__(cls, name: str, value: Any) -> None:
        if name == INDEX_ATTRIBUTE:
            keep_own_index(cls, value)
            return
        super().__setattr__(name, value)
        if name.startswith("prepare") or name in INSTANCE_METHODS:
            cls._forget_readers()

    def __delattr__(cls, name: str) -> None:
        super().__delattr__(name)
        if name.startswith("prepare") or name in INSTANCE_METHODS:
            cls._forget_readers()

    def _forget_readers(cls) -> None:
        """Drop the cached ways of reading rows (a prepare method was added or removed)."""
        for klass in (cls, *_all_subclasses(cls)):
            caches = (
                "_djangoes_getters",
                "_djangoes_reader",
                "_djangoes_lookups",
                "_djangoes_related",
                "_djangoes_embeddings",
            )
            for cache in caches:
                if cache in klass.__dict__:
                    type.__delattr__(klass, cache)


def _all_subclasses(cls: type) -> list[type]:
    found: list[type] = []
    subclasses: list[type] = cls.__subclasses__()
    for sub in subclasses:
        found += [sub, *_all_subclasses(sub)]
    return found


@dataclass(frozen=True)
class Binding:
    """Where a registered Document's index is now (live or test names)."""

    key: str  # the ES_INDICES key
    using: str  # the ES_SERVERS alias of the server that holds it
    name: str  # NAME: where writes go
    aliases: tuple[str, ...]  # ALIASES: the first one is where reads go
    index: dsl.Index  # the elasticsearch.dsl Index, with the mapping of every Document on it
    shared: bool = False  # several Documents are registered to the key: ids carry their kind

    @property
    def read_name(self) -> str:
        return self.aliases[0] if self.aliases else self.name

    def holds(self, found: str) -> bool:
        """Return whether the concrete index name ``found`` (of a hit) is this index: NAME,
        or ``<NAME>-<timestamp>`` behind it after a zero-downtime rebuild."""
        return found == self.name or found.startswith(f"{self.name}-")


class Document(DocumentHooks, dsl.Document, metaclass=DocumentMeta):
    """A search document bound, by ``@register("<ES_INDICES key>")``, to a configured index.

    An inner ``class Django`` connects it to a model:

    - ``model``: the model whose rows this document indexes;
    - ``fields``: model fields mapped automatically (see ``fields.MODEL_FIELD_TYPES``);
    - ``lookups``: ``{field: "relation__field"}`` values taken through relations (a list
      through to-many ones), mapped automatically unless the field is declared;
    - ``related_models``: models whose changes re-index the documents of related rows;
    - ``queryset_pagination``: rows fetched per chunk when (re)building (default 1000);
    - ``ignore_signals``: set True to keep this document out of signal-driven indexing;
    - ``kind``: the name of this Document's documents in an index shared with other
      Documents (default: the model's ``app_label.model_name``, else the class name in
      lower case). In a shared index ids are ``<kind>:<pk>``, every document carries its
      kind in ``djangoes_kind``, and searches return only their own kind.

    ``prepare_<field>(self, instance)`` overrides how any field's value is taken.
    """

    class Django:
        model: type[models.Model] | None = None
        fields: ClassVar[list[str]] = []
        lookups: ClassVar[dict[str, str]] = {}
        related_models: ClassVar[list[type[models.Model]]] = []
        queryset_pagination = DEFAULT_CHUNK_SIZE
        ignore_signals = False
        kind: str | None = None

    #: The Search class ``search()`` returns.
    search_class = Search

    # -- index binding ----------------------------------------------------------------------

    @classmethod
    def get_binding(cls) -> Binding | None:
        """Return where this document's index is now; None when it is not bound to one.

        Raise ImproperlyConfigured when ES_SERVERS or ES_INDICES are invalid.
        """
        registry = cls.__dict__.get("_djangoes_registry")
        return registry.binding(cls) if registry is not None else None

    @classmethod
    def is_bound(cls) -> bool:
        """Return whether this document is registered to a configured, served index."""
        try:
            return cls.get_binding() is not None
        except ImproperlyConfigured:
            return False

    @classmethod
    def _bound(cls) -> Binding:
        binding = cls.get_binding()
        if binding is None:
            raise ImproperlyConfigured(
                f"{cls.__name__} is not bound to an index: decorate it with "
                f"@register('<ES_INDICES key>') in a search_indices.py module of an installed "
                f"app, with that key configured in ES_INDICES and served by an ES_SERVERS entry "
                f"('manage.py check' says which part is missing)."
            )
        return binding

    @classmethod
    def get_index_key(cls) -> str:
        """Return the ES_INDICES key this document is registered to."""
        return cls._bound().key

    @classmethod
    def get_using(cls) -> str:
        """Return the ES_SERVERS alias whose server holds this document's index."""
        return cls._bound().using

    @classmethod
    def get_index_name(cls) -> str:
        """Return the index name writes go to (the configured NAME, test name under tests)."""
        return cls._bound().name

    @classmethod
    def get_read_index(cls) -> str:
        """Return the name searches go to: the first configured alias, else the NAME."""
        return cls._bound().read_name

    @classmethod
    def owns_hit(cls, hit: dict[str, Any]) -> bool:
        """Return whether a search hit is one of this document's.

        Hits carry the concrete index name, which after a zero-downtime rebuild is
        ``<NAME>-<timestamp>`` behind the NAME alias. In an index shared with other
        Documents, the hit's id must also carry this document's kind.
        """
        binding = cls.get_binding()
        if binding is None or not binding.holds(hit.get("_index", "")):
            return False
        return not binding.shared or str(hit.get("_id", "")).startswith(f"{cls.get_kind()}:")

    @classmethod
    def get_kind(cls) -> str:
        """Return the name of this document's kind (see ``Django.kind``)."""
        kind = getattr(cls.Django, "kind", None)
        if kind:
            return str(kind)
        model = cls.get_model()
        return model._meta.label_lower if model is not None else cls.__name__.lower()

    @classmethod
    def _id_prefix(cls) -> str:
        binding = cls.get_binding()
        return f"{cls.get_kind()}:" if binding is not None and binding.shared else ""

    @classmethod
    def document_id(cls, pk: Any) -> str:
        """Return the ``_id`` of the row ``pk``'s document: the pk, or ``<kind>:<pk>`` when
        the index is shared with other Documents."""
        return f"{cls._id_prefix()}{pk}"

    @classmethod
    def pk_from_id(cls, document_id: str) -> Any:
        """Return the primary key of the row a document ``_id`` stands for; None when the id
        is not one of this Document's."""
        return cls._id_reader()(document_id)

    @classmethod
    def _id_reader(cls) -> Callable[[str], Any]:
        """Return ``pk_from_id`` for many ids: the prefix and the primary key field are
        looked up once."""
        prefix = cls._id_prefix()
        model = cls.get_model()
        to_python = model._meta.pk.to_python if model is not None else None
        start = len(prefix)

        def read(document_id: str) -> Any:
            if not document_id.startswith(prefix):
                return None
            value = document_id[start:]
            return to_python(value) if to_python is not None else value

        return read

    @classmethod
    def search(cls, using: Any = None, index: str | None = None) -> Search:  # type: ignore[override]
        """Return a Search over this document's index (its read alias by default).

        In an index shared with other Documents, only this document's kind is searched.
        """
        return cls._own_search(cls.search_class, using, index)

    @classmethod
    def asearch(cls, using: Any = None, index: str | None = None) -> AsyncSearch:
        """Return an AsyncSearch over the same index as ``search()``, sent with the running
        event loop's client (``await s.execute()``, ``await s.ato_queryset()``, ...)."""
        return cls._own_search(AsyncSearch, using, index)

    @classmethod
    def _own_search(cls, search_class: type[_S], using: Any, index: str | None) -> _S:
        binding = cls._bound()  # one lookup for the alias, the read name and the kind
        search = search_class(
            using=using or binding.using, index=index or binding.read_name, doc_type=[cls]
        )
        if binding.shared:
            search = search.filter("term", **{KIND_FIELD: cls.get_kind()})
        return search

    @classmethod
    async def aget(cls, id: str, using: Any = None, index: str | None = None, **kwargs: Any) -> Any:
        """Return the document ``id`` as ``get()`` does (None when the answer says it was not
        found), sent with the running event loop's client."""
        client = async_connections.get_connection(using or cls.get_using())
        doc = await client.get(index=cls._default_index(index), id=id, **kwargs)
        if not doc.get("found", False):
            return None
        return cls.from_es(doc)

    # -- model binding ----------------------------------------------------------------------

    @classmethod
    def get_model(cls) -> type[models.Model] | None:
        return getattr(cls.Django, "model", None)

    @classmethod
    def get_queryset(cls) -> models.QuerySet:
        """Return the rows to index, ordered by primary key (stable chunking)."""
        model = cls.get_model()
        if model is None:
            raise ImproperlyConfigured(f"{cls.__name__}.Django.model is not set.")
        return model._default_manager.all().order_by("pk")

    @classmethod
    def get_chunk_size(cls) -> int:
        return int(getattr(cls.Django, "queryset_pagination", DEFAULT_CHUNK_SIZE))

    @classmethod
    def get_related_models(cls) -> list[type[models.Model]]:
        """Return ``Django.related_models`` and the models the Document's ``Object``,
        ``Nested`` and ``attr`` fields read through (see :mod:`djangoes_dsl.relations`)."""
        found = list(getattr(cls.Django, "related_models", ()))
        found += [related for _, related in cls._related_paths()]
        return list(dict.fromkeys(found))

    @classmethod
    def _related_paths(cls) -> list[tuple[str, type[models.Model]]]:
        """``relations.related_paths`` of the model, cached per class (asked per signal)."""
        model = cls.get_model()
        cache = cls.__dict__.get("_djangoes_related")
        if cache is None or cache[0] is not model:
            found = related_paths(cls, model) if model is not None else []
            cache = cls._djangoes_related = (model, found)
        return cache[1]

    @classmethod
    def get_instances_from_related(cls, related_instance: models.Model) -> Iterable[models.Model]:
        """Return the rows of ``Django.model`` whose documents embed ``related_instance``.

        By default follows every foreign key, one-to-one and many-to-many from the model to
        the related instance's model, and every relation the Document's fields read
        through; override for other relations.
        """
        return cls.rows_from_related(type(related_instance), [related_instance.pk])

    @classmethod
    def rows_from_related(
        cls, related_model: type[models.Model], pks: Iterable[Any]
    ) -> models.QuerySet | list[models.Model]:
        """Return the rows whose documents embed any of the ``related_model`` rows ``pks``:
        one query however many there are (see ``get_instances_from_related``)."""
        model = cls.get_model()
        if model is None:
            return []
        pks = list(pks)
        lookups = set()
        for field in model._meta.get_fields():
            points_here = field.is_relation and field.related_model is related_model
            if points_here and (field.concrete or field.many_to_many):
                lookups.add(field.name)
        lookups.update(path for path, found in cls._related_paths() if found is related_model)
        if not lookups:
            return []
        query = models.Q()
        for lookup in sorted(lookups):
            query |= models.Q(**{f"{lookup}__in": pks})
        return model._default_manager.filter(query).distinct()

    @classmethod
    def read_lookups(cls, model: type[models.Model]) -> tuple[list[str], list[str]]:
        """Return the ``select_related`` and ``prefetch_related`` lookups rows are read with
        for the fields read through relations (cached per class)."""
        cache = cls.__dict__.get("_djangoes_lookups")
        if cache is None:
            cache = cls._djangoes_lookups = {}
        if model not in cache:
            cache[model] = read_lookups(cls, model)
        return cache[model]

    @classmethod
    def _getters(cls, model: type[models.Model]) -> list[tuple[str, Getter]]:
        """Return ``(field name, getter(document, instance))`` for every mapped field.

        Computed once per Document class and model: the mapping's fields are fixed when
        the class is built, and looking them up per row is a rebuild's hot path.
        """
        cache = cls.__dict__.get("_djangoes_getters")
        if cache is None:
            cache = {}
            cls._djangoes_getters = cache
        getters = cache.get(model)
        if getters is None:
            computed = computed_field_names(cls)
            getters = [
                (name, _getter(cls, model, name))
                for name in mapping_field_names(cls)
                if name not in computed
            ]
            cache[model] = getters
        return getters

    @classmethod
    def _has_prepare(cls, name: str) -> bool:
        return _has_attribute(cls, f"prepare_{name}")

    @classmethod
    def _values_reader(cls) -> ValuesReader | None:
        if "_djangoes_reader" not in cls.__dict__:
            cls._djangoes_reader = values_reader(cls, Document, _plain)
        return cls.__dict__["_djangoes_reader"]

    @classmethod
    def read_actions(
        cls,
        queryset: models.QuerySet,
        index: str,
        limit: int | None = None,
        version: int | None = None,
    ) -> list[tuple[Any, dict[str, Any]]]:
        """Return ``[(pk, bulk action indexing the row into index)]`` for ``queryset``'s rows.

        Read with ``values_list()`` when the Document allows it (see
        :mod:`djangoes_dsl.values`), else as model instances. With ``limit``, only the first
        ``limit`` rows; ``queryset`` must then be ordered by primary key. Every action carries
        ``version`` (see :mod:`djangoes_dsl.versions`), read from the database's clock before
        the rows when not given.
        """
        if version is None:
            version = read_version(queryset.db)
        reader = cls._values_reader()
        prefix, kind = cls._id_prefix(), cls.get_kind()
        actions: Iterable[tuple[Any, dict[str, Any]]]
        if reader is not None:
            actions = (
                (pk, _index_action(index, pk, source, prefix=prefix, kind=kind))
                for pk, source in reader.read(queryset, limit)
            )
            return cls._embedded([(pk, versioned(action, version)) for pk, action in actions])
        # What the fields read through relations: joined, or prefetched per page.
        joined, fetched = cls.read_lookups(queryset.model)
        if joined:
            queryset = queryset.select_related(*joined)
        if fetched:
            queryset = queryset.prefetch_related(*fetched)
        if cls.to_action.__func__ is not Document.to_action.__func__:  # type: ignore[attr-defined]
            actions = (
                (row.pk, cls.to_action(row, "index", index=index))
                for row in read_instances(queryset, limit)
            )
        else:
            actions = (
                (row.pk, _index_action(index, row.pk, cls.source(row), prefix=prefix, kind=kind))
                for row in read_instances(queryset, limit)
            )
        return cls._embedded([(pk, versioned(action, version)) for pk, action in actions])

    @classmethod
    def _embedded(
        cls, actions: list[tuple[Any, dict[str, Any]]]
    ) -> list[tuple[Any, dict[str, Any]]]:
        """Add the embeddings to the chunk of index ``actions``: one embedder call per field
        for the rows whose text changed (see :mod:`djangoes_dsl.embeddings`)."""
        if not embedding_fields(cls):
            return actions
        indexed = [action for _, action in actions if action.get("_op_type") == "index"]
        if indexed:
            embed_sources(cls, [a["_id"] for a in indexed], [a["_source"] for a in indexed])
        return actions

    def prepare(self, instance: models.Model) -> dict[str, Any]:
        """Return the document's values for ``instance``, field by field."""
        return {name: _plain(get(self, instance)) for name, get in self._getters(type(instance))}

    @classmethod
    def from_instance(cls, instance: models.Model) -> Document:
        """Return the document for ``instance``, its id from the row's primary key."""
        doc = cls(meta={"id": cls.document_id(instance.pk)})
        for name, value in doc.prepare(instance).items():
            setattr(doc, name, value)
        return doc

    @classmethod
    def from_es(cls, hit: Any) -> Any:
        """Return the document of a search hit (or a get), as elasticsearch.dsl builds it.

        Faster for the usual hit, whose ``_source`` holds only fields of the mapping: their
        fields are looked up once per class; any other hit is built by elasticsearch.dsl.
        """
        readers = cls.__dict__.get("_djangoes_hit_readers")
        if readers is None:
            readers = cls._djangoes_hit_readers = {
                name: None if field is None else value_reader(field)
                for name, field in coerced_fields(cls).items()
            }
        values = {}
        for name, value in hit.get("_source", {}).items():
            read = readers.get(name, _UNKNOWN)
            if read is _UNKNOWN:
                return super().from_es(hit)
            values[name] = value if read is None or value is None else read(value)
        built = document_from_hit(cls, hit, values)
        return super().from_es(hit) if built is None else built

    @classmethod
    def to_action(
        cls, instance: models.Model, op_type: str = "index", index: str | None = None
    ) -> dict[str, Any]:
        """Return a bulk action (for elasticsearch.helpers) that indexes or deletes ``instance``."""
        target = index or cls.get_index_name()
        prefix = cls._id_prefix()
        if op_type == "delete":
            return {"_op_type": "delete", "_index": target, "_id": f"{prefix}{instance.pk}"}
        return _index_action(
            target, instance.pk, cls.source(instance), op_type, prefix=prefix, kind=cls.get_kind()
        )

    @classmethod
    def source(cls, instance: models.Model) -> dict[str, Any]:
        """Return the ``_source`` for ``instance`` (``from_instance(instance).to_dict()``).

        Unless ``from_instance`` is overridden, the values of ``prepare()`` are used directly
        (empty ones left out, as ``to_dict`` does), without building a DSL document: the
        rebuild's hot path.
        """
        if cls.from_instance.__func__ is not Document.from_instance.__func__:  # type: ignore[attr-defined]
            return cls.from_instance(instance).to_dict()
        preparer = cls.__dict__.get("_djangoes_preparer")
        if preparer is None:
            preparer = cls._djangoes_preparer = cls()
        if type(preparer).prepare is not Document.prepare:
            values = preparer.prepare(instance).items()
        else:
            values = (
                (name, _plain(get(preparer, instance)))
                for name, get in cls._getters(type(instance))
            )
        return {
            name: value
            for name, value in values
            if value is not None and value != [] and value != {}
        }


def _index_action(
    index: str,
    pk: Any,
    source: dict[str, Any],
    op_type: str = "index",
    *,
    prefix: str = "",
    kind: str = "",
) -> dict[str, Any]:
    if prefix:  # an index shared by several Documents: every document names its kind
        source[KIND_FIELD] = kind
    return {"_op_type": op_type, "_index": index, "_id": f"{prefix}{pk}", "_source": source}


_UNKNOWN = object()


def read_instances(queryset: models.QuerySet, limit: int | None = None) -> list[models.Model]:
    """Return the rows of ``queryset`` (the first ``limit``) with its prefetches done.

    A prefetch of a to-many relation by name is done without building a queryset for each
    row (see ``djangoes.adapters.django.prefetch_to_many``); the rows and what their
    relations return are those of ``prefetch_related()``.
    """
    lookups = prefetch_lookups(queryset)
    fast = bool(lookups) and all(to_many_lookup(queryset.model, lookup) for lookup in lookups)
    if fast:
        queryset = queryset.prefetch_related(None)
    rows = list(queryset if limit is None else queryset[:limit])
    if fast:
        for lookup in dict.fromkeys(lookups):
            prefetch_to_many(rows, lookup)
    return rows


#: Takes a field's value for a document from a model instance: ``getter(document, instance)``.
Getter = Callable[[Document, models.Model], Any]


def _getter(cls: type[Document], model: type[models.Model], name: str) -> Getter:
    """Return how ``cls`` takes the value of its field ``name`` from an instance of ``model``.

    ``prepare_<name>(instance)`` when the class defines it; else the instance's attribute
    (a foreign key's column, so its primary key without a query), called if callable.
    """
    method = f"prepare_{name}"
    lookups = lookups_of(cls)
    if _has_attribute(cls, method):
        function = inspect.getattr_static(cls, method)
        if isinstance(function, types.FunctionType):
            return function  # type: ignore[return-value]
        return lambda document, instance: getattr(document, method)(instance)
    through = paths(cls).get(name)
    if through is not None:
        return getter(cls, through, _plain)
    if name in lookups:
        try:
            return path_getter(resolve_lookup(model, lookups[name]), _plain)
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"{cls.__name__}.Django.lookups['{name}'] is invalid: {exc}."
            ) from None
    try:
        attname = getattr(model._meta.get_field(name), "attname", name)
    except FieldDoesNotExist:
        attname = name

    def get(document: Document, instance: models.Model) -> Any:
        value = getattr(instance, attname, None)
        return value() if callable(value) else value

    return get


def _has_attribute(cls: type, name: str) -> bool:
    # Not getattr(): a missing attribute would go through the (slow) __getattr__ of the DSL
    # metaclass and of the instance.
    try:
        type.__getattribute__(cls, name)
    except AttributeError:
        return False
    return True


# Values passed through as they are (the per-row hot path of a rebuild).
_PLAIN_TYPES = frozenset({str, int, float, bool, type(None), datetime.datetime, datetime.date})


def _plain(value: Any) -> Any:
    """Turn model values the JSON serializer does not know into plain ones."""
    if type(value) in _PLAIN_TYPES:
        return value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime.timedelta):
        return int(value.total_seconds() * 1000)
    if isinstance(value, datetime.time):
        return value.isoformat()
    if hasattr(value, "name") and hasattr(value, "storage"):  # FieldFile
        return value.name or None
    return value
