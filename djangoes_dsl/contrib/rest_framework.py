"""Django REST framework views over a Document: a filter backend, cursor and page-number
pagination, facets, highlight and serializers.

Imported only by projects that use it (``pip install "djangoes[drf]"``); nothing else in
djangoes imports DRF.

    from djangoes_dsl.contrib import rest_framework as es_drf

    class ProductSearchView(es_drf.DocumentSearchView):
        document = ProductDocument
        search_fields = ["title^2", "sku"]
        filter_fields = {"category": "category", "price": "price"}
        ordering_fields = ["price", "created"]
        facets = ProductFacets              # a djangoes_dsl.faceted.FacetedSearch
        highlight_fields = ["title"]

Every query parameter is read against the view's allow-list (``search_fields``,
``filter_fields``, ``ordering_fields``, the facets, the pagination's own); anything else, and
any value that does not fit, is a 400 naming the parameter (see djangoes_dsl.contrib.api).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from elasticsearch import ApiError
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.filters import BaseFilterBackend
from rest_framework.pagination import BasePagination
from rest_framework.response import Response as DRFResponse
from rest_framework.settings import api_settings
from rest_framework.utils.urls import remove_query_param, replace_query_param

from ..adapters import mapped_field, mapped_field_is_multi, mapping_field_names
from ..params import InvalidParameter
from .api import (
    CURSOR_DESCRIPTION,
    Parameter,
    SearchParameters,
    autocomplete_search,
    cursor_page,
    number_page,
    page_size,
    query_lists,
    single,
)

__all__ = [
    "AutocompleteFilterBackend",
    "DocumentAutocompleteView",
    "DocumentFilterBackend",
    "DocumentSearchView",
    "DocumentSerializer",
    "SearchCursorPagination",
    "SearchPageNumberPagination",
    "SearchResultSerializer",
]

PAGINATION_PARAMS = (
    "page_query_param",
    "page_size_query_param",
    "cursor_query_param",
    "limit_query_param",
    "offset_query_param",
)


def bad_request(exc: InvalidParameter) -> ValidationError:
    """Return DRF's 400 for an invalid parameter: ``{"<parameter>": ["<message>"]}``."""
    return ValidationError({exc.name: [exc.message]})


def search_parameters(view: Any) -> SearchParameters:
    """Return the allow-list of a view: its ``get_search_parameters()``, or one built from
    its attributes (``document``, ``search_fields``, ``filter_fields``, ...)."""
    if hasattr(view, "get_search_parameters"):
        return view.get_search_parameters()  # type: ignore[no-any-return]
    return SearchParameters(
        document=view.document,
        query_fields=getattr(view, "search_fields", ()),
        filters=getattr(view, "filter_fields", {}),
        ordering=getattr(view, "ordering_fields", ()),
        default_ordering=getattr(view, "default_ordering", ()),
        facets=getattr(view, "facets", None),
        highlight=getattr(view, "highlight_fields", ()),
    )


def other_parameters(view: Any) -> set[str]:
    """Return the names a view reads besides its search's: its pagination's, ``format``."""
    names = {api_settings.URL_FORMAT_OVERRIDE or "format"}
    pagination = getattr(view, "pagination_class", None)
    for attribute in PAGINATION_PARAMS:
        name = getattr(pagination, attribute, None)
        if name:
            names.add(name)
    return names


class DocumentFilterBackend(BaseFilterBackend):
    """Narrow a view's Search by the query parameters its allow-list names.

    The view declares ``document`` and, as it needs, ``search_fields``, ``filter_fields``,
    ``ordering_fields``, ``default_ordering``, ``facets``, ``highlight_fields`` (or returns
    a :class:`~djangoes_dsl.contrib.api.SearchParameters` from ``get_search_parameters()``).
    """

    def filter_queryset(self, request: Any, queryset: Any, view: Any) -> Any:
        spec = search_parameters(view)
        try:
            return spec.search(query_lists(request.query_params), other_parameters(view), queryset)
        except InvalidParameter as exc:
            raise bad_request(exc) from None

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [p.openapi() for p in search_parameters(view).parameters()]


