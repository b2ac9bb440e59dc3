"""django-elasticsearch-dsl's ``Document`` on djangoes' Document.

What differs from django-elasticsearch-dsl: signal writes are sent when the transaction
commits, in bulk (not inside ``save()``); ``update()`` reads the rows again from the database
and sends them through djangoes' bulk sender; ``get_instances_from_related`` is called at
commit (a deleted related row: just before the delete). See docs/migrating.md.
"""

from __future__ import annotations

import types
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import models
from django.dispatch import Signal

import djangoes
from djangoes_dsl import documents, indexing
from djangoes_dsl.fields import field_for_model_field

from . import conf, fields
from .exceptions import ModelFieldNotMappedError, RedeclaredFieldError
from .search import Search

__all__ = ["DocType", "Document", "model_field_class_to_field_class", "post_index"]

#: Sent after ``Document.update()`` wrote its documents (``sender``: the Document class,
#: ``instance``: the Document, ``actions``, ``response``).
post_index = Signal()

#: Model field class → field class, as django-elasticsearch-dsl maps ``Django.fields``.
model_field_class_to_field_class: dict[type[models.Field], type[Any]] = {
    models.AutoField: fields.IntegerField,
    models.BigAutoField: fields.LongField,
    models.BigIntegerField: fields.LongField,
    models.BooleanField: fields.BooleanField,
    models.CharField: fields.TextField,
    models.DateField: fields.DateField,
    models.DateTimeField: fields.DateField,
    models.DecimalField: fields.DoubleField,
    models.EmailField: fields.TextField,
    models.FileField: fields.FileField,
    models.FilePathField: fields.KeywordField,
    models.FloatField: fields.DoubleField,
    models.ImageField: fields.FileField,
    models.IntegerField: fields.IntegerField,
    models.PositiveBigIntegerField: fields.LongField,
    models.PositiveIntegerField: fields.IntegerField,
    models.PositiveSmallIntegerField: fields.ShortField,
    models.SlugField: fields.KeywordField,
    models.SmallIntegerField: fields.ShortField,
    models.TextField: fields.TextField,
    models.TimeField: fields.TimeField,
    models.URLField: fields.TextField,
    models.UUIDField: fields.KeywordField,
}

#: Methods django-elasticsearch-dsl Documents define on instances, called on the class by
#: djangoes: a plain function of these names is called on a new instance.
INSTANCE_HOOKS = ("get_queryset", "get_instances_from_related", "get_indexing_queryset")


def _on_instance(function: Any) -> classmethod:
    def call(cls: type, *args: Any, **kwargs: Any) -> Any:
        return function(cls(), *args, **kwargs)

    call.__name__ = function.__name__
    call.__doc__ = function.__doc__
    return classmethod(call)


def _with_related(method: str) -> Any:
    def prepare(self: Any, instance: Any) -> Any:
        # Related rows are read when the transaction commits: a deleted one is gone already.
        return getattr(self, method)(instance, related_to_ignore=None)

    return prepare


class DocumentMeta(documents.DocumentMeta):
    """Map ``Django.fields`` by django-elasticsearch-dsl's type table and turn its
    instance hooks into what djangoes calls."""

    def __new__(mcs, name: str, bases: tuple[type, ...], attrs: dict[str, Any]) -> Any:
        django_opts = attrs.get("Django")
        model: Any = getattr(django_opts, "model", None)
        to_field = _to_field(bases, attrs)
        for field_name in getattr(django_opts, "fields", ()) if model is not None else ():
            if field_name in attrs:
                raise RedeclaredFieldError(
                    f"You cannot redeclare the field named '{field_name}' on {name}: remove "
                    f"it from Django.fields or from the class."
                )
            try:
                model_field = model._meta.get_field(field_name)
            except FieldDoesNotExist:
                continue  # reported by the system check djangoes_dsl.E003
            attrs[field_name] = to_field(field_name, model_field)
        for hook in INSTANCE_HOOKS:
            if isinstance(attrs.get(hook), types.FunctionType):
                attrs[hook] = _on_instance(attrs[hook])
        for method in [key for key in attrs if key.endswith("_with_related")]:
            plain = method[: -len("_with_related")]
            if plain.startswith("prepare_") and plain not in attrs:
                attrs[plain] = _with_related(method)
        cls = super().__new__(mcs, name, bases, attrs)
        if model is not None:
            type.__setattr__(cls, "django", _options(cls))
        return cls


