"""The search page, its CSV export, and a page per book."""

import csv

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from elasticsearch import ApiError, TransportError

from .models import Book
from .search import SORTS, BookSearch, active_filters


def search(request: HttpRequest) -> HttpResponse:
    query = BookSearch.from_params(request.GET)
    context = {
        "query": query,
        "sorts": [(name, label) for name, (label, _) in SORTS.items()],
        "active_filters": active_filters(query, request.GET),
        "results": None,
        "error": None,
        "export_url": _export_url(request),
    }
    try:
        context["results"] = query.run(request.GET)
    except (ApiError, TransportError) as exc:
        # Show the page (with the reason) rather than a server error when the node is away.
        context["error"] = f"{type(exc).__name__}: {exc}"
        return render(request, "catalog/search.html", context, status=503)
    return render(request, "catalog/search.html", context)


def _export_url(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return (
        f"{reverse('catalog:export')}?{params.urlencode()}" if params else reverse("catalog:export")
    )


class _Echo:
    """A file-like object that hands back what the csv writer writes."""

    def write(self, value: str) -> str:
        return value


def export(request: HttpRequest) -> StreamingHttpResponse:
    """Stream every book the search finds as CSV, however many (search_after pages)."""
    query = BookSearch.from_params(request.GET)
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in query.export_rows()), content_type="text/csv"
    )
    response["Content-Disposition"] = 'attachment; filename="books.csv"'
    return response


def book_detail(request: HttpRequest, pk: int) -> HttpResponse:
    book = get_object_or_404(Book.objects.select_related("author").prefetch_related("tags"), pk=pk)
    return render(request, "catalog/book_detail.html", {"book": book})
