"""ES_SERVERS and ES_INDICES: defaults, validation errors, test names."""

from __future__ import annotations

import re
import ssl

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django.utils.connection import ConnectionDoesNotExist as DjangoConnectionDoesNotExist

from djangoes import (
    DEFAULT_ES_ALIAS,
    ConnectionDoesNotExist,
    ConnectionHandler,
    IndexDoesNotExist,
    load_backend,
)
from djangoes.backends.elasticsearch import ElasticsearchBackend


def handler(servers=None, indices=None) -> ConnectionHandler:
    return ConnectionHandler(
        servers={"default": {}} if servers is None else servers, indices=indices or {}
    )


def raises(exc, message):
    return pytest.raises(exc, match=f"^{re.escape(message)}$")


# -- defaults --------------------------------------------------------------------------------


def test_connection_is_a_proxy_to_the_default_alias():
    from djangoes import connection, connections

    assert connection == connections[DEFAULT_ES_ALIAS]
    assert connection.alias == DEFAULT_ES_ALIAS == "default"
    assert connection.index_names == connections["default"].index_names


@override_settings()
def test_without_any_setting_default_talks_to_localhost_9200():
    from django.conf import settings

    del settings.ES_SERVERS
    del settings.ES_INDICES
    connections = ConnectionHandler()
    assert list(connections) == ["default"]
    assert connections.settings["default"] == {
        "ENGINE": "djangoes.backends.elasticsearch.ElasticsearchBackend",
        "HOSTS": ["http://127.0.0.1:9200"],
        "PARAMS": {},
        "INDICES": [],
        "TEST": {"INDICES": []},
    }
    assert connections.indices == {}
    backend = connections["default"]
    assert isinstance(backend, ElasticsearchBackend)
    assert [node.base_url for node in backend.client.transport.node_pool.all()] == [
        "http://127.0.0.1:9200"
    ]


def test_an_empty_es_servers_means_one_default_server():
    assert list(handler(servers={}).settings) == ["default"]


def test_settings_are_read_lazily_from_django_settings():
    with override_settings(ES_SERVERS={"default": {"HOSTS": ["http://h1:1"]}}, ES_INDICES={}):
        connections = ConnectionHandler()
    # Read on first use, not at construction: the override has ended by now.
    assert connections.settings["default"]["HOSTS"] != ["http://h1:1"]


def test_server_defaults_fill_only_missing_keys():
    servers = {
        "default": {"HOSTS": "http://h:1", "INDICES": ["a"], "PARAMS": {"request_timeout": 3}},
        "other": {"TEST": {}},
    }
    settings = handler(servers, {"a": {}}).settings
    assert settings["default"] == {
        "ENGINE": "djangoes.backends.elasticsearch.ElasticsearchBackend",
        "HOSTS": ["http://h:1"],  # a single string becomes a list
        "PARAMS": {"request_timeout": 3},
        "INDICES": ["a"],
        "TEST": {"INDICES": ["a"]},  # TEST INDICES default to INDICES
    }
    assert settings["other"]["TEST"] == {"INDICES": []}


def test_objects_in_params_are_passed_as_they_are():
    context = ssl.create_default_context()
    server = {"HOSTS": ["https://h:1"], "PARAMS": {"ssl_context": context}}
    connections = handler({"default": server})
    assert connections["default"].server["PARAMS"]["ssl_context"] is context
    node = connections["default"].client.transport.node_pool.all()[0]
    assert node.config.ssl_context is context


def test_settings_are_copied_not_mutated():
    servers = {"default": {}}
    indices = {"a": {}}
    connections = handler(servers, indices)
    assert connections.settings["default"]["HOSTS"]
    assert connections.indices["a"]["NAME"] == "a"
    assert servers == {"default": {}}
    assert indices == {"a": {}}


