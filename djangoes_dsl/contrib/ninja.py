"""Django Ninja endpoints over a Document: search with facets and cursor (or page-number)
pagination, autocomplete, and pydantic schemas made from a Document's fields.

Imported only by projects that use it (``pip install "djangoes[ninja]"``); nothing else in
djangoes imports Ninja.

    from ninja import Router
    from djangoes_dsl.contrib import ninja as es_ninja

    router = Router()
    es_ninja.search_endpoint(
        router, "/products", ProductDocument,
        search_fields=["title^2", "sku"], filters={"category": "category", "price": "price"},
        ordering={"price": "price"}, facets=ProductFacets, highlight=["title"],
    )
    es_ninja.autocomplete_endpoint(router, "/products/autocomplete", ProductDocument)

The query parameters are read against the endpoint's allow-list (see
djangoes_dsl.contrib.api) and listed in the OpenAPI schema; anything else, and any value that
does not fit, is a 400 ``{"detail": [{"loc": ["query", "<parameter>"], "msg": ...}]}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from elasticsearch import ApiError
from ninja import Schema

try:
    from ninja import Status
except ImportError:  # an older django-ninja: it takes (status, body)
    Status = None  # type: ignore[assignment,misc]
from pydantic import create_model

from ..adapters import mapped_field, mapped_field_is_multi, mapping_field_names
from ..pagination import AsyncSearchPaginator
from ..params import INTEGER_RANGES, InvalidParameter
from .api import (
    CURSOR_DESCRIPTION,
    Parameter,
    SearchParameters,
    acursor_page,
    autocomplete_search,
    bounded_int,
    checked_page,
    cursor_page,
    number_page,
    page_asked,
    query_lists,
    single,
)

__all__ = [
    "ErrorOut",
    "FacetValueOut",
    "autocomplete_endpoint",
    "document_schema",
    "hit_data",
    "search_endpoint",
]


class FacetValueOut(Schema):
    value: Any
    count: int
    selected: bool


class ErrorItem(Schema):
    loc: list[str]
    msg: str


class ErrorOut(Schema):
    detail: list[ErrorItem]


def answer(status: int, body: Any) -> Any:
    """Return an answer with its status: Ninja's ``Status``, else the tuple older
    releases take."""
    return Status(status, body) if Status is not None else (status, body)


def error(exc: InvalidParameter) -> Any:
    """Return the 400 answer naming the parameter, in Ninja's own error shape."""
    return answer(400, {"detail": [{"loc": ["query", exc.name], "msg": exc.message}]})


#: The answer to a search the node refused although its parameters were checked.
UNRUNNABLE = "The search could not be run with these parameters."

PYTHON_TYPES: dict[str, Any] = {
    **dict.fromkeys(INTEGER_RANGES, int),
    **dict.fromkeys(("half_float", "float", "scaled_float", "double"), float),
    "boolean": bool,
    "date": datetime | date,
    "date_nanos": datetime | date,
    **dict.fromkeys(
        ("keyword", "text", "match_only_text", "search_as_you_type", "wildcard", "ip"), str
    ),
}

_SCHEMAS: dict[tuple[Any, tuple[str, ...] | None], type[Schema]] = {}


def document_schema(document: Any, fields: Sequence[str] | None = None) -> type[Schema]:
    """Return the pydantic schema (a Ninja ``Schema``) of a Document's hits: ``id``,
    ``score``, ``highlight`` and its fields (``fields`` to choose them), typed from its
    mapping."""
    key = (document, tuple(fields) if fields is not None else None)
    found = _SCHEMAS.get(key)
    if found is not None:
        return found
    names = fields or [n for n in mapping_field_names(document) if not n.startswith("djangoes_")]
    definitions: dict[str, Any] = {
        "id": (str, ...),
        "score": (float | None, None),
        "highlight": (dict[str, list[str]], {}),
    }
    for name in names:
        if name in definitions:
            continue
        mapped = mapped_field(document, name)
        kind = PYTHON_TYPES.get(getattr(mapped, "name", ""), Any)
        if mapped_field_is_multi(mapped):
            kind = list[kind]  # type: ignore[valid-type]
        definitions[name] = (kind | None, None)
    found = create_model(f"{document.__name__}Hit", __base__=Schema, **definitions)
    _SCHEMAS[key] = found
    return found


