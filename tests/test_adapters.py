"""The private parts of Django and elasticsearch.dsl that djangoes relies on still behave.

Each test here fails loudly when a supported Django or elasticsearch-py version changes
what an adapter (``djangoes.adapters.django``, ``djangoes_dsl.adapters``) relies on.
"""

from __future__ import annotations

import django
import elasticsearch
import pytest
from django.db import connection, transaction
from django.test import runner as django_runner
from elasticsearch import dsl
from elasticsearch.dsl import connections as dsl_connections

from djangoes import connections
from djangoes.adapters.django import (
    append_commit_hook,
    commit_hook_pending,
    in_atomic_block,
    parallel_worker_id,
    savepoint_ids,
)
from djangoes_dsl import adapters
from tests.apps.blog.search_indices import ArticleDocument
from tests.apps.shop.search_indices import ProductDocument

VERSIONS = f"Django {django.__version__}, elasticsearch-py {elasticsearch.__versionstr__}"

# -- Django ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_commit_hook_survives_a_savepoint_rollback_and_runs_on_commit():
    ran = []
    with transaction.atomic():
        assert in_atomic_block(connection)
        assert savepoint_ids(connection) == frozenset()
        try:
            with transaction.atomic():
                (sid,) = savepoint_ids(connection)
                assert sid
                hook = append_commit_hook(connection, lambda: ran.append("hook"), robust=False)
                assert commit_hook_pending(connection, hook)
                raise LookupError("roll back the savepoint")
        except LookupError:
            pass
        assert commit_hook_pending(connection, hook), VERSIONS
        assert ran == []
    assert ran == ["hook"], VERSIONS
    assert not commit_hook_pending(connection, hook)
    assert not in_atomic_block(connection)


@pytest.mark.django_db(transaction=True)
def test_a_commit_hook_is_dropped_with_the_whole_transaction():
    ran = []
    try:
        with transaction.atomic():
            hook = append_commit_hook(connection, lambda: ran.append("hook"), robust=True)
            raise LookupError("roll back")
    except LookupError:
        pass
    assert ran == []
    assert not commit_hook_pending(connection, hook), VERSIONS


def test_the_parallel_worker_number_and_the_worker_initializer_exist():
    assert parallel_worker_id() == 0  # not a parallel worker
    assert callable(django_runner.ParallelTestSuite.init_worker), VERSIONS


# -- elasticsearch.dsl -----------------------------------------------------------------------


def test_a_documents_index_is_what_the_resolver_says_at_each_access():
    target = {"index": dsl.Index("first", using="default")}

    class Probe(dsl.Document):
        title = dsl.Text()

    adapters.install_index_resolver(Probe, lambda cls: target["index"])
    assert adapters.index_name(Probe._index) == "first"
    target["index"] = dsl.Index("second", using="default")
    assert adapters.index_name(Probe._index) == "second"
    target["index"] = None
    assert adapters.index_name(Probe._index) is None  # its own, unnamed
    assert adapters.mapping_field_names(Probe) == ["title"], VERSIONS


def test_search_and_response_accessors():
    search = ArticleDocument.search()
    assert adapters.search_documents(search) == [ArticleDocument]
    response = dsl.Response(search, {"hits": {"hits": [], "total": {"value": 0}}})
    assert adapters.response_search(response) is search
    from djangoes_dsl.search import Response

    assert isinstance(search.response_class(Response), dsl.Search)


def test_a_searchs_connection_and_indices():
    search = ArticleDocument.search(using="default")
    assert adapters.search_using(search) == "default", VERSIONS
    assert adapters.search_indices(search) == [ArticleDocument.get_read_index()], VERSIONS
    assert adapters.search_indices(search.index()) is None, VERSIONS  # every index
    assert adapters.search_indices(search[10:20].sort("title")) == [
        ArticleDocument.get_read_index()
    ]


@pytest.mark.django_db
def test_dsl_uses_the_read_name_and_recognises_hits_of_a_rebuilt_index():
    client = connections["default"].client
    name = ProductDocument.get_index_name()
    concrete = f"{name}-20260101000000"
    client.indices.create(index=concrete)
    try:
        client.index(index=concrete, id="7", document={"title": "lamp"}, refresh=True)
        response = ProductDocument.search(index=concrete).execute()
        assert [type(hit) for hit in response] == [ProductDocument], VERSIONS
        assert ProductDocument._default_index() == ProductDocument.get_read_index()
    finally:
        client.indices.delete(index=concrete)


def test_the_client_keeps_its_own_user_agent_when_elasticsearch_dsl_uses_it():
    # A client registered as it is gets elasticsearch.dsl's user-agent stamped on it ...
    plain = elasticsearch.Elasticsearch(connections["default"].server["HOSTS"])
    dsl_connections.add_connection("plain-client", plain)
    try:
        stamped = plain._headers.get("user-agent", "")
        assert stamped.startswith("elasticsearch-dsl-py/"), VERSIONS
    finally:
        dsl_connections.remove_connection("plain-client")
        plain.close()
    # ... the djangoes connections' clients are not touched.
    registered = dsl_connections.get_connection("default")
    ArticleDocument.search().count()
    client = connections["default"].client
    assert registered.transport is client.transport
    assert "user-agent" not in client._headers, VERSIONS
