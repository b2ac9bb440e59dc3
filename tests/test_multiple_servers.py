"""Two aliases of ES_SERVERS on two different nodes work independently."""

from __future__ import annotations

import uuid

import elasticsearch
import pytest
from django.test import override_settings

from djangoes import ConnectionHandler, connections
from tests.nodes import second_url
from tests.settings import ES_URL


@pytest.fixture
def tag():
    urls = (ES_URL, second_url())
    tag = uuid.uuid4().hex[:8]
    yield tag
    for url in urls:
        client = elasticsearch.Elasticsearch(url)
        client.indices.delete(index=f"*_{tag}", ignore_unavailable=True, allow_no_indices=True)
        client.close()


def servers(tag: str) -> dict:
    return {
        "default": {"HOSTS": [ES_URL], "INDICES": ["catalogue"]},
        "archive": {"HOSTS": [second_url()], "INDICES": ["catalogue", "ledger"]},
    }


def indices(tag: str) -> dict:
    return {
        "catalogue": {"NAME": f"djangoes_m_catalogue_{tag}"},
        "ledger": {"NAME": f"djangoes_m_ledger_{tag}", "ALIASES": [f"djangoes_m_books_{tag}"]},
    }


def node_name(backend) -> str:
    nodes = backend.client.nodes.info(node_id="_local", metric="http")["nodes"]
    return next(iter(nodes.values()))["http"]["publish_address"]


def test_two_aliases_talk_to_two_nodes(tag):
    handler = ConnectionHandler(servers=servers(tag), indices=indices(tag))
    main, archive = handler["default"], handler["archive"]
    assert main.client is not archive.client
    assert node_name(main).endswith(ES_URL.rsplit(":", 1)[1])
    assert node_name(archive).endswith(second_url().rsplit(":", 1)[1])
    assert node_name(main) != node_name(archive)

    name = f"djangoes_m_catalogue_{tag}"
    main.create_index("catalogue")
    archive.create_index("catalogue")
    main.index(id="1", document={"title": "on main"}, refresh=True)
    archive.bulk(
        operations=[{"index": {"_index": name, "_id": "a"}}, {"title": "on archive"}],
        refresh=True,
    )

    # Same index name, different nodes: each sees only its own documents.
    assert [hit["_source"]["title"] for hit in main.search()["hits"]["hits"]] == ["on main"]
    archived = archive.search(index=name)["hits"]["hits"]
    assert [hit["_source"]["title"] for hit in archived] == ["on archive"]

    # An index served only by 'archive' exists only there.
    archive.create_index("ledger")
    assert archive.client.indices.exists(index=f"djangoes_m_ledger_{tag}")
    assert not main.client.indices.exists(index=f"djangoes_m_ledger_{tag}")
    assert archive.indices == [name, f"djangoes_m_books_{tag}"]
    assert main.indices == [name]

    # Closing one leaves the other working.
    archive.close()
    assert main.count()["count"] == 1
    assert archive.count(index=name)["count"] == 1


def test_one_node_down_does_not_affect_the_other(tag):
    handler = ConnectionHandler(
        servers={
            **servers(tag),
            "down": {"HOSTS": ["http://127.0.0.1:1"], "PARAMS": {"max_retries": 0}},
        },
        indices=indices(tag),
    )
    with pytest.raises(elasticsearch.ConnectionError):
        handler["down"].client.cluster.health()
    assert handler["archive"].client.cluster.health()["status"] in ("green", "yellow")
    assert handler["default"].client.cluster.health()["status"] in ("green", "yellow")


def test_the_global_connections_follow_es_servers_with_two_nodes(tag):
    with override_settings(ES_SERVERS=servers(tag), ES_INDICES=indices(tag)):
        assert list(connections) == ["default", "archive"]
        main, archive = connections["default"], connections["archive"]
        assert node_name(main) != node_name(archive)
        # The test mode of the suite applies to both: test names on both nodes.
        assert archive.index_names == [
            f"test_djangoes_m_catalogue_{tag}{connections.test_suffix}",
            f"test_djangoes_m_ledger_{tag}{connections.test_suffix}",
        ]
        archive.create_index("ledger")
        assert archive.client.indices.exists(index=archive.index_names[1])
        assert not main.client.indices.exists(index=archive.index_names[1])
    assert list(connections) == ["default"]
