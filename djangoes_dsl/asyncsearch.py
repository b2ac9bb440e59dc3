"""The asyncio side of a Document's searches: ``MyDocument.asearch()``.

``AsyncSearch`` is elasticsearch.dsl's ``AsyncSearch`` (``await s.execute()``,
``await s.count()``, ``async for hit in s.scan()``), sent with the running event loop's client
of the connection (``djangoes.connections[alias].async_client``, registered in
``elasticsearch.dsl.async_connections``), answering with the same :class:`Response` as the
sync ``Search``. What djangoes adds on top of a search has an ``a``-prefixed counterpart, as
Django's async ORM names its own: ``await s.ato_queryset()``, ``await s.ainstances()``,
``await s.acount()``, ``s.autocomplete(text)``.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from elasticsearch import dsl

from .adapters import use_response_class
from .search import Autocomplete, Response

__all__ = ["AsyncSearch"]


class AsyncSearch(Autocomplete, dsl.AsyncSearch):
    """An elasticsearch.dsl ``AsyncSearch`` whose hits turn into model instances."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        use_response_class(self, Response)

    async def ato_queryset(self) -> models.QuerySet:
        """Execute the search and return its rows in hit order (see
        ``Response.to_queryset``); iterate the queryset with ``async for``."""
        response = await self.execute()
        return response.to_queryset()  # type: ignore[attr-defined,no-any-return]

    async def ainstances(self, queryset: models.QuerySet | None = None) -> list[models.Model]:
        """Execute the search and return its rows with their scores and highlights, read with
        Django's async ORM (see ``Response.instances``)."""
        response = await self.execute()
        return await response.ainstances(queryset)  # type: ignore[attr-defined,no-any-return]

    async def acount(self) -> int:
        """Return the number of hits (``count()``: one ``_count`` request, or the total of
        a response already fetched)."""
        return await self.count()