def results_of(view: Any, response: Any) -> list[Any]:
    """Return what a view serializes of a response: its hits, or (``results =
    "instances"``) the hits' rows with ``search_score`` and ``search_highlight``."""
    if getattr(view, "results", "hits") == "instances":
        get_queryset = getattr(view, "get_instances_queryset", None)
        return response.instances(get_queryset() if get_queryset else None)  # type: ignore[no-any-return]
    return list(response.hits)


def facets_of(response: Any) -> dict[str, Any] | None:
    """Return the facets of a response as JSON data; None for a search without facets."""
    data = getattr(response, "facets_data", None)
    return data() if callable(data) else None


def page_answer(body: dict[str, Any], response: Any, results: Any) -> DRFResponse:
    """Return a page's answer: ``body`` (its links), the facets when the search has them, and
    the serialized ``results``."""
    facets = facets_of(response)
    if facets is not None:
        body["facets"] = facets
    body["results"] = results
    return DRFResponse(body)


def page_schema(required: list[str], properties: dict[str, Any], results: Any) -> dict[str, Any]:
    """Return the OpenAPI schema of a page: ``properties`` (its links), facets, results."""
    return {
        "type": "object",
        "required": [*required, "results"],
        "properties": {**properties, "facets": FACETS_SCHEMA, "results": results},
    }


class SearchPageNumberPagination(BasePagination):
    """Page numbers over a Search, one request per page (``SearchPaginator``); pages end at
    the index's ``max_result_window`` (a deeper page is a 400 naming ``page``)."""

    page_query_param = "page"
    page_size_query_param: str | None = "page_size"
    page_size = 20
    max_page_size = 100

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> list[Any]:
        params = query_lists(request.query_params)
        try:
            self.page = number_page(
                queryset,
                params,
                self.page_query_param,
                self.page_size_query_param,
                self.page_size,
                self.max_page_size,
            )
        except InvalidParameter as exc:
            raise bad_request(exc) from None
        self.paginator = self.page.paginator
        self.request = request
        self.response = self.page.object_list.execute()
        return results_of(view, self.response)

    def get_paginated_response(self, data: Any) -> DRFResponse:
        total, relation = self.paginator.total
        url = self.request.build_absolute_uri()
        body: dict[str, Any] = {
            "count": total,
            "count_relation": relation,
            "next": replace_query_param(url, self.page_query_param, self.page.number + 1)
            if self.page.has_next()
            else None,
            "previous": (
                replace_query_param(url, self.page_query_param, self.page.number - 1)
                if self.page.number > 2
                else remove_query_param(url, self.page_query_param)
            )
            if self.page.has_previous()
            else None,
        }
        return page_answer(body, self.response, data)

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        links = {
            "count": {"type": "integer"},
            "count_relation": {"type": "string", "enum": ["eq", "gte"]},
            "next": LINK_SCHEMA,
            "previous": LINK_SCHEMA,
        }
        return page_schema(["count"], links, schema)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        found = [Parameter(self.page_query_param, "integer", "A page number (from 1).")]
        return [p.openapi() for p in [*found, *_size_parameter(self)]]