def hit_data(hit: Any) -> dict[str, Any]:
    """Return a hit as its schema's data: ``id``, ``score``, ``highlight`` and its source."""
    highlight = getattr(hit.meta, "highlight", None)
    return {
        **hit.to_dict(),
        "id": hit.meta.id,
        "score": getattr(hit.meta, "score", None),
        "highlight": highlight.to_dict() if highlight is not None else {},
    }


def _same(value: Any) -> Any:
    return value


def _page_schema(document: Any, item: Any, cursor: bool) -> type[Schema]:
    fields: dict[str, Any] = {
        "facets": (dict[str, list[FacetValueOut]] | None, None),
        "results": (list[item], ...),  # type: ignore[valid-type]
    }
    if cursor:
        fields["next"] = (str | None, None)
    else:
        fields |= {"count": (int, ...), "count_relation": (str, ...), "page": (int, ...)}
        fields |= {"next": (int | None, None), "previous": (int | None, None)}
    name = f"{document.__name__}{'Cursor' if cursor else 'Numbered'}Page"
    return create_model(name, __base__=Schema, **fields)


def search_endpoint(
    router: Any,
    path: str,
    document: Any,
    *,
    search_fields: Sequence[str] = (),
    filters: Mapping[str, str] | None = None,
    ordering: Sequence[str] | Mapping[str, str] = (),
    default_ordering: Sequence[str] = (),
    facets: Any = None,
    highlight: Sequence[str] = (),
    pagination: str = "cursor",
    page_size: int = 20,
    max_page_size: int = 100,
    keep_alive: str = "2m",
    results: str = "hits",
    schema: Any = None,
    to_result: Callable[[Any], Any] | None = None,
    base: Callable[[Any], Any] | None = None,
    asynchronous: bool = False,
    **operation: Any,
) -> Callable[..., Any]:
    """Add a GET search endpoint at ``path`` of ``router``; return its view function.

    ``asynchronous=True`` makes it an ``async def`` view that searches with the async API
    (``asearch()``, the facets' ``as_async()`` twin, the async paginators) and reads rows with
    Django's async ORM: under an ASGI server it never holds a thread while Elasticsearch
    answers (``base(request)`` then returns an async search, e.g. ``MyDoc.asearch()...``).

    ``pagination``: "cursor" (``cursor`` parameter, signed search_after cursors through a
    point in time) or "page" (``page``, up to ``max_result_window``); both take
    ``page_size``. ``results``: "hits" (each made data by ``to_result``, default
    :func:`hit_data`, and described by ``schema``, default :func:`document_schema`) or
    "instances" (the hits' rows, with ``search_score`` and ``search_highlight``; give
    ``schema``, e.g. a ``ModelSchema``). ``base(request)`` returns the search to narrow
    (permissions, tenants); ``operation`` goes to ``router.get`` (tags, summary).
    """
    spec = SearchParameters(
        document=document,
        query_fields=search_fields,
        filters=dict(filters or {}),
        ordering=ordering,
        default_ordering=default_ordering,
        facets=facets,
        highlight=highlight,
    )
    cursor = pagination == "cursor"
    if pagination not in ("cursor", "page"):
        raise ValueError(f"pagination is 'cursor' or 'page', not {pagination!r}.")
    if results not in ("hits", "instances"):
        raise ValueError(f"results is 'hits' or 'instances', not {results!r}.")
    if results == "instances" and schema is None:
        raise ValueError("results='instances' needs schema=, e.g. a ModelSchema of the model.")
    item = schema or document_schema(document)
    convert = to_result or (hit_data if results == "hits" else _same)
    own = [Parameter("page_size", "integer", f"Hits per page (1-{max_page_size}).")]
    own.append(
        Parameter("cursor", "string", CURSOR_DESCRIPTION)
        if cursor
        else Parameter("page", "integer", "A page number (from 1).")
    )
    parameters = [p.openapi() for p in [*spec.parameters(), *own]]

    def view(request: Any) -> Any:
        params = query_lists(request.GET)
        try:
            search = spec.search(params, own_names, base(request) if base else None)
            if cursor:
                page = cursor_page(search, single(params, "cursor"), _size(params), keep_alive)
                response, body = page.response, {"next": page.next_cursor}
            else:
                numbered = number_page(search, params, "page", "page_size", *sizes)
                response, body = numbered.object_list.execute(), _numbered(numbered)
        except InvalidParameter as exc:
            return error(exc)
        except ApiError as exc:
            return _refused(exc)
        found = response.instances() if results == "instances" else response.hits
        return _answer(body, response, found)

    async def aview(request: Any) -> Any:
        params = query_lists(request.GET)
        try:
            narrowed = base(request) if base else None
            search = spec.search(params, own_names, narrowed, asynchronous=True)
            if cursor:
                page = await acursor_page(
                    search, single(params, "cursor"), _size(params), keep_alive
                )
                response, body = page.response, {"next": page.next_cursor}
            else:
                size, number = page_asked(search, params, "page", "page_size", *sizes)
                paginator = AsyncSearchPaginator(search, size)
                numbered = checked_page(await paginator.aget_page(number), number, "page")
                response = await numbered.object_list.execute()
                body = _numbered(numbered)
        except InvalidParameter as exc:
            return error(exc)
        except ApiError as exc:
            return _refused(exc)
        found = await response.ainstances() if results == "instances" else response.hits
        return _answer(body, response, found)

    def _answer(body: dict[str, Any], response: Any, found: Any) -> Any:
        facets_data = getattr(response, "facets_data", None)
        body["facets"] = facets_data() if callable(facets_data) else None
        body["results"] = [convert(one) for one in found]
        return answer(200, body)

    own_names = {p.name for p in own}
    sizes = (page_size, max_page_size)

    def _size(params: Mapping[str, list[str]]) -> int:
        return bounded_int("page_size", single(params, "page_size"), page_size, 1, max_page_size)

    chosen = aview if asynchronous else view
    chosen.__name__ = operation.pop("operation_id", None) or f"search_{document.__name__}"
    router.get(
        path,
        response={200: _page_schema(document, item, cursor), 400: ErrorOut},
        openapi_extra={"parameters": parameters},
        operation_id=chosen.__name__,
        **operation,
    )(chosen)
    return chosen