def test_index_defaults():
    indices = handler(indices={"products": {}}).indices
    assert indices["products"] == {
        "NAME": "products",
        "ALIASES": [],
        "SETTINGS": None,
        "TEST": {"NAME": "test_products", "ALIASES": [], "SETTINGS": None},
    }


def test_index_test_names_take_the_test_prefix():
    settings = {"number_of_shards": 1}
    index = {"NAME": "shop_products", "ALIASES": ["read", "write"], "SETTINGS": settings}
    indices = handler(indices={"products": index}).indices
    assert indices["products"]["TEST"] == {
        "NAME": "test_shop_products",
        "ALIASES": ["test_read", "test_write"],
        "SETTINGS": settings,
    }


def test_a_single_alias_string_becomes_a_list():
    indices = handler(indices={"a": {"ALIASES": "a_read"}}).indices
    assert indices["a"]["ALIASES"] == ["a_read"]
    assert indices["a"]["TEST"]["ALIASES"] == ["test_a_read"]


def test_test_overrides_are_kept():
    test = {"NAME": "ci_products", "ALIASES": ["ci_read"], "SETTINGS": {"number_of_shards": 2}}
    index = {"NAME": "products", "ALIASES": ["read"], "SETTINGS": {"number_of_shards": 5}}
    indices = handler(indices={"products": {**index, "TEST": test}}).indices
    assert indices["products"]["TEST"] == test


def test_ensure_defaults_methods_are_idempotent():
    connections = handler({"default": {"INDICES": ["a"]}}, {"a": {"ALIASES": ["r"]}})
    before = (connections.settings["default"].copy(), connections.indices["a"].copy())
    connections.ensure_server_defaults("default")
    connections.ensure_index_defaults("a")
    assert (connections.settings["default"], connections.indices["a"]) == before


def test_prepare_test_settings_switch_names_and_indices():
    servers = {"default": {"INDICES": ["a", "b"], "TEST": {"INDICES": ["a"]}}}
    indices = {"a": {"NAME": "live_a", "ALIASES": ["ra"], "SETTINGS": {"x": 1}}, "b": {}}
    connections = handler(servers, indices)
    assert connections.prepare_server_test_settings("default")["INDICES"] == ["a"]
    assert connections.settings["default"]["INDICES"] == ["a", "b"]  # live left alone
    test_index = connections.prepare_index_test_settings("a")
    assert (test_index["NAME"], test_index["ALIASES"]) == ("test_live_a", ["test_ra"])
    assert test_index["SETTINGS"] == {"x": 1}
    assert connections.indices["a"]["NAME"] == "live_a"


def test_get_server_indices_by_settings_or_alias():
    servers = {"default": {"INDICES": ["a"]}, "other": {"INDICES": ["b"]}}
    connections = handler(servers, {"a": {}, "b": {"NAME": "bee"}})
    assert list(connections.get_server_indices("default")) == ["a"]
    assert connections.get_server_indices(connections.settings["other"])["b"]["NAME"] == "bee"


def test_iteration_and_all_follow_es_servers():
    connections = handler({"default": {}, "second": {}})
    assert list(connections) == ["default", "second"]
    assert [backend.alias for backend in connections.all()] == ["default", "second"]
    assert connections.all(initialized_only=True) == connections.all()


def test_a_backend_is_built_once_per_alias():
    connections = handler()
    assert connections["default"] is connections["default"]
    connections.reset()
    assert connections.all(initialized_only=True) == []


def test_load_backend_imports_a_dotted_path():
    path = "djangoes.backends.elasticsearch.ElasticsearchBackend"
    assert load_backend(path) is ElasticsearchBackend


def test_module_load_backend_names_the_path_and_the_import_error():
    with pytest.raises(ImproperlyConfigured) as raised:
        load_backend("no.such.Backend")
    message = str(raised.value)
    assert message.startswith("'no.such.Backend' isn't an available ElasticSearch backend.")
    assert message.endswith("Error was: No module named 'no'")


