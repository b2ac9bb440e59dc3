from django.urls import path

from . import views

app_name = "catalog"
urlpatterns = [
    path("", views.search, name="search"),
    path("export.csv", views.export, name="export"),
    path("books/<int:pk>/", views.book_detail, name="book"),
]