def _numbered(page: Any) -> dict[str, Any]:
    """Return the body of a numbered page but its facets and results."""
    total, relation = page.paginator.total
    return {
        "count": total,
        "count_relation": relation,
        "page": page.number,
        "next": page.number + 1 if page.has_next() else None,
        "previous": page.number - 1 if page.has_previous() else None,
    }


def _refused(exc: ApiError) -> Any:
    """Answer a search the node refused although its parameters were checked (not expected)
    with a 400 that never shows the node's text; re-raise any other failure."""
    if exc.meta.status != 400:
        raise exc
    return error(InvalidParameter("query", UNRUNNABLE))


def autocomplete_endpoint(
    router: Any,
    path: str,
    document: Any,
    *,
    size: int = 8,
    max_size: int = 20,
    max_query_length: int = 100,
    schema: Any = None,
    to_result: Callable[[Any], Any] | None = None,
    asynchronous: bool = False,
    **operation: Any,
) -> Callable[..., Any]:
    """Add a GET endpoint at ``path`` suggesting hits for ``q``, the words typed so far, in
    the fields the Document marks (``Django.autocomplete``); ``size`` at most.
    ``asynchronous=True``: an ``async def`` view searching with ``asearch()``."""
    item = schema or document_schema(document)
    convert = to_result or hit_data
    parameters = [
        Parameter("q", "string", "The words typed so far.").openapi(),
        Parameter("size", "integer", f"Suggestions (1-{max_size}).").openapi(),
    ]

    def suggest(request: Any, search: Any) -> Any:
        return autocomplete_search(
            search,
            query_lists(request.GET),
            max_query_length=max_query_length,
            size=size,
            max_size=max_size,
        )

    def view(request: Any) -> Any:
        try:
            search = suggest(request, document.search())
        except InvalidParameter as exc:
            return error(exc)
        return answer(200, {"results": [convert(hit) for hit in search.execute().hits]})

    async def aview(request: Any) -> Any:
        try:
            search = suggest(request, document.asearch())
        except InvalidParameter as exc:
            return error(exc)
        response = await search.execute()
        return answer(200, {"results": [convert(hit) for hit in response.hits]})

    chosen = aview if asynchronous else view
    chosen.__name__ = operation.pop("operation_id", None) or f"autocomplete_{document.__name__}"
    results = create_model(
        f"{document.__name__}Suggestions",
        __base__=Schema,
        results=(list[item], ...),  # type: ignore[valid-type]
    )
    router.get(
        path,
        response={200: results, 400: ErrorOut},
        openapi_extra={"parameters": parameters},
        operation_id=chosen.__name__,
        **operation,
    )(chosen)
    return chosen
