"""django-elasticsearch-dsl's exceptions, under the same names."""

from __future__ import annotations

__all__ = [
    "DjangoElasticsearchDslError",
    "ModelFieldNotMappedError",
    "RedeclaredFieldError",
    "VariableLookupError",
]


class DjangoElasticsearchDslError(Exception):
    """The base of this package's errors."""


class VariableLookupError(DjangoElasticsearchDslError):
    """A required field's ``attr`` path found nothing."""


class RedeclaredFieldError(DjangoElasticsearchDslError):
    """A field both declared on the Document and named in ``Django.fields``."""


class ModelFieldNotMappedError(DjangoElasticsearchDslError):
    """A model field in ``Django.fields`` has no Document field type."""
