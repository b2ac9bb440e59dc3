"""Embeddings: a vector field computed per bulk chunk, skipped when its text did not change,
kept in the outbox when the embedder fails, part of the schema's fingerprint."""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from importlib import import_module
from importlib.util import find_spec
from typing import Any

import pytest
from django.core import checks
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings

from djangoes import connections
from djangoes_dsl import Document, fields, indexing_paused, schema
from djangoes_dsl.models import PendingOperation
from tests import embedders
from tests.apps.blog.models import Article
from tests.embedders import word_vector
from tests.test_schema import KEY, declared, make, no_index_left, run, status_then_migrate

__all__ = ["no_index_left"]  # the fixture, used here too

pytestmark = pytest.mark.django_db(transaction=True)

EMBEDDER = "tests.embedders.embedder"


def semantic(embedder: Any = EMBEDDER, **options: Any) -> type[Document]:
    """Return a Document of Article rows with an embedding of their title and body."""
    options.setdefault("source", ["title", "body"])
    return make(
        title=fields.Text(),
        body=fields.Text(),
        embedding=fields.Embedding(embedder=embedder, **options),
    )


@pytest.fixture
def embedder() -> Iterator[embedders.WordHashEmbedder]:
    embedders.embedder.calls.clear()
    embedders.embedder.failing = False
    yield embedders.embedder
    embedders.embedder.failing = False


def float32(values: list[float]) -> tuple[float, ...]:
    """The values as Elasticsearch keeps them (32-bit floats)."""
    return tuple(struct.unpack("f", struct.pack("f", value))[0] for value in values)


def indexed(document: type[Document]) -> dict[str, tuple[str, tuple[float, ...] | None]]:
    """Return ``{id: (title, vector)}`` of every document in the index."""
    client = connections["default"].client
    client.indices.refresh(index=document.get_index_name())
    hits = client.search(
        index=document.get_index_name(),
        size=1000,
        source_includes=["title", "embedding"],  # named: 9.2+ leaves vectors out otherwise
    )["hits"]["hits"]
    return {
        hit["_id"]: (
            hit["_source"]["title"],
            float32(hit["_source"]["embedding"]) if "embedding" in hit["_source"] else None,
        )
        for hit in hits
    }


def expected() -> dict[str, tuple[str, tuple[float, ...] | None]]:
    """Return what the index should hold for the rows of the database."""
    return {
        str(row.pk): (row.title, float32(word_vector(f"{row.title}\n{row.body}")))
        for row in Article.objects.all()
    }


def test_the_mapping_is_derived_from_the_embedder():
    document = semantic(similarity="dot_product", index_options={"type": "flat"})
    mapping = document._doc_type.mapping.to_dict()["properties"]
    assert mapping["embedding"] == {
        "type": "dense_vector",
        "dims": 8,
        "similarity": "dot_product",
        "index_options": {"type": "flat"},
        "meta": {"embedder_model": "word-hash-8"},
    }
    assert mapping["embedding_source_hash"] == {"type": "keyword", "index": False}


@pytest.mark.parametrize(
    ("options", "check_id", "message"),
    [
        ({"dims": 16}, "djangoes_dsl.E051", "declares dims=16, but its embedder"),
        ({"embedder": "tests.nowhere.Embedder"}, "djangoes_dsl.E050", "cannot be imported"),
        ({"source": ["title", "abstract"]}, "djangoes_dsl.E052", "embeds ['abstract'], which"),
    ],
)
def test_checks_catch_a_dims_mismatch_an_embedder_that_cannot_be_imported_and_a_bad_source(
    options, check_id, message
):
    with declared(semantic(**options)):
        found = [m for m in checks.run_checks(tags=["djangoes"]) if m.id == check_id]
    assert len(found) == 1
    assert message in found[0].msg
    assert found[0].hint