class SearchCursorPagination(BasePagination):
    """Next-page cursors over a Search, as deep as the hits go: ``search_after`` within a point
    in time (``SearchAfterPaginator``). A cursor is opaque and signed with ``SECRET_KEY``,
    and tied to its search: an altered cursor, or one of another search, is a 400 naming
    ``cursor``. ``keep_alive`` is how long a point in time waits for the next page."""

    cursor_query_param = "cursor"
    page_size_query_param: str | None = "page_size"
    page_size = 20
    max_page_size = 100
    keep_alive = "2m"

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> list[Any]:
        params = query_lists(request.query_params)
        try:
            size = page_size(params, self.page_size_query_param, self.page_size, self.max_page_size)
            cursor = single(params, self.cursor_query_param)
            self.page = cursor_page(
                queryset, cursor, size, self.keep_alive, self.cursor_query_param
            )
        except InvalidParameter as exc:
            raise bad_request(exc) from None
        self.request = request
        self.response = self.page.response
        return results_of(view, self.response)

    def get_paginated_response(self, data: Any) -> DRFResponse:
        url = self.request.build_absolute_uri()
        next_url = (
            replace_query_param(url, self.cursor_query_param, self.page.next_cursor)
            if self.page.next_cursor
            else None
        )
        body: dict[str, Any] = {"next": next_url}
        return page_answer(body, self.response, data)

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return page_schema([], {"next": LINK_SCHEMA}, schema)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        found = [Parameter(self.cursor_query_param, "string", CURSOR_DESCRIPTION)]
        return [p.openapi() for p in [*found, *_size_parameter(self)]]


LINK_SCHEMA = {"type": "string", "nullable": True, "format": "uri"}
FACETS_SCHEMA = {
    "type": "object",
    "additionalProperties": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "value": {},
                "count": {"type": "integer"},
                "selected": {"type": "boolean"},
            },
        },
    },
}


def _size_parameter(pagination: Any) -> list[Parameter]:
    name = pagination.page_size_query_param
    text = f"Hits per page (1-{pagination.max_page_size})."
    return [Parameter(name, "integer", text)] if name else []


# -- serializers -------------------------------------------------------------------------------


