from django.contrib import admin
from django.urls import include, path

from catalog.api import BookAutocompleteView, BookSearchView, ninja_api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/drf/books/", BookSearchView.as_view(), name="api-books"),
    path("api/drf/books/autocomplete/", BookAutocompleteView.as_view(), name="api-autocomplete"),
    path("api/ninja/", ninja_api.urls),
    path("", include("catalog.urls")),
]
