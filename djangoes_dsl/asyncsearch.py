"""The asyncio side of a Document's searches: ``MyDocument.asearch()``.

``AsyncSearch`` is elasticsearch.dsl's ``AsyncSearch`` (``await s.execute()``,
``await s.count()``, ``async for hit in s.scan()``), sent with the running event loop's client
of the connection (``djangoes.connections[alias].async_client``, registered in
``elasticsearch.dsl.async_connections``), answering with the same :class:`Response` as the
sync ``Search``. What djangoes adds on top of a search has an ``a``-prefixed counterpart, as
Django's async ORM names its own: ``await s.ato_queryset()``, ``await s.ainstances()``,
``await s.acount()``, ``s.autocomplete(text)``, and the vector searches ``await
s.asimilar_to(text or instance)`` and ``await s.ahybrid(text)`` (djangoes_dsl.search builds
them; here the query vector is computed without blocking the event loop: the embedder in a
thread, ``asyncio.to_thread``; an instance's stored vector read with the async client).
"""

from __future__ import annotations

from typing import Any, Unpack

from django.db import models
from elasticsearch import dsl

from .adapters import use_response_class
from .embeddings import aexecute
from .search import (
    Autocomplete,
    FusedRankings,
    HybridOptions,
    Response,
    SimilarOptions,
    VectorSearch,
)
from .steps import arun_steps

__all__ = ["AsyncHybridSearch", "AsyncSearch"]


class AsyncSearch(VectorSearch, Autocomplete, dsl.AsyncSearch):
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

    async def asimilar_to(
        self, query: str | models.Model, **options: Unpack[SimilarOptions]
    ) -> AsyncSearch:
        """Return the kNN search ``Search.similar_to()`` returns, as an async search.

        The text is embedded in a thread (``asyncio.to_thread``); an instance's stored
        vector is read with the async client (its text, when it has none, with
        ``sync_to_async``): the event loop is never blocked.
        """
        return await arun_steps(self._similar_steps(query, **options), aexecute)  # type: ignore[no-any-return]

    async def ahybrid(self, text: str, **options: Unpack[HybridOptions]) -> AsyncSearch:
        """Return the hybrid search ``Search.hybrid()`` returns (same arguments), as an
        :class:`AsyncHybridSearch`: ``await s.execute()``, ``ato_queryset()``,
        ``ainstances()`` and ``AsyncSearchPaginator`` see the fused ranking and scores. The
        text is embedded in a thread (``asyncio.to_thread``)."""
        return await arun_steps(self._hybrid_steps(text, **options), aexecute)  # type: ignore[no-any-return]

    def similar_to(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            "An async search computes its query vector with the async API: "
            "await s.asimilar_to(text or instance, k=...)."
        )

    def hybrid(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            "An async search computes its query vector with the async API: "
            "await s.ahybrid(text, ...)."
        )


class AsyncHybridSearch(FusedRankings, AsyncSearch):
    """:class:`djangoes_dsl.search.HybridSearch` for the asyncio side: ``await
    s.execute()`` sends both rankings with the event loop's client and fuses them."""

    async def count(self) -> int:
        """Return the number of hits fused (both rankings are sent, as by ``execute()``)."""
        return int((await self.execute()).hits.total.value)

    async def execute(self, ignore_cache: bool = False) -> Any:
        """Send both rankings, fuse them and return this search's slice of the result."""
        return await arun_steps(self._fused_steps(ignore_cache))


AsyncSearch.fused_class = AsyncHybridSearch