def test_handler_load_backend_prepares_and_returns_a_new_backend_instance():
    connections = handler({"default": {"INDICES": ["a"]}}, {"a": {"NAME": "live_a"}})
    backend = connections.load_backend("default")
    assert isinstance(backend, ElasticsearchBackend)
    assert backend.alias == "default"
    assert backend.server["HOSTS"] == ["http://127.0.0.1:9200"]  # defaults ensured
    assert backend.index_names == ["live_a"]
    assert connections.load_backend("default") is not backend  # not the cached one
    assert connections["default"] is connections["default"]
    connections.use_test_settings(True)
    assert connections.load_backend("default").index_names == ["test_live_a"]


def test_servers_are_the_configured_servers_with_defaults():
    connections = handler({"default": {"INDICES": ["a"]}, "other": {}}, {"a": {}})
    assert list(connections.servers) == ["default", "other"]
    assert connections.servers["other"]["ENGINE"] == (
        "djangoes.backends.elasticsearch.ElasticsearchBackend"
    )
    assert connections.servers["default"]["TEST"] == {"INDICES": ["a"]}
    assert connections.servers is connections.settings


def test_names_used_twice_across_indices_are_refused():
    indices = {
        "a": {"NAME": "a1", "ALIASES": ["shared", "a_read"]},
        "b": {"NAME": "b1", "ALIASES": ["b_read", "shared"]},
    }
    with raises(
        ImproperlyConfigured,
        "ES_INDICES['b']['ALIASES'][1] is 'shared', which ES_INDICES['a']['ALIASES'][0] "
        "already uses: index and alias names share one namespace on a server, so each must be "
        "used once. Give it another name; to search several indices at once, search them by "
        "their names instead of a shared alias.",
    ):
        handler({"default": {"INDICES": ["a", "b"]}}, indices)["default"]


def test_names_are_listed_in_configured_order():
    indices = {"a": {"NAME": "a1", "ALIASES": ["a_read", "a_all"]}, "b": {"NAME": "b1"}}
    backend = handler({"default": {"INDICES": ["a", "b"]}}, indices)["default"]
    assert backend.alias_names == ["a_read", "a_all"]
    assert backend.indices == ["a_read", "a_all", "b1"]
    assert backend.index_names == ["a1", "b1"]


# -- errors ----------------------------------------------------------------------------------


def test_servers_without_default_are_refused():
    with raises(ImproperlyConfigured, "You must define a 'default' ElasticSearch server"):
        handler({"other": {}}).settings  # noqa: B018
    with raises(ImproperlyConfigured, "You must define a 'default' ElasticSearch server"):
        handler({"other": {}}).servers  # noqa: B018


def test_the_missing_default_is_reported_on_first_use():
    with (
        override_settings(ES_SERVERS={"main": {}}),
        raises(ImproperlyConfigured, "You must define a 'default' ElasticSearch server"),
    ):
        ConnectionHandler()["main"]


