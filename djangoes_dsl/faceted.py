"""Faceted search over a Document: elasticsearch.dsl's FacetedSearch, answered with rows.

elasticsearch.dsl's :class:`~elasticsearch.dsl.FacetedSearch` composes the query, one
aggregation per facet (each counted under the filters of the *other* facets) and the selected
values as a ``post_filter``, so every facet's counts stay right while the hits are narrowed.
This subclass searches a djangoes Document (its configured index, its kind in a shared index),
reads filter values typed by users from text, and answers with a Response that also has
``to_queryset()`` and ``instances()``; its facets are :class:`FacetValue` tuples a template or
a serializer can render.

    class ProductSearch(FacetedSearch):
        document = ProductDocument
        fields = ["title^2", "sku"]
        facets = {
            "category": TermsFacet(field="category"),
            "price": RangeFacet(field="price", ranges=[("under 10", (None, 10)),
                                                      ("10 and more", (10, None))]),
            "added": DateHistogramFacet(field="created", calendar_interval="month"),
        }

    faceted = ProductSearch("lamp", filters={"category": ["lighting"]})
    paginator = SearchPaginator(faceted.to_search(), 20)   # one request per page
    page = paginator.get_page(request.GET.get("page"))
    response = page.object_list.execute()                  # the same answer
    response.facets["category"]   # [FacetValue(value='lighting', count=3, selected=True), ...]
    page.object_list.instances()  # the page's rows

In async code, the same declaration's twin, ``ProductSearch.as_async()``, is an
:class:`AsyncFacetedSearch`: ``await ProductSearch.as_async()("lamp").execute()``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar, NamedTuple

from django.core.exceptions import ImproperlyConfigured
from elasticsearch import dsl
from elasticsearch.dsl.faceted_search import (
    DateHistogramFacet,
    Facet,
    HistogramFacet,
    NestedFacet,
    RangeFacet,
    TermsFacet,
)
from elasticsearch.dsl.faceted_search import (
    FacetedResponse as DslFacetedResponse,
)

from .adapters import facet_params, faceted_request, nested_facet_inner, range_facet_keys
from .params import InvalidParameter, parse_datetime, parse_value, to_text
from .search import Response

__all__ = [
    "AsyncFacetedSearch",
    "DateHistogramFacet",
    "Facet",
    "FacetValue",
    "FacetedResponse",
    "FacetedSearch",
    "HistogramFacet",
    "InvalidParameter",
    "NestedFacet",
    "RangeFacet",
    "TermsFacet",
]


class FacetValue(NamedTuple):
    """One value of a facet: the value, how many hits have it, whether it is selected.

    A tuple of three, as elasticsearch.dsl's facets are (``for value, count, selected in
    ...`` keeps working).
    """

    value: Any
    count: int  # type: ignore[assignment]  # shadows tuple.count, as a facet reads best
    selected: bool

    @property
    def param(self) -> str:
        """Return the value as a query parameter selects it (dates in ISO 8601)."""
        return to_text(self.value)

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"value", "count", "selected"}`` with a JSON value (dates as text)."""
        value = self.param if isinstance(self.value, (date, datetime)) else self.value
        return {"value": value, "count": self.count, "selected": self.selected}


class FacetedResponse(Response, DslFacetedResponse):
    """The answer of a :class:`FacetedSearch`: hits, rows (``to_queryset()``,
    ``instances()``) and ``facets``, ``{name: [FacetValue, ...]}``."""

    @property
    def facets(self) -> Any:
        cached = self.__dict__.get("_djangoes_facets")
        if cached is None:
            found = DslFacetedResponse.facets.fget(self)  # type: ignore[attr-defined]
            cached = {
                name: [FacetValue(*value) for value in values] for name, values in found.items()
            }
            object.__setattr__(self, "_djangoes_facets", cached)
        return cached

    def facets_data(self) -> dict[str, list[dict[str, Any]]]:
        """Return the facets as JSON data: ``{name: [{"value", "count", "selected"}, ...]}``."""
        return {name: [v.to_dict() for v in values] for name, values in self.facets.items()}