def test_one_embedder_call_per_chunk_and_none_when_the_text_did_not_change(embedder):
    with declared(semantic()) as document:
        connections["default"].create_index(KEY)
        with transaction.atomic():
            rows = [
                Article.objects.create(title=f"Lighthouse {n}", body=f"keeper {n}")
                for n in range(3)
            ]
        assert embedder.calls == [[f"Lighthouse {n}\nkeeper {n}" for n in range(3)]]

        rows[0].published = "2020-01-01"  # not embedded: the stored vector is kept
        rows[0].save()
        assert len(embedder.calls) == 1
        rows[1].title = "Foghorn"
        rows[1].save()
        assert embedder.calls[1:] == [["Foghorn\nkeeper 1"]]
        assert indexed(document) == expected()

        # A rebuild reads the vectors of the live index: nothing changed, nothing embedded.
        run("rebuild", KEY, "--no-input")
        assert len(embedder.calls) == 2
        assert indexed(document) == expected()


def test_a_failing_embedder_keeps_the_operations_in_the_outbox_until_sync(embedder):
    with declared(semantic()) as document:
        connections["default"].create_index(KEY)
        with indexing_paused():
            kept = Article.objects.create(title="Kept", body="unchanged")
        run("populate", KEY)

        embedder.failing = True
        with transaction.atomic():
            for n in range(4):
                Article.objects.create(title=f"Made while down {n}", body="new")
        kept.title = "Renamed while down"
        kept.save()
        waiting = PendingOperation.objects.filter(document__contains="Evolving")
        assert waiting.count() == 5
        assert {row.state for row in waiting} == {"pending"}  # retried, as for a node down
        assert "the embedding service is down" in waiting[0].last_error
        assert indexed(document) != expected()

        embedder.failing = False
        call_command("search_index", "sync", stdout=io.StringIO(), stderr=io.StringIO())

        assert PendingOperation.objects.count() == 0
        found = indexed(document)
        assert found == expected()
        assert found[str(kept.pk)][0] == "Renamed while down"
        assert all(vector is not None for _, vector in found.values())


def test_a_new_model_needs_a_rebuild_and_migrate_reembeds_while_the_old_index_serves(embedder):
    with indexing_paused():
        for n in range(3):
            Article.objects.create(title=f"Lighthouse {n}", body=f"keeper {n}")
    with declared(semantic()):
        connections["default"].create_index(KEY)
        run("populate", KEY)
        assert schema.inspect(KEY, "default").state == schema.IN_SYNC

    with declared(semantic(embedder=embedders.RenamedEmbedder())):
        found = schema.inspect(KEY, "default")  # another model, the same dims
        assert found.state == schema.NEEDS_REBUILD
        assert [d.what for d in found.differences] == ["meta changed"]

    wider = embedders.WiderEmbedder()
    with declared(semantic(embedder=wider)) as document:
        found = schema.inspect(KEY, "default")
        assert found.state == schema.NEEDS_REBUILD
        assert {d.what for d in found.differences} == {"dims changed", "meta changed"}
        # status exits with 1; migrate rebuilds while the old index answers until the swap.
        status_then_migrate(document, schema.NEEDS_REBUILD)

        assert schema.inspect(KEY, "default").state == schema.IN_SYNC
        assert wider.calls == [[f"Lighthouse {n}\nkeeper {n}" for n in range(3)]]
        vectors = {vector for _, vector in indexed(document).values()}
        assert {len(vector) for vector in vectors} == {16}


def test_with_queued_delivery_the_request_never_waits_for_the_embedder(embedder):
    tasks = "django.tasks" if find_spec("django.tasks") is not None else "django_tasks"
    queued = override_settings(
        DJANGOES_DELIVERY="django_tasks",
        TASKS={"default": {"BACKEND": f"{tasks}.backends.dummy.DummyBackend"}},
    )
    with declared(semantic()) as document, queued:
        connections["default"].create_index(KEY)
        with transaction.atomic():
            for n in range(2):
                Article.objects.create(title=f"Queued {n}", body="while the worker sleeps")
        assert embedder.calls == []  # the request only enqueued its batch

        # The worker's turn: the task reads the rows and embeds them, one call for the chunk.
        (enqueued,) = import_module(tasks).task_backends["default"].results
        enqueued.task.call(*enqueued.args, **enqueued.kwargs)
        assert embedder.calls == [[f"Queued {n}\nwhile the worker sleeps" for n in range(2)]]
        assert indexed(document) == expected()
