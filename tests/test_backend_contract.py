"""A third-party backend that implements only what docs/configuration.md asks of one works
through the whole test index lifecycle: create, use, keep (keepdb), recreate, destroy."""

from __future__ import annotations

import uuid

import elasticsearch
import pytest

from djangoes import ConnectionHandler
from djangoes.backends.base import BaseBackend
from djangoes.backends.creation import TestIndexCreationError
from djangoes.test.utils import setup_djangoes, teardown_djangoes
from tests.settings import ES_URL


class DocumentedBackend(BaseBackend):
    """The contract as the docs state it: ``client``, ``close()``, ``create_index``,
    ``delete_index``; nothing else."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._client = None
        self.created: list[str] = []

    @property
    def client(self):
        if self._client is None:
            self._client = elasticsearch.Elasticsearch(self.server["HOSTS"])
        return self._client

    def close(self):
        if self._client is not None:
            self._client.close()
            self._client = None

    def create_index(self, key, *, replace=False):
        name = self.get_index(key)["NAME"]
        self.client.indices.create(index=name, **self.get_index_body(key))
        self.created.append(name)
        return name

    def delete_index(self, key):
        name = self.get_index(key)["NAME"]
        self.client.indices.delete(index=name, ignore_unavailable=True)
        return [name]


class ClientOnlyBackend(BaseBackend):
    """The least a backend can be: a client."""

    @property
    def client(self):
        return elasticsearch.Elasticsearch(self.server["HOSTS"])


SETTINGS = {"number_of_shards": 1, "number_of_replicas": 0}


@pytest.fixture
def tag():
    tag = uuid.uuid4().hex[:8]
    yield tag
    client = elasticsearch.Elasticsearch(ES_URL)
    client.indices.delete(index=f"*{tag}*", ignore_unavailable=True, allow_no_indices=True)
    client.close()


def handler_for(engine: str, tag: str, hosts: str = ES_URL) -> ConnectionHandler:
    return ConnectionHandler(
        servers={
            "default": {
                "ENGINE": f"tests.test_backend_contract.{engine}",
                "HOSTS": [hosts],
                "INDICES": ["notes"],
            }
        },
        indices={
            "notes": {"NAME": f"contract_notes_{tag}", "ALIASES": [f"contract_read_{tag}"]},
        },
    )


def exists(name: str) -> bool:
    client = elasticsearch.Elasticsearch(ES_URL)
    try:
        return bool(client.indices.exists(index=name))
    finally:
        client.close()


@pytest.mark.parametrize("engine", ["DocumentedBackend", "ClientOnlyBackend"])
def test_a_minimal_backend_goes_through_the_whole_test_lifecycle(engine, tag, capsys):
    handler = handler_for(engine, tag)
    test_name = f"test_contract_notes_{tag}_w1"
    try:
        state = setup_djangoes(suffix="_w1", handler=handler, verbosity=1)
        backend = handler["default"]
        assert type(backend).__name__ == engine
        assert backend.index_names == [test_name]
        assert exists(test_name)
        assert f"Creating test index '{test_name}'" in capsys.readouterr().err

        # The test names are in force: a test writes and reads through the backend.
        backend.client.index(index=test_name, id="1", document={"text": "a note"})
        backend.refresh()
        assert backend.client.count(index=backend.indices)["count"] == 1
        assert backend.concrete_indices(f"test_contract_read_{tag}_w1") == [test_name]

        teardown_djangoes(state, verbosity=1)
        assert not exists(test_name)
        assert handler["default"].index_names == [f"contract_notes_{tag}"]

        # keepdb: an empty index that matches its declaration is kept; one with documents
        # left by a stopped run is recreated.
        state = setup_djangoes(suffix="_w1", handler=handler, verbosity=1, keepdb=True)
        teardown_djangoes(state, verbosity=1)
        assert exists(test_name)
        state = setup_djangoes(suffix="_w1", handler=handler, verbosity=1, keepdb=True)
        err = capsys.readouterr().err
        assert f"Preserving test index '{test_name}'" in err
        assert f"Using existing test index '{test_name}'" in err
        handler["default"].client.index(index=test_name, id="2", document={}, refresh=True)
        teardown_djangoes(state, verbosity=1)
        state = setup_djangoes(suffix="_w1", handler=handler, verbosity=1, keepdb=True)
        assert "it holds 1 document of an earlier run" in capsys.readouterr().err
        state = state.__class__(state.handler, state.previous, state.created, keepdb=False)
        teardown_djangoes(state)
        assert not exists(test_name)
    finally:
        handler.close_all()


def test_a_minimal_backend_whose_node_is_down_says_what_to_do(tag):
    handler = handler_for("ClientOnlyBackend", tag, hosts="http://127.0.0.1:1")
    with pytest.raises(TestIndexCreationError, match=r"Is Elasticsearch running\?") as caught:
        setup_djangoes(suffix="_w1", handler=handler)
    assert "ES_SERVERS['default']['HOSTS']" in str(caught.value)
    handler.use_test_settings(False)