@pytest.mark.parametrize(
    ("servers", "message"),
    [
        (
            ["default"],
            "ES_SERVERS must be a dict of server aliases to settings, not ['default']. "
            "Use e.g. {'default': {'HOSTS': ['http://127.0.0.1:9200']}}.",
        ),
        (
            {"default": "http://h:1"},
            "ES_SERVERS['default'] must be a dict of settings, not 'http://h:1'. "
            "Use e.g. {'HOSTS': [...]}.",
        ),
        (
            {"default": {"HOSTS": 9200}},
            "ES_SERVERS['default']['HOSTS'] must be a list of node URLs, not 9200. "
            "Use e.g. ['http://127.0.0.1:9200'].",
        ),
        (
            {"default": {}, "b": {"INDICES": "a"}},
            "ES_SERVERS['b']['INDICES'] must be a list, not 'a'. "
            "List keys of ES_INDICES, e.g. ['products'].",
        ),
        (
            {"default": {"PARAMS": [("request_timeout", 1)]}},
            "ES_SERVERS['default']['PARAMS'] must be a dict of client arguments, not "
            "[('request_timeout', 1)]. Use e.g. {'request_timeout': 10}.",
        ),
        (
            {"default": {"ENGINE": ElasticsearchBackend}},
            "ES_SERVERS['default']['ENGINE'] must be the dotted path of a backend class, not "
            "<class 'djangoes.backends.elasticsearch.ElasticsearchBackend'>. Leave it unset for "
            "'djangoes.backends.elasticsearch.ElasticsearchBackend'.",
        ),
        (
            {"default": {"TEST": []}},
            "ES_SERVERS['default']['TEST'] must be a dict, not []. Use e.g. {'INDICES': [...]}.",
        ),
        (
            {"default": {"TEST": {"INDICES": "a"}}},
            "ES_SERVERS['default']['TEST']['INDICES'] must be a list, not 'a'. "
            "List keys of ES_INDICES, e.g. ['products'].",
        ),
    ],
)
def test_bad_server_settings_name_the_key(servers, message):
    with raises(ImproperlyConfigured, message):
        handler(servers).settings  # noqa: B018


@pytest.mark.parametrize(
    ("indices", "message"),
    [
        (["a"], "ES_INDICES must be a dict of index keys to settings, not ['a']. "
                "Use e.g. {'products': {'NAME': 'shop_products'}}."),
        ({"a": "a"}, "ES_INDICES['a'] must be a dict of settings, not 'a'. "
                     "Use {} for the defaults."),
        ({"a": {"NAME": ""}}, "ES_INDICES['a']['NAME'] must be a non-empty string, not ''. "
                              "Give the index name, e.g. 'shop_products', or leave NAME unset "
                              "for the default."),
        ({"a": {"ALIASES": {"r": {}}}}, "ES_INDICES['a']['ALIASES'] must be a list of names, "
                                        "not {'r': {}}. Use e.g. ['products_read'], or [] for "
                                        "none."),
        ({"a": {"SETTINGS": [1]}}, "ES_INDICES['a']['SETTINGS'] must be a dict of index "
                                   "settings or None, not [1]. Use e.g. "
                                   "{'number_of_shards': 1}."),
        ({"a": {"TEST": "t_a"}}, "ES_INDICES['a']['TEST'] must be a dict, not 't_a'. Use e.g. "
                                 "{'NAME': 'test_a'}, or leave TEST unset for the 'test_' "
                                 "names."),
        ({"a": {"TEST": {"NAME": 3}}}, "ES_INDICES['a']['TEST']['NAME'] must be a non-empty "
                                       "string, not 3. Give the index name, e.g. "
                                       "'test_shop_products', or leave NAME unset for the "
                                       "default."),
        ({"a": {"TEST": {"ALIASES": [1]}}}, "ES_INDICES['a']['TEST']['ALIASES'] must be a list "
                                            "of names, not [1]. Use e.g. ['products_read'], or "
                                            "[] for none."),
        ({"a": {"TEST": {"SETTINGS": "x"}}}, "ES_INDICES['a']['TEST']['SETTINGS'] must be a "
                                             "dict of index settings or None, not 'x'. Use "
                                             "e.g. {'number_of_shards': 1}."),
    ],
)  # fmt: skip
def test_bad_index_settings_name_the_key(indices, message):
    connections = ConnectionHandler(servers={"default": {}}, indices=indices)
    with raises(ImproperlyConfigured, message):
        connections.indices  # noqa: B018


def test_unknown_alias_is_connection_does_not_exist():
    connections = handler({"default": {}, "logs": {}})
    with raises(
        ConnectionDoesNotExist, "The connection 'nope' doesn't exist: ES_SERVERS defines "
        "'default', 'logs'."
    ) as raised:  # fmt: skip
        connections["nope"]
    assert isinstance(raised.value, KeyError)
    assert isinstance(raised.value, DjangoConnectionDoesNotExist)
    with pytest.raises(ConnectionDoesNotExist):
        connections.prepare_server_test_settings("nope")


