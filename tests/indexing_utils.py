"""Helpers for the indexing tests: fresh indices, what an index holds, requests counted."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

from djangoes import connections
from djangoes_dsl import Document
from djangoes_dsl.journal import journal_alias


def leftovers(document: type[Document]) -> list[str]:
    """Return the indices named ``<NAME>-*`` other than those behind NAME."""
    client = connections[document.get_using()].client
    name = document.get_index_name()
    found = client.indices.get(index=f"{name}-*", ignore_unavailable=True, allow_no_indices=True)
    behind = set(connections[document.get_using()].concrete_indices(name))
    return sorted(set(found.body) - behind)


@contextlib.contextmanager
def fresh_index(document: type[Document]) -> Iterator[None]:
    """Around a test: the document's index anew; after it, no index nor journal left behind,
    and the index anew again. A test of rebuilds replaces the index itself, and task workers
    write with their own clients: neither is the test's scope to undo."""
    reset_index(document)
    yield
    assert leftovers(document) == []
    client = connections[document.get_using()].client
    assert not client.indices.exists_alias(name=journal_alias(document.get_index_name()))
    reset_index(document)


def reset_index(document: type[Document]) -> None:
    """Delete every index behind the document's key; create it anew. Fail on leftovers."""
    backend = connections[document.get_using()]
    assert leftovers(document) == [], "an index was left behind (or auto-created)"
    backend.delete_index(document.get_index_key())
    backend.create_index(document.get_index_key())


@contextlib.contextmanager
def broken_mapping(document: type[Document]) -> Iterator[None]:
    """In the block every document of ``document`` fails to index ('sku' becomes a long);
    after it the index is made anew as declared, so no later test sees the broken one."""
    backend = connections[document.get_using()]
    key = document.get_index_key()
    name = document.get_index_name()
    backend.delete_index(key)
    backend.client.indices.create(index=name, mappings={"properties": {"sku": {"type": "long"}}})
    try:
        yield
    finally:
        backend.delete_index(key)
        backend.create_index(key)


def delivered() -> bool:
    """Whether no committed indexing operation waits in the outbox to be sent."""
    from djangoes_dsl.models import PendingOperation

    return not PendingOperation.objects.filter(state=PendingOperation.State.PENDING).exists()


#: Set while real task workers deliver (the ``queued`` fixture): reads wait for them.
workers_deliver = False


def wait_for_delivery(timeout: float = 60.0) -> None:
    """While real task workers deliver, wait until they have sent every committed operation
    (inside a transaction nothing was committed to wait for)."""
    from django.db import connection

    if not workers_deliver or connection.in_atomic_block:
        return
    deadline = time.monotonic() + timeout
    while not delivered():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"The task workers did not deliver the outbox within {timeout:.0f}s."
            )
        time.sleep(0.02)


def indexed(document: type[Document], field: str | None = None) -> dict[str, Any]:
    """Return ``{id: source (or source[field])}`` of every document searchable now (with
    queued delivery: once the workers delivered every committed operation)."""
    wait_for_delivery()
    client = connections[document.get_using()].client
    index = document.get_read_index()
    client.indices.refresh(index=index)
    found: dict[str, Any] = {}
    response = client.search(index=index, size=10_000, sort=["_doc"], query={"match_all": {}})
    for hit in response["hits"]["hits"]:
        found[hit["_id"]] = hit["_source"].get(field) if field else hit["_source"]
    return found


class RequestCounter:
    """Count the requests a client's transport really sends, by path."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self._lock = threading.Lock()

    def count(self, needle: str) -> int:
        return sum(1 for path in self.paths if needle in path)


@contextlib.contextmanager
def count_requests(document: type[Document]) -> Iterator[RequestCounter]:
    """Count the HTTP requests of the document's connection (its transport, all clients)."""
    transport = connections[document.get_using()].client.transport
    original = transport.perform_request
    counter = RequestCounter()

    def perform_request(method: str, target: str, *args: Any, **kwargs: Any) -> Any:
        with counter._lock:
            counter.paths.append(f"{method} {target}")
        return original(method, target, *args, **kwargs)

    transport.perform_request = perform_request
    try:
        yield counter
    finally:
        del transport.perform_request


def product_rows() -> dict[str, tuple[str, str | None, list[str]]]:
    """``{id: (title, category, tags)}`` of every product row in the database."""
    from tests.apps.shop.models import Product

    return {
        str(product.pk): (
            product.title,
            product.category.name if product.category else None,
            sorted(tag.name for tag in product.tags.all()),
        )
        for product in Product.objects.select_related("category").prefetch_related("tags")
    }


def product_documents() -> dict[str, tuple[str, str | None, list[str]]]:
    """``{id: (title, category, tags)}`` of every searchable product document."""
    from tests.apps.shop.search_indices import ProductDocument

    return {
        pk: (source["title"], source.get("category"), sorted(source.get("tags", [])))
        for pk, source in indexed(ProductDocument).items()
    }
