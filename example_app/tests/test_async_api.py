"""The async JSON search view: books in hit order, read with the async ORM."""

from asgiref.sync import async_to_sync
from django.test import AsyncClient
from django.urls import reverse

from catalog.search_indices import BookDocument

API = reverse("catalog:search_api")


def get(**params):
    # As Django runs an async test: the view's database reads run in this thread, inside the
    # test's transaction.
    return async_to_sync(AsyncClient().get)(API, params)


def test_returns_the_books_in_hit_order(catalogue):
    response = get(q="quill")
    assert response.status_code == 200
    results = response.json()["results"]
    query = {"multi_match": {"query": "quill", "fields": ["title^3", "author^2", "summary"]}}
    hits = BookDocument.search().update_from_dict({"query": query})[:10].execute()
    assert [result["id"] for result in results] == [int(hit.meta.id) for hit in hits]
    assert {result["title"] for result in results} >= {"The Zanzibar Cipher", "Quiet Orchards"}
    assert all(result["author"] == "Ada Quill" for result in results)


def test_an_empty_query_returns_no_results(db):
    response = get(q="  ")
    assert response.status_code == 200
    assert response.json() == {"results": []}


def test_bad_input_is_answered_never_a_server_error(catalogue):
    for text in ["x" * 5000, "lamp\x00", '"(*:[}', "%ff", "<script>", "-" * 300]:
        response = get(q=text)
        assert response.status_code == 200, (text[:20], response.status_code)
        assert isinstance(response.json()["results"], list)
    response = async_to_sync(AsyncClient().get)(f"{API}?q=quill&q=%ED%A0%80%FF&q=")
    assert response.status_code == 200