def test_an_alias_that_is_an_attribute_name_does_not_exist_either():
    with pytest.raises(ConnectionDoesNotExist):
        handler()["__class__"]


def test_unknown_index_key_is_index_does_not_exist():
    connections = handler(indices={"a": {}})
    message = "The index 'nope' is not configured in ES_INDICES."
    with raises(IndexDoesNotExist, message) as raised:
        connections.ensure_index_defaults("nope")
    assert isinstance(raised.value, KeyError)
    assert str(raised.value) == message  # a sentence, not KeyError's quoted repr
    with raises(IndexDoesNotExist, message):
        connections.prepare_index_test_settings("nope")


def test_a_server_listing_an_unknown_index_names_both():
    connections = handler({"default": {"INDICES": ["a", "ghost"]}}, {"a": {}})
    with raises(
        IndexDoesNotExist,
        "The index 'ghost' listed in ES_SERVERS['default']['INDICES'] is not configured in "
        "ES_INDICES. Add ES_INDICES['ghost'] or remove it from that list.",
    ):
        connections["default"]


def test_an_unknown_test_index_names_the_test_setting():
    connections = handler({"default": {"INDICES": ["a"], "TEST": {"INDICES": ["ghost"]}}})
    connections.use_test_settings(True)
    with raises(
        IndexDoesNotExist,
        "The index 'ghost' listed in ES_SERVERS['default']['TEST']['INDICES'] is not "
        "configured in ES_INDICES. Add ES_INDICES['ghost'] or remove it from that list.",
    ):
        connections["default"]


def test_an_index_not_served_by_a_backend_is_index_does_not_exist():
    backend = handler({"default": {"INDICES": ["a"]}}, {"a": {}, "b": {}})["default"]
    with raises(
        IndexDoesNotExist,
        "The index 'b' is not served by ES_SERVERS['default']: add it to its INDICES "
        "(served now: ['a']).",
    ):
        backend.get_index("b")


def test_an_engine_that_cannot_be_imported_names_the_path_and_the_error():
    connections = handler({"default": {"ENGINE": "djangoes.backends.nosuch.Backend"}})
    with raises(
        ImproperlyConfigured,
        "ES_SERVERS['default']['ENGINE'] is 'djangoes.backends.nosuch.Backend', which could "
        "not be imported: No module named 'djangoes.backends.nosuch'. Set it to the dotted path "
        "of a backend class, such as 'djangoes.backends.elasticsearch.ElasticsearchBackend'.",
    ) as raised:
        connections["default"]
    assert isinstance(raised.value.__cause__, ImportError)


def test_an_engine_missing_its_class_names_the_attribute():
    connections = handler({"default": {"ENGINE": "djangoes.backends.base.Nope"}})
    with raises(
        ImproperlyConfigured,
        "ES_SERVERS['default']['ENGINE'] is 'djangoes.backends.base.Nope', which could not be "
        'imported: Module "djangoes.backends.base" does not define a "Nope" attribute/class. '
        "Set it to the dotted path of a backend class, such as "
        "'djangoes.backends.elasticsearch.ElasticsearchBackend'.",
    ):
        connections.load_backend("default")


def test_an_engine_that_is_not_a_backend_is_refused():
    connections = handler({"default": {"ENGINE": "collections.OrderedDict"}})
    with raises(
        ImproperlyConfigured,
        "ES_SERVERS['default']['ENGINE'] is 'collections.OrderedDict', which is not a subclass "
        "of djangoes.backends.base.BaseBackend. Set it to the dotted path of a backend class, "
        "such as 'djangoes.backends.elasticsearch.ElasticsearchBackend'.",
    ):
        connections["default"]


