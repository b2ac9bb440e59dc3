"""Field types for Documents (the elasticsearch.dsl fields) and the model-field type table.

Every field type of ``elasticsearch.dsl.field`` is here under its own name (``fields.Completion``,
``fields.SearchAsYouType``, ...), the common ones imported, the rest looked up on first use, so a
type a newer client adds is here too. ``fields.Date`` is djangoes' own (see ``adapters``).
"""

from __future__ import annotations

from typing import Any

from django.db import models
from elasticsearch.dsl import field as dsl_field
from elasticsearch.dsl.field import (
    Binary,
    Boolean,
    Byte,
    Completion,
    DenseVector,
    Double,
    Field,
    Float,
    GeoPoint,
    HalfFloat,
    Integer,
    Ip,
    Keyword,
    Long,
    Nested,
    Object,
    Short,
    Text,
)

from .adapters import Date

__all__ = [
    "MODEL_FIELD_TYPES",
    "Binary",
    "Boolean",
    "Byte",
    "Completion",
    "Date",
    "DenseVector",
    "Double",
    "Field",
    "Float",
    "GeoPoint",
    "HalfFloat",
    "Integer",
    "Ip",
    "Keyword",
    "Long",
    "Nested",
    "Object",
    "Short",
    "Text",
    "field_for_model_field",
    "field_type_names",
]


def __getattr__(name: str) -> Any:
    """Return the elasticsearch.dsl field type ``name`` (those not imported above)."""
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
    (models.JSONField, Object),
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
            if field_class is Object:
                kwargs["dynamic"] = True
            return field_class(**kwargs)
    raise TypeError(
        f"No Document field type for {type(model_field).__name__} "
        f"'{model_field.model.__name__}.{model_field.name}': declare the field on the Document."
    )
