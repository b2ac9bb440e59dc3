"""Field types for Documents and the model-field type table.

Every field type of ``elasticsearch.dsl.field`` is here under its own name (``fields.Completion``,
``fields.SearchAsYouType``, ...): the common ones as subclasses taking one more argument,
``attr``, the path (``"manufacturer.name"`` or ``"manufacturer__name"``) their value is read from
on a model instance instead of the field's own name; the rest looked up on first use, so a type
a newer client adds is here too. ``Object`` and ``Nested`` fields read a related row (or a list
of them) through a relation: see :mod:`djangoes_dsl.relations`. ``fields.Date`` is djangoes' own
(see ``adapters``).
"""

from __future__ import annotations

from typing import Any

from django.db import models
from elasticsearch.dsl import field as dsl_field
from elasticsearch.dsl.field import Field

from . import adapters

__all__ = [
    "MODEL_FIELD_TYPES",
    "AttrMixin",
    "Binary",
    "Boolean",
    "Byte",
    "Completion",
    "Date",
    "DenseVector",
    "Double",
    "Embedding",
    "Field",
    "Float",
    "GeoPoint",
    "GeoShape",
    "HalfFloat",
    "Integer",
    "Ip",
    "Keyword",
    "Long",
    "Nested",
    "Object",
    "ScaledFloat",
    "SearchAsYouType",
    "Short",
    "Text",
    "field_for_model_field",
    "field_type_names",
]


class AttrMixin:
    """Accept ``attr``: the path a field's value is read from on a model instance."""

    def __init__(self, *args: Any, attr: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: The attribute path, or None: the field's own name.
        self._djangoes_attr = attr


class Binary(AttrMixin, dsl_field.Binary):
    pass


class Boolean(AttrMixin, dsl_field.Boolean):
    pass


class Byte(AttrMixin, dsl_field.Byte):
    pass


class Completion(AttrMixin, dsl_field.Completion):
    pass


class DenseVector(AttrMixin, dsl_field.DenseVector):
    pass


class Double(AttrMixin, dsl_field.Double):
    pass


class Embedding(dsl_field.DenseVector):
    """A vector computed from other fields of the document by the project's embedder.

    ``source``: the Document fields whose values, one per line, make the text embedded;
    ``embedder``: an object (or the dotted path of an object or class) with
    ``embed(texts) -> vectors``, ``dims`` and ``model`` (see :mod:`djangoes_dsl.embeddings`);
    ``dims``/``model``: for an embedder that does not say them (a plain callable), or
    ``dims`` to state the mapping's dims, which the system checks compare with the
    embedder's. ``similarity`` (default ``"cosine"``) and ``index_options`` go to the
    ``dense_vector`` mapping. The field's ``meta`` records the model: changing it needs a
    rebuild.
    """

    def __init__(
        self,
        *,
        source: str | list[str] | tuple[str, ...],
        embedder: Any,
        similarity: str = "cosine",
        index_options: dict[str, Any] | None = None,
        dims: int | None = None,
        model: str | None = None,
        **kwargs: Any,
    ) -> None:
        from .embeddings import EmbedderSpec

        super().__init__(similarity=similarity, **kwargs)  # type: ignore[arg-type]
        if index_options is not None:
            self._params["index_options"] = index_options
        self._djangoes_source = (source,) if isinstance(source, str) else tuple(source)
        self._djangoes_embedder = EmbedderSpec(embedder, dims=dims, model=model)
        self._djangoes_dims = dims

    def to_dict(self) -> dict[str, Any]:
        """Return the ``dense_vector`` mapping, ``dims`` and the model taken from the embedder."""
        mapping = super().to_dict()
        spec = self._djangoes_embedder
        mapping["dims"] = self._djangoes_dims if self._djangoes_dims is not None else spec.dims
        mapping["meta"] = {**mapping.get("meta", {}), "embedder_model": spec.model}
        return mapping


class Float(AttrMixin, dsl_field.Float):
    pass


class GeoPoint(AttrMixin, dsl_field.GeoPoint):
    pass


class GeoShape(AttrMixin, dsl_field.GeoShape):
    pass


class HalfFloat(AttrMixin, dsl_field.HalfFloat):
    pass


class Integer(AttrMixin, dsl_field.Integer):
    pass


class Ip(AttrMixin, dsl_field.Ip):
    pass


class Keyword(AttrMixin, dsl_field.Keyword):
    pass


class Long(AttrMixin, dsl_field.Long):
    pass


class ScaledFloat(AttrMixin, dsl_field.ScaledFloat):
    pass


class SearchAsYouType(AttrMixin, dsl_field.SearchAsYouType):
    pass


class Short(AttrMixin, dsl_field.Short):
    pass


class Text(AttrMixin, dsl_field.Text):
    pass


class Date(AttrMixin, adapters.Date):
    pass


class Object(AttrMixin, dsl_field.Object):
    """An object: a related row's fields (or a dict), read through ``attr`` or the name.

    ``properties`` maps property names to fields; ``model_fields`` names fields of the
    related model to map by their types (see ``MODEL_FIELD_TYPES``), as ``Django.fields``
    does for the Document's model.
    """

    def __init__(
        self, *args: Any, attr: str | None = None, model_fields: Any = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, attr=attr, **kwargs)
        #: Names of the related model's fields still to be mapped (by the Document's class).
        self._djangoes_model_fields = tuple(model_fields)
        self._djangoes_kwargs = dict(kwargs, attr=attr)


class Nested(Object, dsl_field.Nested):
    """A list of objects, each indexed on its own (``nested`` queries, ``inner_hits``)."""


def __getattr__(name: str) -> Any:
    """Return the elasticsearch.dsl field type ``name`` (those not defined above)."""
    found = getattr(dsl_field, name, None)
    if isinstance(found, type) and issubclass(found, Field):
        return found
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *field_type_names()})


