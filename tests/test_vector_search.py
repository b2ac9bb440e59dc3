"""similar_to() and hybrid(): kNN with the search's filters inside, and lexical + kNN rankings
fused in the client (reciprocal-rank fusion, or a weighted sum), paged like any search."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.core.paginator import EmptyPage

from djangoes import connections
from djangoes_dsl import Document, fields, indexing_paused
from djangoes_dsl.pagination import SearchPaginator
from tests.apps.blog.models import Article
from tests.embedders import word_vector
from tests.test_schema import KEY, declared, make, no_index_left, run

__all__ = ["no_index_left"]  # the fixture, used here too

pytestmark = pytest.mark.django_db(transaction=True)

TEXTS = [
    ("The lighthouse keeper", "a keeper alone on a rock with the lamp", "2020-01-01"),
    ("Storm at sea", "waves break over the lighthouse rock", "2021-01-01"),
    ("Harbour lights", "boats come home to the harbour at night", "2020-01-01"),
    ("The keeper's daughter", "she keeps the lamp burning through the storm", "2021-01-01"),
    ("Deep sea fishing", "nets and boats far from any harbour", "2020-01-01"),
    ("Mountain hut", "snow and a warden far from the sea", "2021-01-01"),
    ("Lamp oil", "how the old lamp was kept burning", "2020-01-01"),
]


@pytest.fixture
def declared_document() -> Iterator[type[Document]]:
    """The Document, registered (its index not made)."""
    semantic = make(
        title=fields.Text(),
        body=fields.Text(),
        published=fields.Date(),
        embedding=fields.Embedding(source=["title", "body"], embedder="tests.embedders.embedder"),
    )
    with declared(semantic) as document:
        yield document


@pytest.fixture
def document(declared_document: type[Document]) -> type[Document]:
    """The Document, its index filled with the rows of TEXTS."""
    with indexing_paused():
        for title, body, published in TEXTS:
            Article.objects.create(title=title, body=body, published=published)
    connections["default"].create_index(KEY)
    run("populate", KEY)
    connections["default"].client.indices.refresh(index=declared_document.get_index_name())
    return declared_document


def raw_ranking(body: dict) -> list[tuple[str, float]]:
    """Return ``[(id, score)]`` of a search sent with the raw client."""
    hits = connections["default"].client.search(
        index=f"test_djangoes_evolving{connections.test_suffix}", size=100, **body
    )["hits"]["hits"]
    return [(hit["_id"], hit["_score"]) for hit in hits]


def two_rankings(text: str) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """Return the lexical and the kNN ranking of ``text``, from the raw client."""
    lexical = raw_ranking({"query": {"multi_match": {"query": text, "fields": ["title", "body"]}}})
    knn = raw_ranking({
        "knn": {"field": "embedding", "query_vector": word_vector(text), "k": 100,
                "num_candidates": 200},
    })  # fmt: skip
    return lexical, knn


def reference_rrf(rankings: list[list[str]], rank_constant: int) -> list[tuple[str, float]]:
    """RRF by hand: each id scores the sum of 1 / (rank_constant + its rank) per ranking."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, doc_id in enumerate(ranking, start=1):
            scores[doc_id] = scores.get(doc_id, 0.0) + 1 / (rank_constant + rank)
    return sorted(scores.items(), key=lambda item: -item[1])


def test_similar_to_runs_a_knn_with_the_filters_inside(document):
    search = document.search().filter("term", published="2020-01-01")
    similar = search.similar_to("lighthouse keeper lamp", k=3, num_candidates=20)
    body = similar.to_dict()
    assert body["knn"]["k"] == 3
    assert body["knn"]["num_candidates"] == 20
    assert body["knn"]["filter"] == {
        "bool": {"filter": [{"bool": {"filter": [{"term": {"published": "2020-01-01"}}]}}]}
    }
    assert "query" not in body  # nothing but the kNN ranks

    rows = similar.instances()
    assert len(rows) == 3
    assert {str(row.published) for row in rows} == {"2020-01-01"}
    vector = word_vector("lighthouse keeper lamp")
    expected = raw_ranking({
        "knn": {"field": "embedding", "query_vector": vector, "k": 3, "num_candidates": 20,
                "filter": {"term": {"published": "2020-01-01"}}},
    })  # fmt: skip
    assert [(str(row.pk), row.search_score) for row in rows] == expected

    keeper = Article.objects.get(title="The lighthouse keeper")
    like_keeper = document.search().similar_to(keeper, k=6).to_queryset()
    assert keeper not in like_keeper  # the row itself is left out
    assert len(like_keeper) == 6


