"""The search page and a page per book."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
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
    }
    try:
        context["results"] = query.run(request.GET)
    except (ApiError, TransportError) as exc:
        # Show the page (with the reason) rather than a server error when the node is away.
        context["error"] = f"{type(exc).__name__}: {exc}"
        return render(request, "catalog/search.html", context, status=503)
    return render(request, "catalog/search.html", context)


def book_detail(request: HttpRequest, pk: int) -> HttpResponse:
    book = get_object_or_404(Book.objects.select_related("author").prefetch_related("tags"), pk=pk)
    return render(request, "catalog/book_detail.html", {"book": book})
