"""manage.py load_sample_data: generated rows, then a rebuild of the books index."""

from io import StringIO

import pytest
from django.core.management import call_command
from djangoes import connection
from djangoes_dsl import indexing_paused

from catalog.management.commands.load_sample_data import indexed_books
from catalog.models import Author, Book, Tag
from catalog.sample_data import Generator, isbn13
from catalog.search_indices import BookDocument

pytestmark = pytest.mark.django_db


def load(*args: str) -> str:
    out = StringIO()
    call_command("load_sample_data", *args, stdout=out)
    return out.getvalue()


def test_generates_rows_and_indexes_them_with_progress():
    out = load("--books", "300", "--authors", "40")
    assert Book.objects.count() == 300
    assert Author.objects.count() == 40
    assert Tag.objects.count() == 32
    assert "Created 300 books by 40 authors with 32 tags (seed 1)." in out
    assert "books: 300/300 (100%)" in out  # the rebuild's progress line
    assert indexed_books() == 300
    # Every book has tags, and the documents carry the related names.
    assert not Book.objects.filter(tags=None).exists()
    book = Book.objects.select_related("author").first()
    doc = BookDocument.get(id=book.pk, index=BookDocument.get_read_index())
    assert doc.author == book.author.name
    assert sorted(doc.tags) == sorted(book.tags.values_list("name", flat=True))


def test_the_same_seed_gives_the_same_catalogue():
    def sample(seed):
        generator = Generator(seed)
        authors = generator.authors(20)
        tags = {tag.name: tag for tag in generator.tags()}
        weights = [1.0] * len(authors)
        books = [generator.book(authors, weights, tags) for _ in range(50)]
        return [a.name for a in authors], [(b.title, b.summary, b.year, t) for b, t in books]

    assert sample(7) == sample(7)
    assert sample(7) != sample(8)


def test_isbns_have_valid_check_digits():
    import random

    rng = random.Random(0)
    for _ in range(100):
        isbn = isbn13(rng)
        assert len(isbn) == 13
        assert isbn.startswith("978")
        assert sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(isbn)) % 10 == 0


def test_existing_rows_are_kept_and_indexed():
    connection.delete_index("books")
    load("--books", "30", "--authors", "5", "--no-index")
    assert indexed_books() == 0
    titles = set(Book.objects.values_list("title", flat=True))
    out = load("--books", "99")
    assert "already has 30 books" in out
    assert set(Book.objects.values_list("title", flat=True)) == titles
    assert indexed_books() == 30


def test_flush_replaces_the_catalogue():
    load("--books", "30", "--authors", "5")
    load("--books", "20", "--authors", "4", "--seed", "2", "--flush")
    assert Book.objects.count() == 20
    assert Author.objects.count() == 4
    assert indexed_books() == 20


def test_if_empty_does_nothing_when_the_index_has_documents():
    load("--books", "25", "--authors", "5")
    out = load("--if-empty", "--flush")
    assert "has 25 books and the index 25 documents; nothing to do" in out
    assert Book.objects.count() == 25


def test_if_empty_loads_when_the_index_is_missing():
    connection.delete_index("books")  # and, after a rebuild, the indices behind its alias
    assert indexed_books() == 0
    out = load("--if-empty", "--books", "15", "--authors", "3")
    assert "Created 15 books" in out
    assert indexed_books() == 15


def test_if_empty_fills_an_empty_database_even_when_the_index_has_documents():
    load("--books", "25", "--authors", "5")
    with indexing_paused():
        Book.objects.all().delete()
    assert indexed_books() == 25
    out = load("--if-empty", "--books", "12", "--authors", "3")
    assert "Created 12 books" in out
    assert indexed_books() == 12
