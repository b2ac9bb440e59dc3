from django.urls import path

from . import views

app_name = "catalog"
urlpatterns = [
    path("", views.search, name="search"),
    path("export.csv", views.export, name="export"),
    path("api/search/", views.search_api, name="search_api"),
    path("books/<int:pk>/", views.book_detail, name="book"),
]
