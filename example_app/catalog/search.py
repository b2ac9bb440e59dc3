"""The catalogue's search: a query, facet filters, sorting and paging, turned into one request.

Everything the search page shows comes from a single Elasticsearch request: the hits (made
into Book instances), their highlights, the total and the facet counts (terms aggregations).
``SearchPaginator`` pages it the Django way, the count coming with the page; ``export_rows``
goes through every hit, however many, with ``SearchAfterPaginator``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import Page as DjangoPage
from django.http import QueryDict
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from djangoes_dsl.pagination import SearchAfterPaginator, SearchPaginator
from elasticsearch.dsl import Q

from .embedding import AVAILABLE as VECTORS
from .models import Book
from .search_indices import BookDocument

PAGE_SIZE = 20
# Hits per request of an export (any number of pages, on a point in time).
EXPORT_PAGE_SIZE = 500
EXPORT_COLUMNS = ["isbn", "title", "author", "year", "price", "pages", "in_stock", "tags"]

# Every query parameter is untrusted: what cannot be a real value is ignored, so that no
# request reaches Elasticsearch with a value it would refuse (or that would cost it much).
MAX_QUERY_LENGTH = 200
MAX_VALUE_LENGTH = 200  # a tag or author name longer than this matches no book
MAX_VALUES = 20  # values per facet
YEAR_DIGITS = 4  # years 0-9999: an integer field takes them all
PAGE_DIGITS = 6


@dataclass(frozen=True)
class FacetSpec:
    param: str  # the URL parameter
    label: str
    field: str  # the document field aggregated and filtered on
    size: int
    numeric: bool = False


FACETS = [
    FacetSpec("author", "Author", "author.raw", size=12),
    FacetSpec("tag", "Tag", "tags", size=16),
    FacetSpec("year", "Year", "year", size=12, numeric=True),
]

# name → (label, sort clauses); "relevance" is the default with a query, "newest" without.
SORTS = {
    "relevance": ("Best match", ["_score", "-year"]),
    "newest": ("Newest first", ["-year", "title.raw"]),
    "oldest": ("Oldest first", ["year", "title.raw"]),
    "title": ("Title A-Z", ["title.raw", "-year"]),
    "price": ("Lowest price", ["price", "title.raw"]),
}

# How a query matches: its words (the default), or also their meaning (with the optional
# embedding model): "meaning" ranks by kNN, "both" fuses the two rankings (hybrid, RRF).
MODES = {"words": "Words", "meaning": "Meaning", "both": "Words and meaning"}
# The books a kNN ranking brings (its pages stop there).
NEAREST = 100

HIGHLIGHT = {
    "pre_tags": ["<mark>"],
    "post_tags": ["</mark>"],
    # Escape the stored text, so the only markup in a highlight is our <mark>.
    "encoder": "html",
}


@dataclass
class Bucket:
    value: str
    count: int
    selected: bool
    url: str


@dataclass
class Facet:
    param: str
    label: str
    buckets: list[Bucket]


@dataclass
class Result:
    book: Book
    title: SafeString
    author: SafeString
    snippet: SafeString
    score: float | None


@dataclass
class Page:
    number: int
    num_pages: int
    params: QueryDict

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    def url(self, number: int) -> str:
        params = self.params.copy()
        params["page"] = str(number)
        return f"?{params.urlencode()}"

    @property
    def previous_url(self) -> str:
        return self.url(self.number - 1)

    @property
    def next_url(self) -> str:
        return self.url(self.number + 1)

    @property
    def links(self) -> list[tuple[int | None, str]]:
        """Return (number, url) for the first, last and nearby pages; None marks a gap."""
        shown = {1, self.num_pages} | set(range(self.number - 2, self.number + 3))
        links: list[tuple[int | None, str]] = []
        previous = 0
        for number in sorted(n for n in shown if 1 <= n <= self.num_pages):
            if number - previous > 1:
                links.append((None, ""))
            links.append((number, self.url(number)))
            previous = number
        return links


@dataclass
class Results:
    total: int
    results: list[Result]
    facets: list[Facet]
    page: Page
    took_ms: int
    paginator_page: DjangoPage  # Django's Page: start_index(), end_index(), ...
    more: bool = False  # more hits than can be paged through

    @property
    def first(self) -> int:
        return self.paginator_page.start_index() if self.results else 0

    @property
    def last(self) -> int:
        return self.first + len(self.results) - 1 if self.results else 0


@dataclass
class BookSearch:
    """What the user asked for, read from the query string."""

    q: str = ""
    filters: dict[str, list[str]] = field(default_factory=dict)
    sort: str = ""
    page: int = 1
    mode: str = ""

    @classmethod
    def from_params(cls, params: QueryDict) -> BookSearch:
        """Read the query string; values that cannot be valid are ignored, never an error."""
        filters = {}
        for spec in FACETS:
            values = []
            for raw in params.getlist(spec.param):
                value = _number(raw, YEAR_DIGITS) if spec.numeric else _text(raw)
                if value is not None:
                    values.append(str(value))
            if values:
                filters[spec.param] = list(dict.fromkeys(values))[:MAX_VALUES]
        sort = params.get("sort", "")
        mode = params.get("mode", "")
        return cls(
            mode=mode if VECTORS and mode in MODES and mode != "words" else "",
            q=_text(params.get("q", ""), MAX_QUERY_LENGTH, cut=True) or "",
            filters=filters,
            sort=sort if sort in SORTS else "",
            page=max(1, _number(params.get("page", ""), PAGE_DIGITS) or 1),
        )

    def params(self) -> QueryDict:
        """Return the query string of this search: only the values that were kept.

        Links on the page are built from it, so an ignored value is not carried along.
        """
        params = QueryDict(mutable=True)
        if self.q:
            params["q"] = self.q
        for spec in FACETS:
            if spec.param in self.filters:
                params.setlist(spec.param, self.filters[spec.param])
        if self.sort:
            params["sort"] = self.sort
        if self.mode:
            params["mode"] = self.mode
        if self.page > 1:
            params["page"] = str(self.page)
        return params

    @property
    def effective_sort(self) -> str:
        return self.sort or ("relevance" if self.q else "newest")

    # -- the request -------------------------------------------------------------------------

    def query(self) -> Q:
        if not self.q:
            return Q("match_all")
        text = Q(
            "multi_match",
            query=self.q,
            fields=["title^3", "author^2", "summary"],
            type="cross_fields",
            operator="and",
        )
        # A phrase in the title ranks first; an ISBN (with or without dashes) finds its book.
        should = [text, Q("match_phrase", title={"query": self.q, "boost": 5})]
        isbn = re.sub(r"[\s-]", "", self.q)
        if isbn.isdigit() and len(isbn) in (10, 13):
            should.append(Q("term", isbn=isbn))
        return Q("bool", should=should, minimum_should_match=1)

    @property
    def by_meaning(self) -> bool:
        """Whether the query is ranked by meaning (kNN, alone or fused with its words)."""
        return bool(self.q and self.mode)

    def build(self, *, facets: bool = True, highlight: bool = True):
        """Return the Search for this request: query, filters, sort (and facets, highlights)."""
        if self.by_meaning:
            return self._by_meaning(facets=facets)
        search = self._filtered().query(self.query())
        if facets:
            _add_facets(search)
        if self.q and highlight:
            search = search.highlight_options(**HIGHLIGHT)
            search = search.highlight("title", number_of_fragments=0)
            search = search.highlight("author", number_of_fragments=0)
            search = search.highlight(
                "summary", fragment_size=180, number_of_fragments=2, no_match_size=220
            )
        return search.sort(*SORTS[self.effective_sort][1])

    def _filtered(self):
        search = BookDocument.search(using="default")
        for spec in FACETS:
            values = self.filters.get(spec.param)
            if values:
                search = search.filter(
                    "terms", **{spec.field: [int(v) for v in values] if spec.numeric else values}
                )
        return search

    def _by_meaning(self, *, facets: bool):
        """The kNN search (filters inside it, facets over its hits), or the hybrid one (two
        rankings fused in the client: no facets)."""
        search = self._filtered()
        if self.mode == "both":
            return search.hybrid(
                self.q, fields=["title", "author", "summary"], rank_window_size=NEAREST
            )
        search = search.similar_to(self.q, k=NEAREST)
        if facets:
            _add_facets(search)
        return search

    def run(self, params: QueryDict) -> Results:
        """Execute the search; ``params`` (the request's query string) builds the links."""
        paginator = SearchPaginator(self.build(), PAGE_SIZE)
        # A page past the end (a stale link) shows the last page instead of an empty one.
        page = paginator.get_page(self.page)
        response = page.object_list.execute()
        total, relation = paginator.total
        return Results(
            total=total,
            results=self._results(response),
            facets=self._facets(response, params),
            page=Page(page.number, paginator.num_pages, _without(params, "page")),
            took_ms=response.took,
            paginator_page=page,
            more=relation != "eq",
        )

    def _results(self, response: Any) -> list[Result]:
        # The hits become model instances, in hit order, with their scores and highlights; a
        # row deleted since it was indexed is simply missing.
        books = response.instances(Book.objects.select_related("author").prefetch_related("tags"))
        return [
            Result(
                book=book,
                title=_marked(book.search_highlight, "title", book.title),
                author=_marked(book.search_highlight, "author", book.author.name),
                snippet=_snippet(book.search_highlight, book.summary),
                score=book.search_score,
            )
            for book in books
        ]

    def export_rows(self) -> Iterator[list[Any]]:
        """Yield the CSV header, then a row per matching book, every one, in the page's order."""
        yield EXPORT_COLUMNS
        # By meaning, the export holds the books of the search by words (every match).
        words = BookSearch(q=self.q, filters=self.filters, sort=self.sort)
        search = words.build(facets=False, highlight=False).source(False)
        rows = Book.objects.select_related("author").prefetch_related("tags")
        for page in SearchAfterPaginator(search, per_page=EXPORT_PAGE_SIZE).pages():
            for book in page.instances(rows):
                yield [
                    book.isbn,
                    book.title,
                    book.author.name,
                    book.year,
                    book.price,
                    book.pages,
                    "yes" if book.in_stock else "no",
                    "; ".join(tag.name for tag in book.tags.all()),
                ]

    def _facets(self, response: Any, params: QueryDict) -> list[Facet]:
        base = _without(params, "page")
        facets = []
        for spec in FACETS:
            selected = self.filters.get(spec.param, [])
            buckets = []
            seen = set()
            found = getattr(response.aggregations, spec.param, None)  # none when fused
            for bucket in found.buckets if found is not None else ():
                value = str(bucket.key)
                seen.add(value)
                buckets.append(
                    Bucket(value, bucket.doc_count, value in selected, _toggle(base, spec, value))
                )
            # A selected value always stays visible, so it can be unselected.
            for value in selected:
                if value not in seen:
                    buckets.append(Bucket(value, 0, True, _toggle(base, spec, value)))
            if spec.numeric:
                buckets.sort(key=lambda b: int(b.value), reverse=True)
            facets.append(Facet(spec.param, spec.label, buckets))
        return facets


def _add_facets(search: Any) -> None:
    """Add the facets' terms aggregations to ``search`` (in place)."""
    for spec in FACETS:
        search.aggs.bucket(spec.param, "terms", field=spec.field, size=spec.size)


def _number(raw: str, digits: int) -> int | None:
    """Return ``raw`` as a number of at most ``digits`` ASCII digits; None if it is not one.

    ``str.isdigit()`` alone would let through '²' (which int() refuses) and numbers too long
    for int() or for an integer field.
    """
    value = raw.strip()
    if 0 < len(value) <= digits and value.isascii() and value.isdigit():
        return int(value)
    return None


def _text(raw: str, limit: int = MAX_VALUE_LENGTH, cut: bool = False) -> str | None:
    """Return ``raw`` without surrounding space and control characters; None if empty.

    Longer than ``limit``: cut to it with ``cut``, else None (no real value is that long).
    """
    value = "".join(c for c in raw if c.isprintable() or c == " ").strip()
    if len(value) > limit:
        if not cut:
            return None
        value = value[:limit].strip()
    return value or None


def _without(params: QueryDict, *names: str) -> QueryDict:
    params = params.copy()
    for name in names:
        params.pop(name, None)
    return params


def _toggle(params: QueryDict, spec: FacetSpec, value: str) -> str:
    params = params.copy()
    values = params.getlist(spec.param)
    if value in values:
        values.remove(value)
    else:
        values.append(value)
    params.setlist(spec.param, values)
    return f"?{params.urlencode()}"


def _marked(highlight: dict[str, list[str]], name: str, plain: str) -> SafeString:
    fragments = highlight.get(name)
    # Highlights are HTML-escaped by Elasticsearch (encoder "html") apart from <mark>.
    return mark_safe(fragments[0]) if fragments else escape(plain)


def _snippet(highlight: dict[str, list[str]], summary: str) -> SafeString:
    fragments = highlight.get("summary")
    if fragments:
        text = " … ".join(fragments)
        if not text.rstrip().endswith((".", "!", "?")):
            text += " …"  # a fragment cut mid-sentence
        return mark_safe(text)
    return escape(Truncator(summary).chars(220))


def active_filters(search: BookSearch, params: QueryDict) -> list[tuple[str, str, str]]:
    """Return (label, value, url without it) for each selected facet value."""
    base = _without(params, "page")
    chips = []
    for spec in FACETS:
        for value in search.filters.get(spec.param, []):
            chips.append((spec.label, value, _toggle(base, spec, value)))
    return chips