def test_hybrid_equals_rrf_computed_by_hand_from_the_two_rankings(document):
    text = "lamp keeper storm"
    lexical, knn = two_rankings(text)
    assert lexical
    assert [i for i, _ in lexical] != [i for i, _ in knn]
    for rank_constant in (5, 60):  # the constant is a parameter
        reference = reference_rrf([[i for i, _ in lexical], [i for i, _ in knn]], rank_constant)
        hybrid = document.search().hybrid(text, rank_constant=rank_constant)
        rows = hybrid[0:100].instances()
        assert [str(row.pk) for row in rows] == [doc_id for doc_id, _ in reference]
        assert [row.search_score for row in rows] == pytest.approx([s for _, s in reference])

    # Paged: the pages are the fused ranking's slices, the count the hits fused.
    paginator = SearchPaginator(hybrid, 3)
    paged = [str(row.pk) for n in (1, 2, 3) for row in paginator.page(n).object_list.instances()]
    assert paged == [doc_id for doc_id, _ in reference]
    assert paginator.count == hybrid.count() == len(reference)
    lexical_search, knn_search = hybrid.rankings
    assert lexical_search.to_dict()["query"]["multi_match"]["query"] == text
    assert knn_search.to_dict()["knn"]["query_vector"] == word_vector(text)
    with pytest.raises(EmptyPage):
        paginator.page(4)


def test_hybrid_linear_mode_weights_min_max_normalised_scores(document):
    text = "harbour boats"
    lexical, knn = two_rankings(text)
    expected: dict[str, float] = {}
    for ranking, weight in ((lexical, 0.3), (knn, 0.7)):
        low, high = min(s for _, s in ranking), max(s for _, s in ranking)
        for doc_id, score in ranking:
            expected[doc_id] = expected.get(doc_id, 0.0) + weight * (score - low) / (high - low)
    ordered = sorted(expected.items(), key=lambda item: -item[1])

    hits = document.search().hybrid(text, mode="linear", weights=(0.3, 0.7))[0:100].execute()
    assert [hit.meta.id for hit in hits] == [doc_id for doc_id, _ in ordered]
    assert [hit.meta.score for hit in hits] == pytest.approx([score for _, score in ordered])


def test_server_side_rrf_sends_one_request_with_the_rrf_retriever(declared_document):
    search = declared_document.search().filter("term", published="2020-01-01")
    body = search.hybrid(
        "lamp", server_side=True, rank_constant=20, rank_window_size=50, k=10
    ).to_dict()
    published = {"bool": {"filter": [{"term": {"published": "2020-01-01"}}]}}
    assert body == {
        "retriever": {
            "rrf": {
                "retrievers": [
                    {"standard": {"query": {"bool": {
                        "filter": [{"term": {"published": "2020-01-01"}}],
                        "must": [{"multi_match": {"query": "lamp", "fields": ["title", "body"]}}],
                    }}}},
                    {"knn": {"field": "embedding", "k": 10, "num_candidates": 100,
                             "query_vector": word_vector("lamp"),
                             "filter": {"bool": {"filter": [published]}}}},
                ],
                "rank_constant": 20,
                "rank_window_size": 50,
            }
        },
    }  # fmt: skip


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.hybrid("lamp", mode="sum"), "mode='sum' is not a fusion mode"),
        (lambda s: s.hybrid("lamp", rank_constant=0), "rank_constant=0 must be 1 or more"),
        (lambda s: s.hybrid("lamp", weights=(1.0,)), "weights=[1.0] must be 2 numbers"),
        (lambda s: s.hybrid("lamp", server_side=True, mode="linear"), "mode='rrf', no weights"),
        (lambda s: s.similar_to("lamp", field="vector"), "field='vector' is not an embedding"),
        (lambda s: s.similar_to("lamp", k=0), "k=0 must be 1 or more"),
        (lambda s: s.similar_to("lamp", k=50, num_candidates=10), "num_candidates=10 must be"),
        (lambda s: s.similar_to("  "), "The text to search by similarity is empty"),
    ],
)
def test_bad_arguments_are_named_in_the_error(declared_document, call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call(declared_document.search()).execute()
