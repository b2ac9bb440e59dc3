"""The catalogue's JSON API, in both flavours: Django REST framework (sync views, served under
WSGI) and Django Ninja (async views on the async API, served under ASGI by uvicorn).

The same search as the HTML page (query, facets, ordering), with cursor pagination and
autocomplete; every query parameter is checked against the allow-list declared here.
"""

from __future__ import annotations

from djangoes_dsl.contrib import ninja as es_ninja
from djangoes_dsl.contrib import rest_framework as es_drf
from djangoes_dsl.faceted import FacetedSearch, TermsFacet
from ninja import NinjaAPI, Router
from rest_framework import serializers

from .models import Book
from .search_indices import BookDocument


class BookFacets(FacetedSearch):
    document = BookDocument
    facets = {
        "author": TermsFacet(field="author.raw", size=12),
        "tag": TermsFacet(field="tags", size=16),
        "year": TermsFacet(field="year", size=12),
    }


SEARCH = {
    "search_fields": ["title^3", "author^2", "summary"],
    "filters": {"in_stock": "in_stock", "price": "price", "pages": "pages"},
    "ordering": {"year": "year", "price": "price", "title": "title.raw"},
    "facets": BookFacets,
    "highlight": ["title", "summary"],
}


# -- Django REST framework -----------------------------------------------------------------


class BookSearchView(es_drf.DocumentSearchView):
    document = BookDocument
    search_fields = SEARCH["search_fields"]
    filter_fields = SEARCH["filters"]
    ordering_fields = SEARCH["ordering"]
    facets = BookFacets
    highlight_fields = SEARCH["highlight"]


class SuggestionSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.name")
    url = serializers.CharField(source="get_absolute_url")

    class Meta:
        model = Book
        fields = ["id", "title", "author", "year", "url"]


class BookAutocompleteView(es_drf.DocumentAutocompleteView):
    document = BookDocument
    results = "instances"
    serializer_class = SuggestionSerializer

    def get_instances_queryset(self):
        return Book.objects.select_related("author")


# -- Django Ninja ----------------------------------------------------------------------------

router = Router()
# async def views: asearch(), BookFacets.as_async(), the async cursor paginator.
es_ninja.search_endpoint(router, "/books", BookDocument, **SEARCH, asynchronous=True)
es_ninja.autocomplete_endpoint(router, "/books/autocomplete", BookDocument, asynchronous=True)
ninja_api = NinjaAPI(title="Bookshelf", urls_namespace="bookshelf-api")
ninja_api.add_router("/", router)
