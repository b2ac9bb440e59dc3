"""The suite talks to a real Elasticsearch node."""

import uuid

from djangoes import connection, connections
from tests.conftest import node_version
from tests.settings import ES_URL


def test_node_indexes_and_searches_a_document():
    backend = connections["default"]
    marker = uuid.uuid4().hex
    name = backend.index_names[0]
    backend.client.index(index=name, id=marker, document={"title": f"probe {marker}"})
    backend.client.indices.refresh(index=name)

    hits = backend.search(query={"match": {"title": marker}})["hits"]["hits"]

    assert [hit["_id"] for hit in hits] == [marker]
    assert hits[0]["_index"] == name


def test_server_version_matches_the_node_answering_http():
    version = connection.server_version()
    assert version == node_version(ES_URL)
    assert int(version.split(".")[0]) >= 8
