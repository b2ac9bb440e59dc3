"""asimilar_to() and ahybrid() of ``MyDocument.asearch()``: the searches of the sync
similar_to() and hybrid(), their query vector computed without blocking the event loop, sent
with its client, fused in the client and paged with the async paginator."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator

import pytest
from asgiref.sync import sync_to_async
from django.core.paginator import EmptyPage

from djangoes import connections
from djangoes_dsl import Document, fields
from djangoes_dsl.asyncsearch import AsyncHybridSearch, AsyncSearch
from djangoes_dsl.pagination import AsyncSearchPaginator, SearchPaginator
from tests.apps.blog.models import Article
from tests.embedders import WordHashEmbedder, word_vector
from tests.test_async import close_orm_thread_connections
from tests.test_schema import declared, make, no_index_left
from tests.test_vector_search import (
    declared_document,
    document,
    raw_ranking,
    reference_rrf,
    two_rankings,
)

__all__ = ["close_orm_thread_connections", "declared_document", "document", "no_index_left"]

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def hits_of(response) -> list[tuple[str, float]]:
    return [(hit.meta.id, hit.meta.score) for hit in response]


async def test_asimilar_to_sends_the_sync_knn_with_the_filters_inside(document):
    text = "lighthouse keeper lamp"
    search = document.asearch().filter("term", published="2020-01-01")
    similar = await search.asimilar_to(text, k=3, num_candidates=20)
    assert isinstance(similar, AsyncSearch)
    sync_similar = await sync_to_async(
        lambda: (
            document.search()
            .filter("term", published="2020-01-01")
            .similar_to(text, k=3, num_candidates=20)
        )
    )()
    assert similar.to_dict() == sync_similar.to_dict()

    rows = await similar.ainstances()
    expected = await sync_to_async(raw_ranking)({
        "knn": {"field": "embedding", "query_vector": word_vector(text), "k": 3,
                "num_candidates": 20, "filter": {"term": {"published": "2020-01-01"}}},
    })  # fmt: skip
    assert len(expected) == 3
    assert [(str(row.pk), row.search_score) for row in rows] == expected
    assert {str(row.published) for row in rows} == {"2020-01-01"}

    # An instance: its stored vector, read with the async client; the row itself left out.
    keeper = await Article.objects.aget(title="The lighthouse keeper")
    like_keeper = await document.asearch().asimilar_to(keeper, k=6)
    ids = [str(row.pk) async for row in await like_keeper.ato_queryset()]
    sync_ids = await sync_to_async(
        lambda: [str(row.pk) for row in document.search().similar_to(keeper, k=6).to_queryset()]
    )()
    assert ids == sync_ids
    assert len(ids) == 6
    assert str(keeper.pk) not in ids


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"rank_constant": 5, "weights": (2.0, 1.0)},
        {"mode": "linear", "weights": (0.3, 0.7)},
        {"fields": ["title"], "k": 4, "rank_window_size": 5},
    ],
    ids=["rrf", "rrf-weighted", "linear", "title-only-window-5"],
)
async def test_ahybrid_equals_the_sync_hybrid_for_the_same_query(document, options):
    text = "lamp keeper storm"
    fused = await document.asearch().ahybrid(text, **options)
    assert isinstance(fused, AsyncHybridSearch)
    found = hits_of(await fused[0:100].execute())
    expected = await sync_to_async(
        lambda: hits_of(document.search().hybrid(text, **options)[0:100].execute())
    )()
    assert len(expected) >= 3
    assert found == expected
    assert await fused.acount() == len(expected)


async def test_ahybrid_equals_rrf_computed_by_hand_and_pages_with_the_async_paginator(document):
    text = "lamp keeper storm"
    lexical, knn = await sync_to_async(two_rankings)(text)
    reference = reference_rrf([[i for i, _ in lexical], [i for i, _ in knn]], 60)
    fused = await document.asearch().ahybrid(text)

    rows = await fused[0:100].ainstances()
    assert [str(row.pk) for row in rows] == [doc_id for doc_id, _ in reference]
    assert [row.search_score for row in rows] == pytest.approx([s for _, s in reference])
    queryset = await fused[0:100].ato_queryset()
    assert [(str(row.pk), row.search_score) async for row in queryset] == [
        (str(row.pk), row.search_score) for row in rows
    ]

    # Paged as the sync paginator pages the sync hybrid search.
    paginator = AsyncSearchPaginator(fused, 3)
    pages = [await paginator.apage(n) for n in (1, 2, 3)]
    paged = [str(row.pk) for page in pages for row in await page.object_list.ainstances()]
    assert paged == [doc_id for doc_id, _ in reference]
    assert await paginator.acount() == len(reference)
    sync_paged = await sync_to_async(
        lambda: [
            hit.meta.id
            for n in (1, 2, 3)
            for hit in SearchPaginator(document.search().hybrid(text), 3).page(n).object_list
        ]
    )()
    assert paged == sync_paged
    with pytest.raises(EmptyPage):
        await paginator.apage(4)


class GatedEmbedder(WordHashEmbedder):
    """Embeds only once the test opens the gate, from the event loop: were the embedder
    called on the loop's thread, the loop could not open it and the call would time out."""

    def __init__(self) -> None:
        super().__init__()
        self.called = threading.Event()
        self.gate = threading.Event()
        self.threads: list[int] = []

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.threads.append(threading.get_ident())
        self.called.set()
        if not self.gate.wait(timeout=30):
            raise TimeoutError("the event loop never opened the gate: it was blocked")
        return super().embed(texts)


