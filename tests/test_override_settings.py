"""override_settings(ES_SERVERS=..., ES_INDICES=...) takes effect at once, and is undone."""

from __future__ import annotations

import uuid
from typing import ClassVar

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from elastic_transport import Transport
from elasticsearch.dsl import connections as dsl_connections

from djangoes import ConnectionDoesNotExist, LiveIndexWriteError, connection, connections
from djangoes.signals import connections_reset
from tests.nodes import second_url
from tests.settings import ES_URL


def test_es_servers_override_replaces_the_backends():
    before = connections["default"]
    with override_settings(
        ES_SERVERS={"default": {"HOSTS": [ES_URL]}, "other": {"HOSTS": [second_url()]}}
    ):
        assert list(connections) == ["default", "other"]
        during = connections["default"]
        assert during is not before
        assert during.index_names == []
        assert connection.index_names == []  # the proxy follows too
        assert connections["other"].server["HOSTS"] == [second_url()]
        assert connections["other"].client.cluster.health()["status"] in ("green", "yellow")
    assert list(connections) == ["default"]
    after = connections["default"]
    assert after is not during
    assert after.index_names == before.index_names
    with pytest.raises(ConnectionDoesNotExist):
        connections["other"]


def test_es_indices_override_changes_names_at_once():
    suffix = connections.test_suffix
    key = "products"
    original = connections["default"].get_index(key)["NAME"]
    indices = {
        "products": {"NAME": "override_products"},
        "articles": {"NAME": "override_articles", "ALIASES": ["override_read"]},
    }
    with override_settings(ES_INDICES=indices):
        assert connections["default"].index_names == [
            f"test_override_products{suffix}",
            f"test_override_articles{suffix}",
        ]
        assert connections["default"].indices == [
            f"test_override_products{suffix}",
            f"test_override_read{suffix}",
        ]
        assert connections.indices["articles"]["ALIASES"] == ["override_read"]
    assert connections["default"].get_index(key)["NAME"] == original


def test_the_decorator_form_works_on_a_function():
    @override_settings(ES_SERVERS={"default": {"HOSTS": [ES_URL], "INDICES": []}})
    def inner():
        return connections["default"].indices

    assert inner() == []
    assert connections["default"].indices != []


def test_an_override_resets_clients_and_says_so():
    resets = []

    def record(handler, **kwargs):
        resets.append(handler)

    client = connections["default"].client
    connections_reset.connect(record)
    try:
        with override_settings(ES_SERVERS={"default": {"HOSTS": [ES_URL]}}):
            assert connections["default"].client is not client
        assert connections["default"].client is not client
    finally:
        connections_reset.disconnect(record)
    assert resets == [connections, connections]  # entering and leaving


def test_an_invalid_override_raises_and_leaving_it_restores_the_settings():
    with override_settings(ES_SERVERS={"main": {}}):
        with pytest.raises(ImproperlyConfigured, match="You must define a 'default'"):
            connections["default"]
        # Another change while the settings are invalid does not raise while resetting.
        with (
            override_settings(ES_INDICES={}),
            pytest.raises(ImproperlyConfigured, match="You must define a 'default'"),
        ):
            connections["default"]
    # Leaving the override re-reads the valid settings; nothing raised on the way out.
    assert connections["default"].count()["count"] >= 0


def test_test_mode_survives_an_override():
    tag = uuid.uuid4().hex[:6]
    assert connections.test_mode
    with override_settings(ES_INDICES={"products": {"NAME": f"p_{tag}"}, "articles": {}}):
        assert connections.test_mode
        assert connections["default"].index_names[0].startswith(f"test_p_{tag}")
    assert connections.test_mode


def test_unrelated_settings_do_not_reset_connections():
    backend = connections["default"]
    with override_settings(DEBUG=True, ES_SOMETHING_ELSE=1):
        assert connections["default"] is backend


# -- which overrides keep the clients -------------------------------------------------------


class RecordingTransport(Transport):
    """A transport that records its closing (``PARAMS['transport_class']``)."""

    closed: ClassVar[list[Transport]] = []

    def close(self) -> None:
        type(self).closed.append(self)
        super().close()


def recorded(**server):
    return {
        "default": {
            "HOSTS": [ES_URL],
            "PARAMS": {"transport_class": RecordingTransport, "request_timeout": 30},
            "INDICES": ["products", "articles"],
            **server,
        }
    }


def test_an_es_indices_override_keeps_the_client_and_its_pool():
    tag = uuid.uuid4().hex[:6]
    backend = connections["default"]
    client = backend.client
    with override_settings(ES_INDICES={"products": {"NAME": f"p_{tag}"}, "articles": {}}):
        during = connections["default"]
        assert during is not backend  # the names changed
        assert during.index_names[0].startswith(f"test_p_{tag}")
        assert during.client is client
        assert dsl_connections.get_connection("default").transport is client.transport
        assert during.client.cluster.health()["status"] in ("green", "yellow")
    assert connections["default"].client is client
    assert connections["default"].index_names == backend.index_names


def test_an_es_servers_override_that_keeps_the_server_keeps_the_client():
    with override_settings(ES_SERVERS=recorded()):
        client = connections["default"].client
        settings = recorded()
        settings["default"]["INDICES"] = ["products"]  # what it serves is no client setting
        with override_settings(ES_SERVERS=settings):
            assert connections["default"].client is client
            assert connections["default"].index_names == [
                connections.get_index_settings("products")["NAME"]
            ]
        assert connections["default"].client is client
        assert client.transport not in RecordingTransport.closed


@pytest.mark.parametrize(
    "changed",
    [
        {"HOSTS": [f"{ES_URL}/"]},
        {"PARAMS": {"transport_class": RecordingTransport, "request_timeout": 31}},
    ],
    ids=["HOSTS", "PARAMS"],
)
def test_a_hosts_or_params_change_builds_a_new_client_and_closes_the_old_one(changed):
    with override_settings(ES_SERVERS=recorded()):
        old = connections["default"].client
        with override_settings(ES_SERVERS=recorded(**changed)):
            new = connections["default"].client
            assert new is not old
            assert old.transport in RecordingTransport.closed
            assert new.transport not in RecordingTransport.closed
            assert new.cluster.health()["status"] in ("green", "yellow")
        assert new.transport in RecordingTransport.closed
        assert connections["default"].client is not new


def test_the_kept_client_guards_the_live_names_of_the_override():
    tag = uuid.uuid4().hex[:6]
    live = f"live_{tag}"
    client = connections["default"].client
    assert connections.test_mode
    with override_settings(ES_INDICES={"products": {"NAME": live}, "articles": {}}):
        assert connections["default"].client is client
        assert live in client.transport.write_guard.live_names
        with pytest.raises(LiveIndexWriteError, match=live):
            client.index(index=live, document={"title": "kept"})
        with pytest.raises(LiveIndexWriteError, match=live):
            dsl_connections.get_connection("default").index(index=live, document={})
        # The test name of the override is the guard's test index: writes to it pass.
        test_name = connections["default"].index_names[0]
        assert test_name in client.transport.write_guard.test_names
        client.indices.create(index=test_name)
        client.indices.delete(index=test_name)
    assert not client.indices.exists(index=live)