def field_type_names() -> list[str]:
    """Return the name of every field type elasticsearch.dsl offers."""
    return sorted(
        name
        for name, value in vars(dsl_field).items()
        if isinstance(value, type) and issubclass(value, Field) and getattr(value, "name", None)
    )


#: Model field class → Document field class, most specific first (subclasses before bases).
MODEL_FIELD_TYPES: list[tuple[type[models.Field], type[Field]]] = [
    (models.BigAutoField, Long),
    (models.SmallAutoField, Short),
    (models.AutoField, Integer),
    (models.BooleanField, Boolean),
    (models.DateTimeField, Date),
    (models.DateField, Date),
    (models.DecimalField, Double),
    (models.FloatField, Double),
    (models.PositiveBigIntegerField, Long),
    (models.BigIntegerField, Long),
    (models.SmallIntegerField, Short),
    (models.PositiveSmallIntegerField, Short),
    (models.IntegerField, Integer),
    (models.DurationField, Long),
    (models.EmailField, Keyword),
    (models.SlugField, Keyword),
    (models.URLField, Keyword),
    (models.UUIDField, Keyword),
    (models.GenericIPAddressField, Ip),
    (models.TimeField, Keyword),
    (models.FileField, Keyword),
    (models.JSONField, dsl_field.Object),
    (models.TextField, Text),
    (models.CharField, Text),
]


def field_for_model_field(model_field: models.Field, multi: bool = False) -> Field:
    """Return the Document field that maps ``model_field`` (see MODEL_FIELD_TYPES).

    ``multi``: the field holds a list of values.
    """
    if model_field.is_relation and (model_field.many_to_one or model_field.one_to_one):
        return field_for_model_field(model_field.target_field, multi)  # type: ignore[attr-defined]
    for model_class, field_class in MODEL_FIELD_TYPES:
        if isinstance(model_field, model_class):
            kwargs: dict[str, Any] = {"multi": True} if multi else {}
            if field_class is dsl_field.Object:
                kwargs["dynamic"] = True
            return field_class(**kwargs)
    raise TypeError(
        f"No Document field type for {type(model_field).__name__} "
        f"'{model_field.model.__name__}.{model_field.name}': declare the field on the Document."
    )
