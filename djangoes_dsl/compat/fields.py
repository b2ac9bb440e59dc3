"""django-elasticsearch-dsl's field names on djangoes' fields.

Every ``*Field`` is the djangoes field of that type (an elasticsearch.dsl field taking
``attr``); ``ObjectField`` and ``NestedField`` read related rows as
:mod:`djangoes_dsl.relations` describes. ``FileField`` indexes a file's URL (empty for no
file) and ``TimeField`` an ISO time, as django-elasticsearch-dsl does.
"""

from __future__ import annotations

from typing import Any

from djangoes_dsl import fields

__all__ = [
    "BooleanField",
    "ByteField",
    "CompletionField",
    "DEDField",
    "DateField",
    "DoubleField",
    "FileField",
    "FloatField",
    "GeoPointField",
    "GeoShapeField",
    "IntegerField",
    "IpField",
    "KeywordField",
    "ListField",
    "LongField",
    "NestedField",
    "ObjectField",
    "ScaledFloatField",
    "SearchAsYouTypeField",
    "ShortField",
    "TextField",
    "TimeField",
]

#: The base of the fields that take ``attr``.
DEDField = fields.AttrMixin


class BooleanField(fields.Boolean):
    pass


class ByteField(fields.Byte):
    pass


class CompletionField(fields.Completion):
    pass


class DateField(fields.Date):
    pass


class DoubleField(fields.Double):
    pass


class FloatField(fields.Float):
    pass


class ScaledFloatField(fields.ScaledFloat):
    pass


class GeoPointField(fields.GeoPoint):
    pass


class GeoShapeField(fields.GeoShape):
    pass


class IntegerField(fields.Integer):
    pass


class IpField(fields.Ip):
    pass


class LongField(fields.Long):
    pass


class ShortField(fields.Short):
    pass


class KeywordField(fields.Keyword):
    pass


class TextField(fields.Text):
    pass


class SearchAsYouTypeField(fields.SearchAsYouType):
    pass


class ObjectField(fields.Object):
    pass


class NestedField(fields.Nested):
    pass


class FileField(fields.Text):
    """A file, indexed as its URL ('' when there is none)."""

    @staticmethod
    def djangoes_value(value: Any) -> Any:
        if hasattr(value, "storage") and hasattr(value, "name"):  # a FieldFile
            return value.url if value else ""
        return value or ""


class TimeField(fields.Keyword):
    """A time, indexed in ISO format."""

    @staticmethod
    def djangoes_value(value: Any) -> Any:
        return value.isoformat() if value else None


def ListField(field: Any) -> Any:
    """Return ``field``: a path that goes through a to-many relation gives a list of values
    anyway, and the mapping of a field is the same for one value and for many."""
    return field