class HighlightField(serializers.DictField):
    """The highlighted fragments of a hit or an instance: ``{field: [fragment, ...]}``."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        kwargs.setdefault("child", serializers.ListField(child=serializers.CharField()))
        super().__init__(**kwargs)

    def get_attribute(self, instance: Any) -> Any:
        found = getattr(instance, "search_highlight", None)  # an instance
        if found is None:
            highlight = getattr(getattr(instance, "meta", None), "highlight", None)
            found = highlight.to_dict() if highlight is not None else {}
        return found


class SearchResultSerializer(serializers.Serializer):
    """Adds ``search_score`` and ``highlight`` to a ModelSerializer of ``to_queryset()`` or
    ``instances()`` rows: ``class BookSerializer(SearchResultSerializer, ModelSerializer)``,
    with both names in ``Meta.fields``."""

    search_score = serializers.FloatField(read_only=True, allow_null=True, default=None)
    highlight = HighlightField()


FIELD_CLASSES: dict[str, type[serializers.Field]] = {
    **{kind: serializers.IntegerField for kind in ("byte", "short", "integer", "long")},
    **{
        kind: serializers.FloatField
        for kind in ("half_float", "float", "scaled_float", "double", "unsigned_long")
    },
    "boolean": serializers.BooleanField,
    "date": serializers.DateTimeField,
    "date_nanos": serializers.DateTimeField,
    "keyword": serializers.CharField,
    "text": serializers.CharField,
    "match_only_text": serializers.CharField,
    "search_as_you_type": serializers.CharField,
    "wildcard": serializers.CharField,
    "constant_keyword": serializers.CharField,
    "ip": serializers.CharField,
}


class DocumentSerializer(serializers.Serializer):
    """A read-only serializer of search hits: ``id``, ``score``, ``highlight`` and the fields
    of ``Meta.document`` (``Meta.fields`` to choose them), typed from its mapping."""

    id = serializers.CharField(source="meta.id", read_only=True)
    score = serializers.FloatField(source="meta.score", read_only=True, allow_null=True)
    highlight = HighlightField()

    def get_fields(self) -> dict[str, serializers.Field]:
        found = super().get_fields()
        meta = getattr(self, "Meta", None)
        document = getattr(meta, "document", None)
        if document is None:
            return found
        names: Sequence[str] = getattr(meta, "fields", None) or [
            name for name in mapping_field_names(document) if not name.startswith("djangoes_")
        ]
        for name in names:
            if name in found:
                continue
            mapped = mapped_field(document, name)
            field_class = FIELD_CLASSES.get(getattr(mapped, "name", ""), serializers.JSONField)
            child = field_class(read_only=True, allow_null=True)
            if mapped_field_is_multi(mapped):
                found[name] = serializers.ListField(child=field_class(), read_only=True)
            else:
                found[name] = child
        return found


# -- views -------------------------------------------------------------------------------------


class DocumentSearchView(generics.ListAPIView):
    """A list endpoint over a Document's search: query, filters, ordering and facets from the
    allow-list, cursor pagination, hits (or ``results = "instances"``: rows) serialized.

    Without ``serializer_class``, hits are serialized with a :class:`DocumentSerializer` of
    ``document``.
    """

    document: Any = None
    search_fields: Sequence[str] = ()
    filter_fields: dict[str, str] = {}
    ordering_fields: Any = ()
    default_ordering: Sequence[str] = ()
    facets: Any = None
    highlight_fields: Sequence[str] = ()
    results = "hits"
    filter_backends = [DocumentFilterBackend]
    pagination_class: Any = SearchCursorPagination

    def get_queryset(self) -> Any:
        return self.document.search()

    def get_serializer_class(self) -> Any:
        if self.serializer_class is not None:
            return self.serializer_class
        return document_serializer(self.document)

    def handle_exception(self, exc: Exception) -> Any:
        if isinstance(exc, InvalidParameter):
            exc = bad_request(exc)
        elif isinstance(exc, ApiError) and exc.meta.status == 400:
            # Not expected once the parameters are checked; never show the node's text.
            exc = ValidationError(
                {"detail": ["The search could not be run with these parameters."]}
            )
        return super().handle_exception(exc)


class AutocompleteFilterBackend(BaseFilterBackend):
    """Narrow a view's Search to what ``q`` (the words typed so far) completes, in the fields
    the Document marks (``Django.autocomplete``), ``size`` hits at most."""

    def filter_queryset(self, request: Any, queryset: Any, view: Any) -> Any:
        try:
            return autocomplete_search(
                queryset,
                query_lists(request.query_params),
                query_param=view.query_param,
                max_query_length=view.max_query_length,
                size=view.size,
                max_size=view.max_size,
                others=[api_settings.URL_FORMAT_OVERRIDE or "format"],
            )
        except InvalidParameter as exc:
            raise bad_request(exc) from None

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            Parameter(view.query_param, "string", "The words typed so far.").openapi(),
            Parameter("size", "integer", f"Suggestions (1-{view.max_size}).").openapi(),
        ]


class DocumentAutocompleteView(DocumentSearchView):
    """Suggestions as the user types: ``?q=red la`` → the hits (or rows) that complete it."""

    query_param = "q"
    max_query_length = 100
    size = 8
    max_size = 20
    filter_backends = [AutocompleteFilterBackend]
    pagination_class = None

    def list(self, request: Any, *args: Any, **kwargs: Any) -> DRFResponse:
        search = self.filter_queryset(self.get_queryset())
        items = results_of(self, search.execute())
        return DRFResponse({"results": self.get_serializer(items, many=True).data})


_SERIALIZERS: dict[Any, type[DocumentSerializer]] = {}


def document_serializer(document: Any) -> type[DocumentSerializer]:
    """Return the DocumentSerializer of ``document`` (one class per Document)."""
    found = _SERIALIZERS.get(document)
    if found is None:
        meta = type("Meta", (), {"document": document})
        found = type(f"{document.__name__}Serializer", (DocumentSerializer,), {"Meta": meta})
        _SERIALIZERS[document] = found
    return found
