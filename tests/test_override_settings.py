"""override_settings(ES_SERVERS=..., ES_INDICES=...) takes effect at once, and is undone."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from djangoes import ConnectionDoesNotExist, connection, connections
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
