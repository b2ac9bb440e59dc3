"""Admin: every save here is re-indexed on commit by the djangoes_dsl signal processor."""

from django.contrib import admin

from .models import Author, Book, Tag


@admin.register(Author)
class AuthorAdmin(admin.ModelAdmin):
    list_display = ["name", "country", "born"]
    search_fields = ["name"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]


@admin.register(Book)
class BookAdmin(admin.ModelAdmin):
    list_display = ["title", "author", "year", "price", "in_stock"]
    list_filter = ["in_stock", "tags"]
    list_select_related = ["author"]
    search_fields = ["title", "isbn", "author__name"]
    autocomplete_fields = ["author"]
    filter_horizontal = ["tags"]
