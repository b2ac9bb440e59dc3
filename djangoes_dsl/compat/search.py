"""django-elasticsearch-dsl's ``Search``: djangoes' Search with its queryset methods."""

from __future__ import annotations

from typing import Any

from django.db import models

from djangoes_dsl import search

__all__ = ["Search"]


class Search(search.Search):
    """A djangoes Search with django-elasticsearch-dsl's ``to_queryset(keep_order)`` and
    ``filter_queryset(queryset, keep_search_order)``."""

    @property
    def _model(self) -> type[models.Model] | None:
        documents = getattr(self, "_doc_type", None) or []
        return documents[0].get_model() if documents else None

    def to_queryset(self, keep_order: bool = True) -> models.QuerySet:
        """Execute the search and return its rows, in hit order unless ``keep_order`` is
        False (one SQL query)."""
        queryset = super().to_queryset()
        return queryset if keep_order else queryset.order_by()

    def filter_queryset(
        self, queryset: models.QuerySet, keep_search_order: bool = True
    ) -> models.QuerySet:
        """Return the rows of ``queryset`` the search finds, in hit order unless
        ``keep_search_order`` is False."""
        if self._model is not queryset.model:
            raise TypeError(
                f"filter_queryset() takes a queryset of {self._model!r}, the model of the "
                f"search's Document, not of {queryset.model!r}."
            )
        found = self.to_queryset(keep_search_order)
        pks: Any = found.values("pk")
        filtered = queryset.filter(pk__in=pks)
        if not keep_search_order:
            return filtered
        order = {row.pk: rank for rank, row in enumerate(found)}
        return filtered.order_by(
            models.Case(
                *[models.When(pk=pk, then=rank) for pk, rank in order.items()],
                output_field=models.IntegerField(),
            )
        )
