"""The search page, its CSV export, and a page per book.

Visitors never see what Elasticsearch said: a failed search is logged (with the reason) and
the page says only that searching failed. Every query parameter is untrusted: what cannot be
used is dropped, and the page's links carry only what was kept.
"""

import csv
import itertools
import logging
from typing import Any

from django.core.exceptions import TooManyFieldsSent
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from elasticsearch import ApiError, TransportError

from .embedding import AVAILABLE as VECTORS
from .models import Book
from .search import MODES, SORTS, BookSearch, active_filters
from .search_indices import BookDocument

logger = logging.getLogger("catalog")

# The largest primary key a database holds (a 64-bit signed integer).
MAX_PK = 2**63 - 1


def search(request: HttpRequest) -> HttpResponse:
    try:
        given = request.GET
    except TooManyFieldsSent:
        # Refused with a 400 by the view, with the search page around the message.
        context = _context(BookSearch(), QueryDict())
        context["error"] = "bad_request"
        return render(request, "catalog/search.html", context, status=400)
    query = BookSearch.from_params(given)
    params = query.params()  # what was kept of the query string: the page's links use it
    context = _context(query, params)
    try:
        context["results"] = query.run(params)
    except (ApiError, TransportError) as exc:
        logger.error("The search for %r failed: %s", request.GET.urlencode()[:500], exc)
        if isinstance(exc, ApiError) and exc.meta.status == 400:
            context["error"] = "bad_request"  # the node refused this search: the request's fault
            return render(request, "catalog/search.html", context, status=400)
        context["error"] = "unavailable"  # the node is away or failing
        return render(request, "catalog/search.html", context, status=503)
    return render(request, "catalog/search.html", context)


def _context(query: BookSearch, params: QueryDict) -> dict[str, Any]:
    return {
        "query": query,
        "sorts": [(name, label) for name, (label, _) in SORTS.items()],
        "modes": list(MODES.items()) if VECTORS and query.q else [],
        "active_filters": active_filters(query, params),
        "results": None,
        "error": None,
        "export_url": _export_url(params),
    }


def _export_url(params: QueryDict) -> str:
    params = params.copy()
    params.pop("page", None)
    return (
        f"{reverse('catalog:export')}?{params.urlencode()}" if params else reverse("catalog:export")
    )


class _Echo:
    """A file-like object that hands back what the csv writer writes."""

    def write(self, value: str) -> str:
        return value


def export(request: HttpRequest) -> HttpResponse:
    """Stream every book the search finds as CSV, however many (search_after pages)."""
    try:
        given = request.GET
    except TooManyFieldsSent:
        return HttpResponse("Too many query parameters.", status=400, content_type="text/plain")
    query = BookSearch.from_params(given)
    rows = query.export_rows()
    try:
        # The header and the first row (the first search) come before the answer starts,
        # so that a failure is still a status, not a broken download.
        head = list(itertools.islice(rows, 2))
    except (ApiError, TransportError) as exc:
        logger.error("The export for %r failed: %s", request.GET.urlencode()[:500], exc)
        status = 400 if isinstance(exc, ApiError) and exc.meta.status == 400 else 503
        return HttpResponse("The export failed.", status=status, content_type="text/plain")
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in itertools.chain(head, rows)), content_type="text/csv"
    )
    response["Content-Disposition"] = 'attachment; filename="books.csv"'
    return response


def book_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if pk > MAX_PK:  # no such row; some databases raise on an integer this large
        raise Http404("No book has that number.")
    book = get_object_or_404(Book.objects.select_related("author").prefetch_related("tags"), pk=pk)
    return render(request, "catalog/book_detail.html", {"book": book, "similar": _similar(book)})


def _similar(book: Book) -> list[Book]:
    """The books nearest to ``book`` by meaning (none without the optional model)."""
    if not VECTORS:
        return []
    try:
        return (
            BookDocument.search()
            .similar_to(book, k=5)
            .instances(Book.objects.select_related("author"))
        )
    except (ApiError, TransportError) as exc:
        logger.error("Similar books of %s failed: %s", book.pk, exc)
        return []


async def search_api(request: HttpRequest) -> HttpResponse:
    """The books matching ``q``, best first, as JSON: an async view (served under ASGI).

    The search goes out on the event loop's own client (``BookDocument.asearch()``); the
    books are read with Django's async ORM (``ato_queryset()`` and ``async for``), in hit
    order.
    """
    text = request.GET.get("q", "").strip()[:200]
    if not text:
        return JsonResponse({"results": []})
    search = BookDocument.asearch().query(
        "multi_match", query=text, fields=["title^3", "author^2", "summary"]
    )[:10]
    try:
        queryset = await search.ato_queryset()  # the hits' rows, in hit order
        books = [book async for book in queryset.select_related("author")]
    except (ApiError, TransportError) as exc:
        logger.error("The search for %r failed: %s", text, exc)
        return JsonResponse({"error": "Searching failed."}, status=503)
    return JsonResponse(
        {
            "results": [
                {
                    "id": book.pk,
                    "title": book.title,
                    "author": book.author.name,
                    "url": reverse("catalog:book", args=[book.pk]),
                }
                for book in books
            ]
        }
    )
