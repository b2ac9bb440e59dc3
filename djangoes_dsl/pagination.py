"""Paging through search results: page numbers for views, cursors for APIs and exports.

:class:`SearchPaginator` is Django's ``Paginator`` for a Search: each page is one search
request that also brings the count (``track_total_hits``), so a view costs one request. Pages
are reachable up to ``max_results`` hits (Elasticsearch's ``index.max_result_window``,
10,000 unless the index's SETTINGS raise it): ``count`` stops there, and the true total is
``paginator.total``.

:class:`SearchAfterPaginator` goes through any number of hits: a point in time (PIT) keeps
the results consistent while the index changes, and each page asks for the hits after the
previous page's last one (``search_after``), so page 5,000 costs what page 1 costs. For
"next page" APIs, :meth:`SearchAfterPaginator.page` takes and returns opaque, signed cursors;
for exports, :meth:`SearchAfterPaginator.pages` and iteration go through every hit and close
the PIT at the end.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from functools import cached_property
from typing import Any

from django.core import signing
from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from elasticsearch import ApiError, NotFoundError
from elasticsearch.dsl import async_connections as dsl_async_connections
from elasticsearch.dsl import connections as dsl_connections

import djangoes

from .adapters import search_documents, search_indices, search_using
from .steps import Steps, arun_steps, run_steps

#: Elasticsearch's default ``index.max_result_window``.
DEFAULT_MAX_RESULTS = 10_000

CURSOR_SALT = "djangoes_dsl.pagination.cursor"


def max_result_window(search: Any) -> int:
    """Return the ``max_result_window`` the SETTINGS of the search's index declare.

    Read from ES_INDICES (no request); 10,000, Elasticsearch's default, when not declared or
    when the search is not a Document's.
    """
    for document in search_documents(search):
        binding = getattr(document, "get_binding", lambda: None)()
        if binding is None:
            continue
        settings = djangoes.connections.get_index_settings(binding.key)["SETTINGS"] or {}
        for name in ("max_result_window", "index.max_result_window"):
            if name in settings:
                return int(settings[name])
        nested = settings.get("index")
        if isinstance(nested, dict) and "max_result_window" in nested:
            return int(nested["max_result_window"])
    return DEFAULT_MAX_RESULTS


class SearchPaginator(Paginator):
    """Django's Paginator over a Search, one search request per page.

    ``page(n)`` sends the page's search with ``track_total_hits`` and takes the count from
    its answer; ``page.object_list`` is that search, executed (iterate it for hits, call
    ``to_queryset()`` or ``instances()`` for model instances, ``execute()`` for the
    response with its aggregations). ``count`` is capped at ``max_results`` (default: the
    index's ``max_result_window``): the pages beyond it cannot be fetched with from/size.
    """

    def __init__(
        self,
        object_list: Any,
        per_page: int | str,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
        max_results: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(object_list, per_page, orphans, allow_empty_first_page, **kwargs)
        self.search: Any = object_list
        self.max_results = (
            max_results if max_results is not None else max_result_window(object_list)
        )
        self._total: tuple[int, str] | None = None

    def _remember(self, response: Any) -> None:
        total = response.hits.total
        self._total = (int(total.value), str(total.relation))
        # Sets the cached ``count``.
        self.__dict__["count"] = min(self._total[0], self.max_results)

    @cached_property
    def count(self) -> int:
        """Return the number of hits that can be paged through (one request if no page yet)."""
        return run_steps(self._count_steps())

    def _count_steps(self) -> Steps:
        self._remember((yield self.search.extra(size=0, track_total_hits=self.max_results)))
        return self.__dict__["count"]  # type: ignore[no-any-return]

    @property
    def total(self) -> tuple[int, str]:
        """Return ``(hits, relation)``: relation "eq" when exact, "gte" beyond ``max_results``."""
        if self._total is None:
            self.count  # noqa: B018
        assert self._total is not None
        return self._total

    def page(self, number: Any) -> Page:
        """Return page ``number`` from one search request (validated against its count)."""
        return run_steps(self._page_steps(number))

    def _page_steps(self, number: Any) -> Steps:
        """Yield each search to send (each is answered with its response); return the page.

        The one account of a page for the sync paginator and the async one, which differ
        only in how they send (``run_steps``, ``arun_steps``).
        """
        number = self._positive(number)
        bottom = (number - 1) * self.per_page
        if number > 1 and bottom >= self.max_results:
            raise EmptyPage(self._message("no_results"))
        if "count" in self.__dict__:  # known: the page's exact bounds
            number = self.validate_number(number)
            search = self._window(bottom, self._top(bottom))
            yield search
            return Page(search, number, self)
        # The count comes with the page: fetch the orphans the last page may take as well.
        fetched = min(bottom + self.per_page + self.orphans, self.max_results)
        search = self._window(bottom, fetched)
        self._remember((yield search))
        number = self.validate_number(number)
        top = self._top(bottom)
        if top != min(fetched, self.count):
            # Not the last page after all: the orphans fetched belong to the next one.
            search = self._window(bottom, top)
            yield search
        return Page(search, number, self)

    def get_page(self, number: Any) -> Page:
        """Return a valid page even if ``number`` is not one (as Django's ``get_page``):
        the first page for a non-number, the last one for a number out of range."""
        try:
            return self.page(number)
        except PageNotAnInteger:
            return self.page(1)
        except EmptyPage:
            return self.page(self.num_pages)

    def _top(self, bottom: int) -> int:
        top = bottom + self.per_page
        return self.count if top + self.orphans >= self.count else top

    def _window(self, bottom: int, top: int) -> Any:
        return self.search[bottom:top].extra(track_total_hits=self.max_results)

    def _message(self, name: str) -> str:
        return str(self.error_messages[name])

    def _positive(self, number: Any) -> int:
        try:
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger(self._message("invalid_page")) from None
        if number < 1:
            raise EmptyPage(self._message("min_page"))
        return number  # type: ignore[no-any-return]


class AsyncSearchPaginator(SearchPaginator):
    """:class:`SearchPaginator` for an async search (``MyDocument.asearch()``, an
    ``AsyncFacetedSearch``'s ``to_search()``), sent with the running event loop's client.

    ``await paginator.apage(n)`` and ``await paginator.aget_page(n)`` return Django ``Page``
    objects whose ``object_list`` is the page's search, executed: ``async for hit in
    page.object_list``, ``await page.object_list.ainstances()``. ``await paginator.acount()``
    and ``await paginator.anum_pages()`` send the count request if no page was fetched yet;
    after a page, ``count``, ``num_pages``, ``page.has_next()`` and the other sync attributes
    read what that page's request brought.
    """

    @cached_property
    def count(self) -> int:
        raise RuntimeError(
            "The count of an AsyncSearchPaginator is not known before a page: "
            "await paginator.acount() or await paginator.apage(n) first."
        )

    async def acount(self) -> int:
        """Return the number of hits that can be paged through (one request if no page yet)."""
        if "count" not in self.__dict__:
            await arun_steps(self._count_steps())
        return self.count

    async def anum_pages(self) -> int:
        """Return the number of pages (one request if no page yet)."""
        await self.acount()
        return self.num_pages

    @property
    def total(self) -> tuple[int, str]:
        """Return ``(hits, relation)``, known after ``acount()`` or a page."""
        if self._total is None:
            self.count  # noqa: B018  # says how to know it
        assert self._total is not None
        return self._total

    def page(self, number: Any) -> Page:
        raise TypeError(
            "AsyncSearchPaginator sends with the async API: await paginator.apage(number)."
        )

    async def apage(self, number: Any) -> Page:
        """Return page ``number`` from one search request (see :meth:`SearchPaginator.page`)."""
        return await arun_steps(self._page_steps(number))  # type: ignore[no-any-return]

    async def aget_page(self, number: Any) -> Page:
        """Return a valid page even if ``number`` is not one (see
        :meth:`SearchPaginator.get_page`)."""
        try:
            return await self.apage(number)
        except PageNotAnInteger:
            return await self.apage(1)
        except EmptyPage:
            return await self.apage(await self.anum_pages())


class InvalidCursor(ValueError):
    """A cursor that was not made by SearchAfterPaginator, was altered, or has expired."""


class CursorPage:
    """One page of a :class:`SearchAfterPaginator`: its hits and the cursor of the next."""

    def __init__(self, search: Any, next_cursor: str | None, response: Any = None) -> None:
        self.object_list = search  # executed: iterating it sends no request
        self.next_cursor = next_cursor
        self._response = response

    @property
    def response(self) -> Any:
        if self._response is None:
            self._response = self.object_list.execute()
        return self._response

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None

    def __iter__(self) -> Iterator[Any]:
        return iter(self.response)

    def __len__(self) -> int:
        return len(self.response.hits)

    def to_queryset(self) -> Any:
        """Return the page's rows in hit order (see ``Response.to_queryset``)."""
        return self.response.to_queryset()

    def instances(self, queryset: Any = None) -> list[Any]:
        """Return the page's rows with scores and highlights (see ``Response.instances``)."""
        return self.response.instances(queryset)  # type: ignore[no-any-return]

    async def ainstances(self, queryset: Any = None) -> list[Any]:
        """Return what ``instances()`` returns, read with Django's async ORM."""
        return await self.response.ainstances(queryset)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"<CursorPage of {len(self)} hits, {'more' if self.has_next else 'last'}>"


class _SearchAfterPaging:
    """What the sync and the async cursor paginators share: the searches of each page, the
    cursors; no requests."""

    def __init__(self, search: Any, per_page: int = 1000, keep_alive: str = "5m") -> None:
        if int(per_page) < 1:
            raise ValueError(f"per_page must be at least 1, not {per_page!r}.")
        self.search = search
        self.per_page = int(per_page)
        self.keep_alive = keep_alive

    def _open_params(self) -> dict[str, Any]:
        indices = search_indices(self.search)
        return {"index": ",".join(indices) if indices else "_all", "keep_alive": self.keep_alive}

    def _page_search(self, pit: str, after: list[Any] | None, first: bool) -> Any:
        search = self.search.index().extra(pit={"id": pit, "keep_alive": self.keep_alive})
        if not search.to_dict().get("sort"):
            search = search.sort("_shard_doc")
        if after is not None:
            search = search.extra(search_after=after)
        if not first:
            search = search.extra(track_total_hits=False)
        return search[: self.per_page]

    def _expired(self) -> InvalidCursor:
        return InvalidCursor(
            f"The point in time of this cursor has expired (it lives {self.keep_alive} "
            f"between two pages): start again from the first page."
        )

    def _read_cursor(self, cursor: str) -> tuple[str, list[Any]]:
        """Return the point in time and the sort values after which ``cursor``'s page starts."""
        try:
            state = signing.loads(cursor, salt=CURSOR_SALT)
            return str(state["pit"]), list(state["after"])
        except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
            raise InvalidCursor(
                "This cursor was not made by SearchAfterPaginator or was altered: "
                "start again from the first page."
            ) from exc

    def _next_cursor(self, pit: str, response: Any) -> tuple[str, str | None]:
        """Return the point in time to go on with and the next page's cursor (None: this
        page is the last one)."""
        pit = str(getattr(response, "pit_id", None) or pit)
        hits = response.hits
        if len(hits) < self.per_page:
            return pit, None
        cursor = signing.dumps(
            {"pit": pit, "after": list(hits[-1].meta.sort)}, salt=CURSOR_SALT, compress=True
        )
        return pit, cursor


class SearchAfterPaginator(_SearchAfterPaging):
    """Page through every hit of a Search, however many, with a point in time.

    The search's sort decides the order (default: index order, the fastest); Elasticsearch
    adds a tiebreaker under a point in time, so no hit is skipped or repeated. Each page is
    one request; ``keep_alive`` is how long the point in time lives between two pages.
    """

    def _client(self) -> Any:
        return dsl_connections.get_connection(search_using(self.search))

    def _open(self) -> str:
        opened = self._client().open_point_in_time(**self._open_params())
        return str(opened["id"])

    def _close(self, pit: str) -> None:
        with contextlib.suppress(NotFoundError):  # expired already
            self._client().close_point_in_time(id=pit)

    def _fetch(self, pit: str, after: list[Any] | None, first: bool) -> tuple[Any, Any]:
        search = self._page_search(pit, after, first)
        try:
            response = search.execute()
        except NotFoundError as exc:
            raise self._expired() from exc
        return search, response

    # -- pages -------------------------------------------------------------------------------

    def page(self, cursor: str | None = None) -> CursorPage:
        """Return the first page, or the page after ``cursor`` (from ``next_cursor``).

        The last page closes the point in time; a cursor not followed lets it expire after
        ``keep_alive``. Raise :class:`InvalidCursor` for a cursor that was altered, made for
        another search, or whose point in time expired.
        """
        if cursor is None:
            pit, after, first = self._open(), None, True
        else:
            (pit, after), first = self._read_cursor(cursor), False
        try:
            search, response = self._fetch(pit, after, first)
        except ApiError:
            if first:
                self._close(pit)
            raise
        pit, next_cursor = self._next_cursor(pit, response)
        if next_cursor is None:
            self._close(pit)
        return CursorPage(search, next_cursor, response)

    def pages(self) -> Iterator[CursorPage]:
        """Yield every page, the point in time closed at the end (also when stopped early)."""
        pit = self._open()
        after = None
        try:
            while True:
                search, response = self._fetch(pit, after, first=after is None)
                pit = str(getattr(response, "pit_id", None) or pit)
                hits = response.hits
                full = len(hits) == self.per_page
                yield CursorPage(search, "more" if full else None)
                if not full:
                    return
                after = list(hits[-1].meta.sort)
        finally:
            self._close(pit)

    def __iter__(self) -> Iterator[Any]:
        """Yield every hit, page after page (see :meth:`pages`)."""
        for page in self.pages():
            yield from page


class AsyncSearchAfterPaginator(_SearchAfterPaging):
    """:class:`SearchAfterPaginator` for an async search (``MyDocument.asearch()``), sent with
    the running event loop's client: ``await paginator.apage(cursor)``,
    ``async for page in paginator.apages()``, ``async for hit in paginator``."""

    def _client(self) -> Any:
        return dsl_async_connections.get_connection(search_using(self.search))

    async def _aopen(self) -> str:
        opened = await self._client().open_point_in_time(**self._open_params())
        return str(opened["id"])

    async def _aclose(self, pit: str) -> None:
        with contextlib.suppress(NotFoundError):  # expired already
            await self._client().close_point_in_time(id=pit)

    async def _afetch(self, pit: str, after: list[Any] | None, first: bool) -> tuple[Any, Any]:
        search = self._page_search(pit, after, first)
        try:
            response = await search.execute()
        except NotFoundError as exc:
            raise self._expired() from exc
        return search, response

    async def apage(self, cursor: str | None = None) -> CursorPage:
        """Return the first page, or the page after ``cursor`` (see
        :meth:`SearchAfterPaginator.page`); ``await page.ainstances()`` reads its rows."""
        if cursor is None:
            pit, after, first = await self._aopen(), None, True
        else:
            (pit, after), first = self._read_cursor(cursor), False
        try:
            search, response = await self._afetch(pit, after, first)
        except ApiError:
            if first:
                await self._aclose(pit)
            raise
        pit, next_cursor = self._next_cursor(pit, response)
        if next_cursor is None:
            await self._aclose(pit)
        return CursorPage(search, next_cursor, response)

    async def apages(self) -> AsyncIterator[CursorPage]:
        """Yield every page, the point in time closed at the end (also when stopped early)."""
        pit = await self._aopen()
        after = None
        try:
            while True:
                search, response = await self._afetch(pit, after, first=after is None)
                pit = str(getattr(response, "pit_id", None) or pit)
                hits = response.hits
                full = len(hits) == self.per_page
                yield CursorPage(search, "more" if full else None, response)
                if not full:
                    return
                after = list(hits[-1].meta.sort)
        finally:
            await self._aclose(pit)

    async def __aiter__(self) -> AsyncIterator[Any]:
        """Yield every hit, page after page (see :meth:`apages`)."""
        async for page in self.apages():
            for hit in page:
                yield hit
