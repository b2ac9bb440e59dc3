from io import StringIO

import pytest
from django.core.management import call_command
from djangoes_dsl import indexing_paused

from catalog.models import Author, Book, Tag
from catalog.sample_data import generate


def rebuild() -> str:
    out = StringIO()
    call_command("search_index", "rebuild", "books", "--no-input", stdout=out)
    return out.getvalue()


@pytest.fixture
def catalogue(db):
    """A small catalogue, indexed: 45 generated books and two we know by name."""
    with indexing_paused():  # the rebuild below indexes everything at once
        return _catalogue()


def _catalogue():
    generate(books=45, authors=6, seed=3)
    quill = Author.objects.create(name="Ada Quill", country="Ireland")
    mystery = Tag.objects.get(name="Mystery")
    cipher = Book.objects.create(
        title="The Zanzibar Cipher",
        author=quill,
        summary="A codebreaker follows <script>alert(1)</script> clues across the harbour.",
        year=1999,
        isbn="9780000000019",
        price="12.50",
    )
    cipher.tags.add(mystery)
    Book.objects.create(
        title="Quiet Orchards",
        author=quill,
        summary="Poems about apple trees.",
        year=2001,
        isbn="9780000000026",
        price="9.00",
    )
    rebuild()
    return {"cipher": cipher, "quill": quill, "mystery": mystery}
