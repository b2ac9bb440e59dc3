"""Search by meaning and similar books, with the real model (wordllama, loaded from its wheel)."""

import os
import subprocess
import sys
from pathlib import Path

from django.urls import reverse

from catalog.embedding import AVAILABLE, WordLlamaEmbedder
from catalog.search_indices import BookDocument

SEARCH = reverse("catalog:search")


def test_the_model_is_installed_and_loads_from_its_wheel():
    assert AVAILABLE, "install the example's model: pip install 'djangoes[example-vectors]'"
    vectors = WordLlamaEmbedder().embed(["a poem about apples", "an orchard"])
    assert [len(vector) for vector in vectors] == [256, 256]


def test_search_by_meaning_finds_a_book_without_its_words(client, catalogue):
    # "Quiet Orchards" (summary: "Poems about apple trees.") shares no word with the query.
    response = client.get(SEARCH, {"q": "verses on fruit", "mode": "meaning"})
    assert response.status_code == 200
    titles = [result.book.title for result in response.context["results"].results]
    assert "Quiet Orchards" in titles[:10]
    assert b'<option value="meaning" selected>' in response.content

    words = client.get(SEARCH, {"q": "verses on fruit"})
    assert words.context["results"].total == 0  # the words alone find nothing


def test_both_modes_fuse_and_keep_the_filters(client, catalogue):
    response = client.get(SEARCH, {"q": "verses on fruit", "mode": "both", "author": "Ada Quill"})
    assert response.status_code == 200
    books = [result.book for result in response.context["results"].results]
    assert books
    assert {book.author.name for book in books} == {"Ada Quill"}


def test_a_book_page_lists_similar_books(client, catalogue):
    cipher = catalogue["cipher"]
    response = client.get(reverse("catalog:book", args=[cipher.pk]))
    similar = response.context["similar"]
    assert len(similar) == 5
    assert cipher not in similar
    expected = BookDocument.search().similar_to(cipher, k=5).to_queryset()
    assert similar == list(expected)
    assert b"Similar books" in response.content


def test_loading_the_model_keeps_the_sites_logging():
    # The model's package configures the root logger when imported; the site's console must
    # not start printing a line for every request to Elasticsearch once the model is loaded.
    code = (
        "import django; django.setup()\n"
        "from catalog.embedding import WordLlamaEmbedder\n"
        "from djangoes import connection\n"
        "WordLlamaEmbedder()\n"
        "print(connection.client.cluster.health()['status'])\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "site_config.test_settings"}
    example = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=example, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() in {"green", "yellow"}  # the node answered
    assert "elastic_transport" not in result.stderr
