"""URLs of the API integration tests: the same search over ProductDocument with Django REST
framework and with Django Ninja."""

from __future__ import annotations

from django.urls import path
from ninja import ModelSchema, NinjaAPI, Router
from rest_framework import serializers

from djangoes_dsl.contrib import ninja as es_ninja
from djangoes_dsl.contrib import rest_framework as es_drf
from djangoes_dsl.faceted import FacetedSearch, RangeFacet, TermsFacet
from tests.apps.shop.models import Product
from tests.apps.shop.search_indices import ProductDocument


class ProductFacets(FacetedSearch):
    document = ProductDocument
    facets = {
        "category": TermsFacet(field="category"),
        "band": RangeFacet(field="price", ranges=[("cheap", (None, 10)), ("dear", (10, None))]),
    }


class ProductSearchView(es_drf.DocumentSearchView):
    document = ProductDocument
    search_fields = ["title", "sku"]
    filter_fields = {"in_stock": "in_stock", "price": "price", "created": "created"}
    ordering_fields = {"price": "price", "title": "title.raw"}
    facets = ProductFacets
    highlight_fields = ["title"]


class ProductPagesView(ProductSearchView):
    pagination_class = es_drf.SearchPageNumberPagination


class ProductSerializer(es_drf.SearchResultSerializer, serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["sku", "title", "price", "search_score", "highlight"]


class ProductRowsView(ProductSearchView):
    results = "instances"
    serializer_class = ProductSerializer


class InStockSearchView(ProductSearchView):
    """A narrowed search (as for permissions): the facets count only what it shows."""

    def get_queryset(self):
        return super().get_queryset().filter("term", in_stock=True)


class ProductAutocompleteView(es_drf.DocumentAutocompleteView):
    document = ProductDocument


class ProductOut(ModelSchema):
    search_score: float | None = None
    search_highlight: dict[str, list[str]] = {}

    class Meta:
        model = Product
        fields = ["sku", "title", "price"]


def ninja_api(namespace: str, asynchronous: bool) -> NinjaAPI:
    """Return the Ninja API of the tests: sync views, or async views on the async API."""
    router = Router()
    es_ninja.search_endpoint(
        router,
        "/products",
        ProductDocument,
        search_fields=["title", "sku"],
        filters={"in_stock": "in_stock", "price": "price", "created": "created"},
        ordering={"price": "price", "title": "title.raw"},
        facets=ProductFacets,
        highlight=["title"],
        asynchronous=asynchronous,
    )
    es_ninja.search_endpoint(
        router,
        "/products/pages",
        ProductDocument,
        search_fields=["title", "sku"],
        ordering={"price": "price", "title": "title.raw"},
        pagination="page",
        operation_id="product_pages",
        asynchronous=asynchronous,
    )
    es_ninja.search_endpoint(
        router,
        "/products/rows",
        ProductDocument,
        search_fields=["title"],
        ordering={"title": "title.raw"},
        highlight=["title"],
        results="instances",
        schema=ProductOut,
        operation_id="product_rows",
        asynchronous=asynchronous,
    )
    es_ninja.autocomplete_endpoint(
        router, "/products/autocomplete", ProductDocument, asynchronous=asynchronous
    )
    api = NinjaAPI(urls_namespace=namespace)
    api.add_router("/", router)
    return api


api = ninja_api("shop-api", asynchronous=False)
async_api = ninja_api("shop-async-api", asynchronous=True)

urlpatterns = [
    path("ninja/", api.urls),
    path("ninja-async/", async_api.urls),
    path("drf/products/", ProductSearchView.as_view()),
    path("drf/products/pages/", ProductPagesView.as_view()),
    path("drf/products/rows/", ProductRowsView.as_view()),
    path("drf/products/autocomplete/", ProductAutocompleteView.as_view()),
    path("drf/products/in-stock/", InStockSearchView.as_view()),
]
