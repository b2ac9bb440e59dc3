"""Queued delivery of a Document with an embedding, by real task workers (django-tasks-db's
``db_worker`` and a Celery worker on Redis): the web request only enqueues, the worker embeds
each batch with one embedder call, and the index ends as the database is, vectors included."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import transaction

from djangoes_dsl import Document
from djangoes_dsl.models import PendingOperation
from tests import embedders
from tests.apps.blog import semantic
from tests.apps.blog.models import Article
from tests.conftest import running_worker
from tests.indexing_utils import count_requests, delivered
from tests.test_embeddings import embedder, expected, indexed
from tests.workers import wait_for

__all__ = ["embedder"]  # the fixture, used here too

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
    pytest.mark.workers,
]

ROWS = 6


@pytest.fixture(scope="module", params=["django_tasks", "celery"])
def task_worker(request, django_db_setup, tmp_path_factory):
    """A worker of each engine that delivers SemanticArticleDocument and writes its embedder's
    calls to a file of its own (``worker.embedder_calls``)."""
    calls = tmp_path_factory.mktemp("embedder") / "calls.jsonl"
    extra_env = {**semantic.worker_environment(), embedders.CALLS_FILE_VARIABLE: str(calls)}
    for worker in running_worker(request, extra_env):
        worker.embedder_calls = calls
        yield worker


@pytest.fixture
def document() -> Iterator[type[Document]]:
    with semantic.declared() as declared:
        yield declared


def worker_calls(worker) -> list[list[str]]:
    """Return the texts of each embedder call of ``worker``, which must have made them all."""
    calls = embedders.calls_in(worker.embedder_calls)
    assert {call["pid"] for call in calls} <= {worker.pid}
    return [call["texts"] for call in calls]


def test_the_request_only_enqueues_and_the_worker_embeds_a_batch_in_one_call(
    document, queued, embedder
):
    before = len(worker_calls(queued))
    with count_requests(document) as requests, transaction.atomic():
        rows = [
            Article.objects.create(title=f"Queued {n}", body=f"lighthouse keeper {n}")
            for n in range(ROWS)
        ]
    assert requests.paths == []  # not one request to Elasticsearch from the web process
    assert embedder.calls == []  # nor one embedder call
    wait_for(delivered, "the worker to deliver the batch", timeout=60)
    assert worker_calls(queued)[before:] == [
        [f"Queued {n}\nlighthouse keeper {n}" for n in range(ROWS)]
    ]

    # A new title is re-embedded alone; a change of a field not embedded is not.
    with count_requests(document) as requests:
        rows[0].title = "Renamed"
        rows[0].save()
        rows[1].published = "2020-01-01"
        rows[1].save()
        rows[2].delete()
    assert requests.paths == []
    assert embedder.calls == []
    wait_for(delivered, "the worker to deliver the changes", timeout=60)
    assert worker_calls(queued)[before + 1 :] == [["Renamed\nlighthouse keeper 0"]]
    assert PendingOperation.objects.count() == 0

    found = indexed(document)
    assert found == expected()  # ids, titles and vectors, exactly
    assert len(found) == ROWS - 1
    assert found[str(rows[0].pk)][0] == "Renamed"
    assert all(vector is not None for _, vector in found.values())
