"""What the API integrations share, without any web framework: the allow-list of query
parameters an endpoint reads, reading them into a Search, and the endpoint's cursors and page
numbers.

Every parameter is read against the allow-list and checked before a request is sent: a name
that is not on it, a value of the wrong type or out of range, a query too long, a page too
deep, a cursor altered or made for another search — each raises
:class:`~djangoes_dsl.params.InvalidParameter` naming the parameter. The integrations answer
it with a 400; no parameter reaches Elasticsearch unchecked, so the node's error text never
reaches a response.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core import signing
from django.core.exceptions import ImproperlyConfigured

from ..adapters import range_facet_keys
from ..faceted import FacetedSearch, RangeFacet
from ..pagination import (
    AsyncSearchAfterPaginator,
    InvalidCursor,
    SearchAfterPaginator,
    SearchPaginator,
    max_result_window,
)
from ..params import INTEGER_RANGES, InvalidParameter, field_type, parse_value

__all__ = [
    "InvalidParameter",
    "Parameter",
    "SearchParameters",
    "page_number",
    "page_size",
    "query_lists",
]

#: Range suffixes a number or date filter takes: ``price__gte=10``.
RANGE_SUFFIXES = ("gte", "gt", "lte", "lt")
RANGEABLE = (*INTEGER_RANGES, "half_float", "float", "scaled_float", "double", "date", "date_nanos")
API_CURSOR_SALT = "djangoes_dsl.contrib.api.cursor"
CURSOR_DESCRIPTION = "The cursor of the next page, from the previous page's answer."
#: No parameter value longer than this is read (a cursor is the longest legitimate one).
MAX_VALUE_LENGTH = 4096


@dataclass(frozen=True)
class Parameter:
    """One query parameter an endpoint reads, for OpenAPI schemas and docs."""

    name: str
    type: str  # an OpenAPI type: string, integer, number, boolean
    description: str
    many: bool = False
    format: str | None = None
    enum: tuple[str, ...] = ()

    def openapi(self) -> dict[str, Any]:
        """Return the parameter as an OpenAPI 3 ``parameters`` entry."""
        schema: dict[str, Any] = {"type": self.type}
        if self.format:
            schema["format"] = self.format
        if self.enum:
            schema["enum"] = list(self.enum)
        if self.many:
            schema = {"type": "array", "items": schema}
        entry: dict[str, Any] = {
            "name": self.name,
            "in": "query",
            "required": False,
            "description": self.description,
            "schema": schema,
        }
        if self.many:
            entry.update(style="form", explode=True)
        return entry


def query_lists(query: Any) -> dict[str, list[str]]:
    """Return ``{name: [values]}`` of a Django QueryDict (or a plain mapping)."""
    if hasattr(query, "getlist"):
        return {name: list(query.getlist(name)) for name in query}
    return {
        name: list(value) if isinstance(value, (list, tuple)) else [value]
        for name, value in query.items()
    }


def single(params: Mapping[str, list[str]], name: str) -> str | None:
    """Return the one value of parameter ``name`` (None when absent)."""
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise InvalidParameter(name, f"{name}: give it once, not {len(values)} times.")
    return values[0]


def bounded_int(name: str, raw: str | None, default: int, low: int, high: int) -> int:
    """Return ``raw`` as a whole number in ``low..high`` (``default`` when None)."""
    if raw is None:
        return default
    text = raw.strip()
    if not text.isdigit() or len(text) > 9:
        raise InvalidParameter(name, f"{name}: expected a whole number from {low} to {high}.")
    number = int(text)
    if not low <= number <= high:
        raise InvalidParameter(name, f"{name}: {number} is outside {low}..{high}.")
    return number


def page_size(params: Mapping[str, list[str]], name: str | None, default: int, most: int) -> int:
    """Return the page size the client asks for with parameter ``name`` (1..``most``)."""
    if name is None:
        return default
    return bounded_int(name, single(params, name), default, 1, most)


def page_number(params: Mapping[str, list[str]], name: str, size: int, search: Any) -> int:
    """Return the page number asked for, up to the last page within ``max_result_window``."""
    deepest = max(1, max_result_window(search) // size)
    return bounded_int(name, single(params, name), 1, 1, deepest)


@dataclass
class SearchParameters:
    """The query parameters a search endpoint reads, and how each shapes its Search.

    - ``query_fields``: the full-text query ``q`` (``query_param``) searches these fields
      (``multi_match``; ``"title^2"`` boosts); none: no query parameter.
    - ``filters``: ``{parameter: field}``; ``?category=a&category=b`` keeps hits with either
      value; a number or date field also takes ``<parameter>__gte``/``__gt``/``__lte``/``__lt``.
    - ``ordering``: the names ``ordering`` may give (``?ordering=-price,title``): a list of
      fields, or ``{name: field}``; the default order is relevance with a query, else
      ``default_ordering``.
    - ``facets``: a :class:`~djangoes_dsl.faceted.FacetedSearch` subclass; each facet is a
      parameter, its selected values filter the hits (``post_filter``), and the response
      carries every facet's counts.
    - ``highlight``: fields whose matches the hits carry as highlighted fragments.
    """

    document: Any
    query_fields: Sequence[str] = ()
    filters: Mapping[str, str] = field(default_factory=dict)
    ordering: Sequence[str] | Mapping[str, str] = ()
    default_ordering: Sequence[str] = ()
    facets: type[FacetedSearch] | None = None
    highlight: Sequence[str] = ()
    query_param: str = "q"
    ordering_param: str = "ordering"
    max_query_length: int = 500
    max_values: int = 20

    def __post_init__(self) -> None:
        for name, path in self.ordering_fields().items():
            if field_type(self.document, path) in ("text", "match_only_text", None):
                raise ImproperlyConfigured(
                    f"The ordering {name!r} sorts by {path!r}, which "
                    f"{getattr(self.document, '__name__', self.document)} does not map as a "
                    f"sortable field (text fields are not): sort by a keyword, number or "
                    f"date field, e.g. a keyword subfield '{path}.raw'."
                )
        names = [*self.filters, *(self.facets.facets if self.facets else ())]
        clashes = {n for n in names if names.count(n) > 1} | (
            {self.query_param, self.ordering_param} & set(names)
        )
        if clashes:
            raise ValueError(
                f"The parameters {sorted(clashes)} are named twice (filters, facets, "
                f"query_param, ordering_param): give each a distinct name."
            )

    # -- the allow-list ----------------------------------------------------------------------

    def ordering_fields(self) -> dict[str, str]:
        """Return ``{name: field}`` of the orders the ordering parameter may name."""
        if isinstance(self.ordering, Mapping):
            return dict(self.ordering)
        return {name: name for name in self.ordering}

    def range_filters(self) -> dict[str, tuple[str, str, str]]:
        """Return ``{parameter: (filter, field, suffix)}`` of the range parameters."""
        found = {}
        for name, path in self.filters.items():
            if field_type(self.document, path) in RANGEABLE:
                for suffix in RANGE_SUFFIXES:
                    found[f"{name}__{suffix}"] = (name, path, suffix)
        return found

    def parameters(self) -> list[Parameter]:
        """Return every parameter this search reads, for schemas."""
        found = []
        if self.query_fields:
            found.append(
                Parameter(
                    self.query_param,
                    "string",
                    f"Full-text query (at most {self.max_query_length} characters).",
                )
            )
        for name, path in self.filters.items():
            kind, fmt = _openapi_type(field_type(self.document, path))
            found.append(
                Parameter(name, kind, f"Keep hits whose {path} is one of these.", True, fmt)
            )
        for name, (_, path, suffix) in self.range_filters().items():
            kind, fmt = _openapi_type(field_type(self.document, path))
            found.append(
                Parameter(name, kind, f"Keep hits whose {path} is {suffix} this.", False, fmt)
            )
        for name, facet in (self.facets.facets if self.facets else {}).items():
            keys = tuple(map(str, range_facet_keys(facet))) if isinstance(facet, RangeFacet) else ()
            text = f"Select values of the facet {name}."
            found.append(Parameter(name, "string", text, True, enum=keys))
        if self.ordering:
            orders = [o for name in self.ordering_fields() for o in (name, f"-{name}")]
            found.append(
                Parameter(
                    self.ordering_param,
                    "string",
                    f"Order by these, comma-separated; '-' for descending: {', '.join(orders)}.",
                )
            )
        return found

    def names(self) -> set[str]:
        """Return the names of the parameters this search reads."""
        return {p.name for p in self.parameters()}

    # -- reading a request -------------------------------------------------------------------

    def check_names(self, params: Mapping[str, list[str]], others: Iterable[str] = ()) -> None:
        """Refuse a parameter that is neither this search's nor in ``others`` (pagination,
        ``format``), and values too many or too long."""
        allowed = self.names() | set(others)
        for name, values in params.items():
            if name not in allowed:
                raise InvalidParameter(
                    _printable(name),
                    f"{_printable(name)}: not a parameter of this endpoint; it takes "
                    f"{', '.join(sorted(allowed))}.",
                )
            if len(values) > self.max_values:
                raise InvalidParameter(
                    name, f"{name}: given {len(values)} times; at most {self.max_values}."
                )
            for value in values:
                if len(value) > MAX_VALUE_LENGTH:
                    raise InvalidParameter(
                        name, f"{name}: longer than {MAX_VALUE_LENGTH} characters."
                    )
                if "\x00" in value:
                    raise InvalidParameter(name, f"{name}: contains a NUL character.")

    def search(
        self,
        params: Mapping[str, list[str]],
        others: Iterable[str] = (),
        base: Any = None,
        asynchronous: bool = False,
    ) -> Any:
        """Return the Search the parameters ask for (nothing sent yet).

        ``others``: the parameters the endpoint reads besides this search's (its pagination's,
        ``format``); ``base``: the search to narrow (default: the Document's; with facets, the
        FacetedSearch's); ``asynchronous``: an async search (``asearch()``; ``base`` one too).
        """
        self.check_names(params, others)
        if self.facets is not None:
            selected = {name: params[name] for name in self.facets.facets if name in params}
            faceted = self.facets.as_async() if asynchronous else self.facets
            search = faceted(filters=selected).to_search()
            if base is not None:
                search = search.query(base.to_dict().get("query", {"match_all": {}}))
        elif base is not None:
            search = base
        else:
            search = self.document.asearch() if asynchronous else self.document.search()
        text = single(params, self.query_param) if self.query_fields else None
        if text is not None:
            if len(text) > self.max_query_length:
                raise InvalidParameter(
                    self.query_param,
                    f"{self.query_param}: {len(text)} characters; at most {self.max_query_length}.",
                )
            if text.strip():
                search = search.query(
                    "multi_match", query=text, fields=list(self.query_fields), lenient=True
                )
                if self.highlight:
                    # Fragments are HTML-escaped but for the <em> tags: safe to render.
                    search = search.highlight_options(encoder="html").highlight(*self.highlight)
        for name, path in self.filters.items():
            if name in params:
                values = list(
                    dict.fromkeys(parse_value(self.document, path, v, name) for v in params[name])
                )
                search = search.filter("terms", **{path: [_json(v) for v in values]})
        limits: dict[str, dict[str, Any]] = {}
        for name, (_, path, suffix) in self.range_filters().items():
            raw = single(params, name)
            if raw is not None:
                limits.setdefault(path, {})[suffix] = _json(
                    parse_value(self.document, path, raw, name)
                )
        for path, limit in limits.items():
            search = search.filter("range", **{path: limit})
        order = self.order(params)
        if order:
            search = search.sort(*order)
        elif text is not None and text.strip():
            search = search.sort("_score")
        elif self.default_ordering:
            search = search.sort(*self.default_ordering)
        return search

    def order(self, params: Mapping[str, list[str]]) -> list[str]:
        """Return the sort the ordering parameter asks for (empty when absent)."""
        raw = single(params, self.ordering_param) if self.ordering else None
        if raw is None:
            return []
        allowed = self.ordering_fields()
        found: list[str] = []
        seen = set()
        for item in raw.split(","):
            name = item.strip()
            descending = name.startswith("-")
            name = name.removeprefix("-")
            if name not in allowed:
                raise InvalidParameter(
                    self.ordering_param,
                    f"{self.ordering_param}: {_printable(name)!r} is not one of "
                    f"{', '.join(allowed)} (each may start with '-').",
                )
            if name in seen:
                raise InvalidParameter(
                    self.ordering_param, f"{self.ordering_param}: {name!r} given twice."
                )
            seen.add(name)
            found.append(("-" if descending else "") + allowed[name])
        return found


def page_asked(
    search: Any,
    params: Mapping[str, list[str]],
    name: str,
    size_name: str | None,
    default_size: int,
    max_size: int,
) -> tuple[int, int]:
    """Return the page size and the page number (parameter ``name``) asked for."""
    size = page_size(params, size_name, default_size, max_size)
    return size, page_number(params, name, size, search)


def number_page(search: Any, params: Mapping[str, list[str]], name: str, *sizes: Any) -> Any:
    """Return the Django ``Page`` (of a ``SearchPaginator``, one request) that parameter
    ``name`` asks for (``sizes``: the size parameter's name, its default, its maximum, as
    :func:`page_asked` takes them); a page past the last is an InvalidParameter naming
    ``name``."""
    size, number = page_asked(search, params, name, *sizes)
    return checked_page(SearchPaginator(search, size).get_page(number), number, name)


def checked_page(page: Any, number: int, name: str) -> Any:
    """Return ``page``, the page ``get_page(number)`` found; a page past the last is an
    InvalidParameter naming ``name``."""
    if page.number != number and number > 1:
        raise InvalidParameter(name, f"{name}: the last page is {page.paginator.num_pages}.")
    return page


def autocomplete_search(
    search: Any,
    params: Mapping[str, list[str]],
    *,
    query_param: str = "q",
    max_query_length: int = 100,
    size: int = 8,
    max_size: int = 20,
    others: Iterable[str] = (),
) -> Any:
    """Return ``search`` narrowed to what ``query_param`` (the words typed so far) completes,
    ``size`` hits at most (the ``size`` parameter up to ``max_size``)."""
    allowed = {query_param, "size", *others}
    for given in params:
        if given not in allowed:
            raise InvalidParameter(
                _printable(given),
                f"{_printable(given)}: not a parameter of this endpoint; "
                f"it takes {', '.join(sorted(allowed))}.",
            )
    text = single(params, query_param) or ""
    if len(text) > max_query_length:
        raise InvalidParameter(
            query_param, f"{query_param}: {len(text)} characters; at most {max_query_length}."
        )
    if "\x00" in text:
        raise InvalidParameter(query_param, f"{query_param}: contains a NUL character.")
    count = bounded_int("size", single(params, "size"), size, 1, max_size)
    return search.autocomplete(text)[:count]


# -- cursors -----------------------------------------------------------------------------------


def fingerprint(search: Any) -> str:
    """Return a digest of what a search asks (query, filters, sort, aggregations)."""
    body = json.dumps(search.to_dict(), sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:32]


def cursor_page(
    search: Any, cursor: str | None, size: int, keep_alive: str, name: str = "cursor"
) -> Any:
    """Return the page of ``search`` after ``cursor`` (None: the first), its ``next_cursor``
    signed and tied to this very search: a cursor of another search (other filters, order or
    page size) or an altered one raises InvalidParameter naming ``name``."""
    digest, inner = _read_cursor(search, cursor, size, name)
    try:
        page = SearchAfterPaginator(search, per_page=size, keep_alive=keep_alive).page(inner)
    except InvalidCursor as exc:
        raise InvalidParameter(name, f"{name}: {exc}") from None
    return _sign_next(page, digest)


async def acursor_page(
    search: Any, cursor: str | None, size: int, keep_alive: str, name: str = "cursor"
) -> Any:
    """Return what :func:`cursor_page` returns, for an async search."""
    digest, inner = _read_cursor(search, cursor, size, name)
    paginator = AsyncSearchAfterPaginator(search, per_page=size, keep_alive=keep_alive)
    try:
        page = await paginator.apage(inner)
    except InvalidCursor as exc:
        raise InvalidParameter(name, f"{name}: {exc}") from None
    return _sign_next(page, digest)


def _read_cursor(search: Any, cursor: str | None, size: int, name: str) -> tuple[str, Any]:
    """Return the fingerprint of ``search``'s pages and the paginator's cursor inside
    ``cursor`` (None: the first page)."""
    digest = fingerprint(search[:size])
    inner = None
    if cursor is not None:
        try:
            state = signing.loads(cursor, salt=API_CURSOR_SALT)
            inner, made_for = str(state["c"]), str(state["f"])
        except (signing.BadSignature, KeyError, TypeError, ValueError):
            raise InvalidParameter(
                name, f"{name}: not a cursor of this endpoint, or altered; start again."
            ) from None
        if made_for != digest:
            raise InvalidParameter(
                name,
                f"{name}: this cursor was made for another search (other parameters or "
                f"page size); start again from the first page.",
            )
    return digest, inner


def _sign_next(page: Any, digest: str) -> Any:
    if page.next_cursor is not None:
        page.next_cursor = signing.dumps({"c": page.next_cursor, "f": digest}, salt=API_CURSOR_SALT)
    return page


def _openapi_type(kind: str | None) -> tuple[str, str | None]:
    if kind in INTEGER_RANGES:
        return "integer", None
    if kind in ("half_float", "float", "scaled_float", "double"):
        return "number", None
    if kind == "boolean":
        return "boolean", None
    if kind in ("date", "date_nanos"):
        return "string", "date-time"
    return "string", None


def _json(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _printable(name: str, limit: int = 40) -> str:
    shown = "".join(c if c.isprintable() else "?" for c in name[:limit])
    return shown + ("…" if len(name) > limit else "")