def test_hosts_inside_params_are_refused():
    connections = handler({"default": {"PARAMS": {"hosts": ["http://h:1"]}}})
    with raises(
        ImproperlyConfigured,
        "ES_SERVERS['default']['PARAMS'] must not contain 'hosts': set "
        "ES_SERVERS['default']['HOSTS'] instead.",
    ):
        connections["default"].client  # noqa: B018


def test_unknown_client_params_name_the_server_and_the_closest_argument():
    connections = handler({"default": {"PARAMS": {"request_timout": 3}}})
    with raises(
        ImproperlyConfigured,
        "ES_SERVERS['default']['PARAMS']['request_timout'] is not an argument of "
        "elasticsearch.Elasticsearch. Did you mean 'request_timeout'? See the arguments of "
        "elasticsearch.Elasticsearch; djangoes passes PARAMS to it unchanged.",
    ):
        connections["default"]


# -- test names ------------------------------------------------------------------------------


def test_a_test_name_equal_to_the_live_name_is_refused():
    indices = {"products": {"NAME": "shop", "TEST": {"NAME": "shop"}}}
    with raises(
        ImproperlyConfigured,
        "ES_INDICES['products']['TEST']['NAME'] is 'shop', the same as the live NAME: tests "
        "would write to the live index. Give the test index another name or leave TEST NAME "
        "unset to use 'test_shop'.",
    ):
        handler(indices=indices).indices  # noqa: B018


def test_a_test_alias_among_the_live_aliases_is_refused():
    indices = {"products": {"ALIASES": ["r", "w"], "TEST": {"ALIASES": ["t", "w"]}}}
    with raises(
        ImproperlyConfigured,
        "ES_INDICES['products']['TEST']['ALIASES'] contains live alias(es) ['w']: tests would "
        "write to the live index. Use other names or leave TEST ALIASES unset to use the "
        "'test_' prefix.",
    ):
        handler(indices=indices).indices  # noqa: B018


def test_a_test_name_equal_to_another_index_live_name_is_refused():
    indices = {"a": {}, "b": {"NAME": "test_a"}}
    with raises(
        ImproperlyConfigured,
        "ES_INDICES['a']['TEST'] uses the name 'test_a', which is a live name or alias of "
        "ES_INDICES['b']: tests would write to a live index. Give the test index or alias "
        "another name.",
    ):
        handler(indices=indices).indices  # noqa: B018


def test_a_test_alias_equal_to_its_own_live_name_is_refused():
    indices = {"a": {"NAME": "test_r", "ALIASES": ["r"]}}
    with pytest.raises(ImproperlyConfigured, match=r"uses the name 'test_r'.*ES_INDICES\['a'\]"):
        handler(indices=indices).indices  # noqa: B018


def test_a_bad_index_keeps_failing_on_every_access():
    connections = handler(indices={"a": {"TEST": {"NAME": "a"}}})
    for _attempt in range(2):
        with pytest.raises(ImproperlyConfigured, match=r"\['a'\]\['TEST'\]\['NAME'\]"):
            connections.indices  # noqa: B018


def test_switching_to_test_names_validates_first():
    connections = handler(indices={"a": {"TEST": {"NAME": "a"}}})
    with pytest.raises(ImproperlyConfigured):
        connections.use_test_settings(True)
    assert connections.test_mode is False


def test_test_mode_gives_backends_the_test_names_and_suffix():
    servers = {"default": {"INDICES": ["a"]}}
    connections = handler(servers, {"a": {"NAME": "live", "ALIASES": ["read"]}})
    assert connections["default"].index_names == ["live"]
    assert connections.use_test_settings(True, suffix="_gw1") == (False, "")
    assert (connections.test_mode, connections.test_suffix) == (True, "_gw1")
    backend = connections["default"]
    assert backend.index_names == ["test_live_gw1"]
    assert backend.alias_names == ["test_read_gw1"]
    assert connections.use_test_settings(False) == (True, "_gw1")
    assert connections["default"].index_names == ["live"]