class FacetedSearch(dsl.FacetedSearch):
    """elasticsearch.dsl's FacetedSearch over the Document named by ``document``.

    ``filters`` takes values as text (from a query string) or already parsed; text is read
    by the facet's kind and the field's mapping type (:meth:`parse_filter`), so a value the
    node would refuse raises :class:`~djangoes_dsl.params.InvalidParameter` naming the facet.
    """

    #: The Document searched (required).
    document: Any = None
    #: The connection alias; None: the Document's own.
    using: Any = None
    #: Whether the search is the Document's ``asearch()`` (see :class:`AsyncFacetedSearch`).
    is_async = False
    #: The class's AsyncFacetedSearch twin, made by ``as_async()`` on first use.
    _async_twin: ClassVar[type[AsyncFacetedSearch]]

    def __init__(
        self,
        query: Any = None,
        filters: dict[str, Any] | None = None,
        sort: Any = (),
    ) -> None:
        super().__init__(query, filters or {}, list(sort))

    def search(self) -> Any:
        """Return the Document's search, answering with this faceted search's Response."""
        if self.document is None:
            raise ImproperlyConfigured(
                f"{type(self).__name__} has no document: set document = <a Document class>."
            )
        faceted = self
        response = type("FacetedResponse", (FacetedResponse,), {"_faceted_search": faceted})
        make = self.document.asearch if self.is_async else self.document.search
        return make(using=self.using).response_class(response)

    def add_filter(self, name: str, filter_values: Any) -> None:
        """Select ``filter_values`` (one value or a list; text or parsed) of facet ``name``."""
        if name not in self.facets:
            raise InvalidParameter(
                name,
                f"{name}: not a facet of {type(self).__name__}; "
                f"its facets are {', '.join(sorted(self.facets)) or 'none'}.",
            )
        if filter_values is None:
            return
        if not isinstance(filter_values, (list, tuple)):
            filter_values = [filter_values]
        parsed = [self.parse_filter(name, value) for value in filter_values]
        super().add_filter(name, list(dict.fromkeys(parsed)))

    def parse_filter(self, name: str, value: Any) -> Any:
        """Return the value of facet ``name`` that ``value`` (text, or parsed) selects."""
        facet = self.facets[name]
        while isinstance(facet, NestedFacet):
            facet = nested_facet_inner(facet)
        if isinstance(facet, RangeFacet):
            keys = range_facet_keys(facet)
            if value not in keys:
                raise InvalidParameter(
                    name, f"{name}: {value!r} is not one of {', '.join(map(str, keys))}."
                )
            return value
        field = facet_params(facet).get("field", "")
        if isinstance(facet, DateHistogramFacet):
            if isinstance(value, str):
                return parse_datetime(name, value)
            if isinstance(value, date) and not isinstance(value, datetime):
                return datetime(value.year, value.month, value.day)
            return value
        return parse_value(self.document, field, value, name=name)

    def to_search(self) -> Any:
        """Return the Search this faceted search sends (query, aggregations, post_filter,
        sort): page it with ``SearchPaginator`` or ``SearchAfterPaginator``; its responses
        have ``facets``."""
        return faceted_request(self)

    def execute(self) -> Any:
        """Send the search; return its :class:`FacetedResponse`."""
        return self.to_search().execute()

    @classmethod
    def as_async(cls) -> type[AsyncFacetedSearch]:
        """Return the :class:`AsyncFacetedSearch` of this declaration: the same facets,
        fields and methods, searched with the Document's ``asearch()``."""
        twin = cls.__dict__.get("_async_twin")
        if twin is None:
            twin = type(f"Async{cls.__name__}", (AsyncFacetedSearch, cls), {})
            twin.__module__ = cls.__module__
            cls._async_twin = twin
        return twin  # type: ignore[no-any-return]


class AsyncFacetedSearch(FacetedSearch):
    """A :class:`FacetedSearch` for async code: ``await faceted.execute()``,
    ``await faceted.count()``; ``to_search()`` is the Document's ``asearch()`` (page it with
    ``AsyncSearchPaginator`` or ``AsyncSearchAfterPaginator``), and its responses have
    ``facets`` and ``await response.ainstances()``.

    Subclass it, or take a sync declaration's twin: ``ProductSearch.as_async()``.
    """

    is_async = True

    @classmethod
    def as_async(cls) -> type[AsyncFacetedSearch]:
        return cls

    async def execute(self) -> Any:  # type: ignore[override]
        """Send the search; return its :class:`FacetedResponse`."""
        return await self.to_search().execute()

    async def count(self) -> int:  # type: ignore[override]
        """Return the number of hits (one ``_count`` request)."""
        return await self.to_search().count()  # type: ignore[no-any-return]