def _to_field(bases: tuple[type, ...], attrs: dict[str, Any]) -> Any:
    def to_field(field_name: str, model_field: models.Field) -> Any:
        table = model_field_class_to_field_class
        for base in bases:
            get_table = getattr(base, "get_model_field_class_to_field_class", None)
            if get_table is not None:
                table = get_table()
                break
        field_class = table.get(type(model_field))
        if field_class is None:
            try:
                return field_for_model_field(model_field)
            except TypeError as exc:
                raise ModelFieldNotMappedError(
                    f"Cannot convert model field {field_name} to an Elasticsearch field: "
                    f"declare it on the Document."
                ) from exc
        # A field whose values are converted (a file's URL) is read through its path.
        attr = field_name if hasattr(field_class, "djangoes_value") else None
        return field_class(attr=attr)

    return to_field


def _options(cls: Any) -> types.SimpleNamespace:
    django_opts = cls.Django
    return types.SimpleNamespace(
        model=django_opts.model,
        ignore_signals=getattr(django_opts, "ignore_signals", False),
        auto_refresh=getattr(django_opts, "auto_refresh", conf.auto_refresh_enabled()),
        related_models=list(getattr(django_opts, "related_models", [])),
        queryset_pagination=getattr(django_opts, "queryset_pagination", None),
    )


class Document(documents.Document, metaclass=DocumentMeta):
    """django-elasticsearch-dsl's ``Document``, kept in sync and rebuilt by djangoes.

    Register it with ``@registry.register_document``; ``class Index`` gives its index
    ``name`` (an ES_INDICES key or NAME, or a new index on the default server) and
    ``settings``.
    """

    search_class = Search

    def __init__(self, related_instance_to_ignore: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._related_instance_to_ignore = related_instance_to_ignore

    @classmethod
    def search(cls, using: Any = None, index: str | None = None) -> Search:  # type: ignore[override]
        """Return a Search over this document's index (see djangoes' ``Document.search``)."""
        return super().search(using, index)  # type: ignore[return-value]

    @classmethod
    def get_chunk_size(cls) -> int:
        chunk = getattr(cls.Django, "queryset_pagination", None) or conf.queryset_pagination()
        return int(chunk or documents.DEFAULT_CHUNK_SIZE)

    @classmethod
    def get_indexing_queryset(cls) -> Any:
        """Return the rows to index, read in chunks of ``queryset_pagination``."""
        return cls.get_queryset().iterator(chunk_size=cls.get_chunk_size())

    @classmethod
    def get_model_field_class_to_field_class(cls) -> dict[type[models.Field], type[Any]]:
        """Return the model field class → field class table ``Django.fields`` is mapped by."""
        return model_field_class_to_field_class

    @classmethod
    def to_field(cls, field_name: str, model_field: models.Field) -> Any:
        """Return the field that maps ``model_field``."""
        return _to_field((cls,), {})(field_name, model_field)

    @classmethod
    def generate_id(cls, object_instance: models.Model) -> Any:
        """Return the ``_id`` of ``object_instance``'s document."""
        return cls.document_id(object_instance.pk)

    # django-elasticsearch-dsl's update(), not elasticsearch.dsl's partial update.
    def update(  # type: ignore[override]
        self,
        thing: Any,
        refresh: Any = None,
        action: str = "index",
        parallel: bool = False,
        **kwargs: Any,
    ) -> tuple[int, list[Any]]:
        """Index (or with ``action="delete"``, delete) the documents of a model instance,
        an iterable of them or a queryset, now; return ``(written, failures)``.

        The rows are read again from the database and sent through djangoes' bulk sender
        (``parallel`` and other bulk arguments are not needed there). ``refresh`` (default:
        ``Django.auto_refresh``, else ``ELASTICSEARCH_DSL_AUTO_REFRESH``) refreshes the
        index after.
        """
        cls = type(self)
        rows = [thing] if isinstance(thing, models.Model) else list(thing)
        operations = indexing.OperationSet()
        target = cls.get_index_name() if action == "delete" else None
        for row in rows:
            operations.add(cls, row.pk, target)
        failures = indexing.send_operations(operations.operations)
        if refresh is None:
            refresh = getattr(cls.Django, "auto_refresh", conf.auto_refresh_enabled())
        if refresh:
            client = djangoes.connections[cls.get_using()].client
            client.indices.refresh(index=cls.get_index_name())
        response = (len(rows) - len(failures), list(failures))
        post_index.send(sender=cls, instance=self, actions=rows, response=response)
        return response


#: django-elasticsearch-dsl's older name of ``Document``.
DocType = Document


def check_model(document: type) -> None:
    """Raise ImproperlyConfigured unless ``document`` names its model as django-elasticsearch-dsl
    requires."""
    django_opts = getattr(document, "Django", None)
    if django_opts is None:
        raise ImproperlyConfigured(f"You must declare the Django class inside {document.__name__}.")
    if getattr(django_opts, "model", None) is None:
        raise ImproperlyConfigured(
            f"You must specify the django model: {document.__name__}.Django.model is not set."
        )
