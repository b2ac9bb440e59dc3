"""Search and Response that turn hits into model instances."""

from __future__ import annotations

from typing import Any

from django.db import models
from elasticsearch import dsl

from .adapters import response_search, search_documents, use_response_class


def _queryset_in_hit_order(model: type[models.Model], ids: list[Any]) -> models.QuerySet:
    if not ids:
        return model._default_manager.none()
    order = models.Case(
        *(models.When(pk=pk, then=models.Value(position)) for position, pk in enumerate(ids)),
        output_field=models.IntegerField(),
    )
    return model._default_manager.filter(pk__in=ids).order_by(order)


def _model_of(search: Any) -> type[models.Model]:
    for doc_type in search_documents(search):
        model = getattr(getattr(doc_type, "Django", None), "model", None)
        if model is not None:
            return model
    raise TypeError(
        "to_queryset() needs a search made by a Document with Django.model, "
        "e.g. MyDocument.search()."
    )


class Response(dsl.Response):
    """A Response whose hits can be turned into model instances."""

    def to_queryset(self) -> models.QuerySet:
        """Return the hits' rows as a queryset in hit order; rows deleted since are skipped."""
        model = _model_of(response_search(self))
        ids = [model._meta.pk.to_python(hit.meta.id) for hit in self.hits]
        return _queryset_in_hit_order(model, ids)


class Search(dsl.Search):
    """A Search that returns :class:`Response` and can run as a queryset."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        use_response_class(self, Response)

    def to_queryset(self) -> models.QuerySet:
        """Execute the search and return its rows in hit order (see Response.to_queryset)."""
        return self.execute().to_queryset()
