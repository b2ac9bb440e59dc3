"""manage.py load_sample_data: fill the catalogue with generated books and index them."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from djangoes_dsl import indexing_paused
from elasticsearch import NotFoundError

from catalog.models import Author, Book, Tag
from catalog.sample_data import generate
from catalog.search_indices import BookDocument


class Command(BaseCommand):
    help = (
        "Generate a reproducible sample catalogue (authors, tags, books) from built-in word "
        "lists, then rebuild the 'books' index from the database with progress output."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--books", type=int, default=3000, help="Books to create (3000).")
        parser.add_argument("--authors", type=int, default=250, help="Authors to create (250).")
        parser.add_argument("--seed", type=int, default=1, help="Random seed (1).")
        parser.add_argument(
            "--flush",
            action="store_true",
            help="Delete the existing books, authors and tags first.",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing when the database has books and the index holds documents.",
        )
        parser.add_argument(
            "--no-index", action="store_true", help="Only fill the database; do not rebuild."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["if_empty"]:
            books, indexed = Book.objects.count(), indexed_books()
            if books and indexed:
                self.stdout.write(
                    f"The database has {books:,} books and the index {indexed:,} documents; "
                    f"nothing to do."
                )
                return
        # Rows are written in bulk with indexing paused: the rebuild below indexes them all
        # at once, far faster than one signal per row.
        with indexing_paused():
            if options["flush"]:
                Book.objects.all().delete()
                Author.objects.all().delete()
                Tag.objects.all().delete()
            existing = Book.objects.count()
            if existing:
                self.stdout.write(
                    f"The database already has {existing:,} books; indexing those "
                    f"(use --flush to generate new ones)."
                )
            else:
                # Without books, leftover authors and tags would clash with the generated ones.
                Author.objects.all().delete()
                Tag.objects.all().delete()
                counts = generate(
                    books=options["books"], authors=options["authors"], seed=options["seed"]
                )
                self.stdout.write(
                    f"Created {counts.books:,} books by {counts.authors:,} authors "
                    f"with {counts.tags} tags (seed {options['seed']})."
                )
        if not options["no_index"]:
            call_command("search_index", "rebuild", "books", "--no-input", stdout=self.stdout)


def indexed_books() -> int:
    """Return how many documents the books index holds (0 when it does not exist)."""
    try:
        return BookDocument.search(using="default").count()
    except NotFoundError:
        return 0