@pytest.fixture
def gated() -> Iterator[tuple[type[Document], GatedEmbedder]]:
    embedder = GatedEmbedder()
    semantic = make(
        title=fields.Text(),
        body=fields.Text(),
        embedding=fields.Embedding(source=["title", "body"], embedder=embedder),
    )
    with declared(semantic) as gated_document:
        connections["default"].create_index(gated_document.get_index_key())
        yield gated_document, embedder


async def test_the_embedder_runs_in_a_thread_while_the_event_loop_goes_on(gated):
    gated_document, embedder = gated
    similar = asyncio.create_task(gated_document.asearch().asimilar_to("lamp", k=2))
    fused = asyncio.create_task(gated_document.asearch().ahybrid("lamp"))
    await asyncio.to_thread(embedder.called.wait, 30)
    # Both embeddings are under way: the loop answers another request meanwhile.
    health = await connections["default"].async_client.cluster.health()
    assert health["status"] in ("green", "yellow")
    embedder.gate.set()
    assert (await similar).to_dict()["knn"]["query_vector"] == word_vector("lamp")
    assert (await fused).rankings[1].to_dict()["knn"]["query_vector"] == word_vector("lamp")
    assert embedder.calls == [["lamp"], ["lamp"]]
    assert threading.get_ident() not in embedder.threads


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.ahybrid("lamp", mode="sum"), "mode='sum' is not a fusion mode"),
        (lambda s: s.ahybrid("lamp", weights=(1.0,)), "weights=[1.0] must be 2 numbers"),
        (lambda s: s.ahybrid("lamp", server_side=True, mode="linear"), "mode='rrf', no weights"),
        (lambda s: s.asimilar_to("lamp", field="vector"), "field='vector' is not an embedding"),
        (lambda s: s.asimilar_to("lamp", k=50, num_candidates=10), "num_candidates=10 must be"),
        (lambda s: s.asimilar_to("  "), "The text to search by similarity is empty"),
    ],
)
async def test_bad_arguments_are_named_in_the_error(declared_document, call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        await call(declared_document.asearch())


async def test_the_sync_names_on_an_async_search_say_to_await_the_async_ones(declared_document):
    with pytest.raises(TypeError, match=re.escape("await s.asimilar_to(text or instance")):
        declared_document.asearch().similar_to("lamp")
    with pytest.raises(TypeError, match=re.escape("await s.ahybrid(text")):
        declared_document.asearch().hybrid("lamp")


async def test_server_side_rrf_is_the_sync_request_body(declared_document):
    options = {"server_side": True, "rank_constant": 20, "rank_window_size": 50, "k": 10}
    search = declared_document.asearch().filter("term", published="2020-01-01")
    body = (await search.ahybrid("lamp", **options)).to_dict()
    sync_body = await sync_to_async(
        lambda: (
            declared_document.search()
            .filter("term", published="2020-01-01")
            .hybrid("lamp", **options)
            .to_dict()
        )
    )()
    assert body == sync_body
    assert body["retriever"]["rrf"]["rank_constant"] == 20
