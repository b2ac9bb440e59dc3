"""The Elasticsearch backend against the real node: index names, shortcuts, credentials."""

from __future__ import annotations

import base64
import logging
import uuid

import elasticsearch
import pytest
from django.core.exceptions import ImproperlyConfigured

from djangoes import ConnectionHandler
from djangoes.backends.base import BaseBackend, redact_host
from djangoes.backends.elasticsearch import DjangoesElasticsearch, ElasticsearchBackend
from tests.conftest import node_version
from tests.nodes import secure_node
from tests.settings import ES_URL

ANALYSIS = {
    "analyzer": {
        "folded": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase"]},
    }
}


@pytest.fixture
def names():
    """Unique live names for this test; every index they start is deleted afterwards."""
    tag = uuid.uuid4().hex[:8]
    yield {
        "books": f"djangoes_b_books_{tag}",
        "books_read": f"djangoes_b_books_read_{tag}",
        "notes": f"djangoes_b_notes_{tag}",
    }
    client = elasticsearch.Elasticsearch(ES_URL)
    client.indices.delete(index=f"*_{tag}", ignore_unavailable=True, allow_no_indices=True)
    client.close()


@pytest.fixture
def connections(names):
    handler = ConnectionHandler(
        servers={
            "default": {"HOSTS": [ES_URL], "INDICES": ["books", "notes"]},
            "books_only": {"HOSTS": [ES_URL], "INDICES": ["books"]},
            "nothing": {"HOSTS": [ES_URL]},
        },
        indices={
            "books": {
                "NAME": names["books"],
                "ALIASES": [names["books_read"]],
                "SETTINGS": {"number_of_shards": 1, "number_of_replicas": 0, "analysis": ANALYSIS},
            },
            "notes": {"NAME": names["notes"]},
        },
    )
    yield handler
    handler.close_all()


@pytest.fixture
def books(connections):
    """The 'books_only' backend, its one index created with a few documents."""
    backend = connections["books_only"]
    backend.create_index("books")
    backend.bulk(
        operations=[
            {"index": {"_id": "1"}},
            {"title": "Dune", "year": 1965},
            {"index": {"_id": "2"}},
            {"title": "Dune Messiah", "year": 1969},
            {"index": {"_id": "3"}},
            {"title": "Emma", "year": 1815},
        ],
        refresh=True,
    )
    return backend


def test_backend_attributes(connections, names):
    backend = connections["default"]
    assert isinstance(backend, ElasticsearchBackend)
    assert isinstance(backend, BaseBackend)
    assert backend.alias == "default"
    assert backend.server["HOSTS"] == [ES_URL]
    assert list(backend.server_indices) == ["books", "notes"]
    assert backend.server_indices["books"]["NAME"] == names["books"]
    assert isinstance(backend.client, elasticsearch.Elasticsearch)
    assert backend.client is backend.client  # one client per backend, built on first use


def test_indices_are_aliases_where_set_else_names(connections, names):
    backend = connections["default"]
    assert backend.index_names == [names["books"], names["notes"]]
    assert backend.alias_names == [names["books_read"]]
    assert backend.indices == [names["books_read"], names["notes"]]
    assert connections["nothing"].indices == []


def test_get_indices_with_settings_is_the_creation_body(connections, names):
    bodies = connections["default"].get_indices_with_settings()
    assert bodies == {
        names["books"]: {
            "settings": {"number_of_shards": 1, "number_of_replicas": 0, "analysis": ANALYSIS},
            "aliases": {names["books_read"]: {}},
        },
        names["notes"]: {},
    }
    # A copy: changing it does not change the settings.
    bodies[names["books"]]["settings"]["number_of_shards"] = 9
    assert connections["default"].get_index("books")["SETTINGS"]["number_of_shards"] == 1


def test_create_index_applies_settings_and_aliases(connections, names):
    backend = connections["default"]
    assert backend.create_index("books") == names["books"]
    client = backend.client
    settings = client.indices.get_settings(index=names["books"])[names["books"]]["settings"]
    assert settings["index"]["number_of_shards"] == "1"
    assert settings["index"]["analysis"]["analyzer"]["folded"]["tokenizer"] == "standard"
    assert list(client.indices.get_alias(index=names["books"])[names["books"]]["aliases"]) == [
        names["books_read"]
    ]
    tokens = client.indices.analyze(index=names["books"], analyzer="folded", text="Big DUNE")
    assert [token["token"] for token in tokens["tokens"]] == ["big", "dune"]

    with pytest.raises(elasticsearch.BadRequestError):
        backend.create_index("books")  # exists
    backend.create_index("books", replace=True)
    assert backend.delete_index("books") == [names["books"]]
    assert backend.delete_index("books") == []
    assert not client.indices.exists(index=names["books"])


def test_search_and_count_default_to_the_connection_indices(books, names):
    hits = books.search(query={"match": {"title": "dune"}})["hits"]["hits"]
    assert sorted(hit["_id"] for hit in hits) == ["1", "2"]
    assert {hit["_index"] for hit in hits} == {names["books"]}
    assert books.count()["count"] == 3
    assert books.count(query={"range": {"year": {"lt": 1900}}})["count"] == 1


def test_search_with_several_indices_spans_them_all(connections, books, names):
    backend = connections["default"]
    backend.create_index("notes")
    backend.index(index=names["notes"], id="n1", document={"title": "dune notes"}, refresh=True)
    hits = backend.search(query={"match": {"title": "dune"}})["hits"]["hits"]
    assert {hit["_index"] for hit in hits} == {names["books"], names["notes"]}
    # An explicit index= wins over the default.
    hits = backend.search(index=names["notes"], query={"match_all": {}})["hits"]["hits"]
    assert [hit["_id"] for hit in hits] == ["n1"]


def test_single_document_shortcuts_use_the_one_index(books, names):
    books.index(id="4", document={"title": "Persuasion", "year": 1817}, refresh=True)
    assert books.get(id="4")["_source"]["title"] == "Persuasion"
    assert books.get(id="4")["_index"] == names["books"]
    assert books.exists(id="4")
    books.update(id="4", doc={"year": 1818}, refresh=True)
    assert books.get(id="4")["_source"]["year"] == 1818
    docs = books.mget(ids=["1", "4", "404"])["docs"]
    assert [doc["found"] for doc in docs] == [True, True, False]
    assert books.delete(id="4", refresh=True)["result"] == "deleted"
    assert not books.exists(id="4")
    with pytest.raises(elasticsearch.NotFoundError):
        books.get(id="4")


def test_bulk_and_msearch(books, names):
    result = books.bulk(
        operations=[
            {"delete": {"_id": "3"}},
            {"create": {"_id": "5"}},
            {"title": "Children of Dune"},
        ],
        refresh=True,
    )
    assert not result["errors"]
    assert [item[next(iter(item))]["_index"] for item in result["items"]] == [names["books"]] * 2
    responses = books.msearch(
        searches=[{}, {"query": {"match": {"title": "dune"}}}, {}, {"query": {"match_all": {}}}]
    )["responses"]
    assert responses[0]["hits"]["total"]["value"] == 3
    assert responses[1]["hits"]["total"]["value"] == 3
    books.refresh()


def test_shortcuts_without_a_single_default_say_why(connections, names):
    with pytest.raises(
        TypeError,
        match=r"^get\(\) needs index=: the connection 'default' serves 2 indices \("
        + f"\\['{names['books']}', '{names['notes']}'\\]\\), so there is no single default.$",
    ):
        connections["default"].get(id="1")
    with pytest.raises(
        TypeError,
        match=r"^The connection 'nothing' serves no indices \(its INDICES setting is empty\), "
        r"so there is no default: pass index=\.$",
    ):
        connections["nothing"].search(query={"match_all": {}})
    with pytest.raises(TypeError, match="serves 0 indices"):
        connections["nothing"].index(document={})


def test_a_connection_without_indices_still_searches_what_it_is_told(connections, books, names):
    found = connections["nothing"].search(index=names["books"], query={"match_all": {}})
    assert found["hits"]["total"]["value"] == 3
    responses = connections["nothing"].msearch(
        searches=[{"index": names["books"]}, {"query": {"match": {"title": "emma"}}}]
    )["responses"]
    assert responses[0]["hits"]["total"]["value"] == 1


def test_close_drops_the_client_and_the_next_use_reconnects(books):
    first = books.client
    books.close()
    assert books.client is not first
    assert books.count()["count"] == 3


def test_client_params_pass_through(names):
    handler = ConnectionHandler(
        servers={
            "default": {
                "HOSTS": [ES_URL],
                "PARAMS": {
                    "request_timeout": 7,
                    "max_retries": 1,
                    "retry_on_timeout": True,
                    "headers": {"x-opaque-id": "djangoes-params"},
                },
            }
        },
        indices={},
    )
    client = handler["default"].client
    assert isinstance(client, DjangoesElasticsearch)
    # The node echoes the X-Opaque-Id header the PARAMS gave the client.
    response = client.cluster.health()
    assert response.meta.headers.get("x-opaque-id") == "djangoes-params"
    assert handler["default"].server_version() == node_version(ES_URL)


# -- credentials -----------------------------------------------------------------------------


def test_redact_host_removes_user_and_password():
    assert (
        redact_host("https://elastic:pw@es.example:9243/prefix") == "https://es.example:9243/prefix"
    )
    assert redact_host("http://127.0.0.1:9200") == "http://127.0.0.1:9200"
    assert redact_host({"host": "h", "port": 1, "scheme": "https"}) == "https://h:1"


def secured(url: str, **server) -> ConnectionHandler:
    return ConnectionHandler(servers={"default": {"HOSTS": [url], **server}}, indices={})


def assert_no_secret(text: str, password: str) -> None:
    encoded = base64.b64encode(f"elastic:{password}".encode()).decode()
    assert password not in text
    assert encoded not in text


@pytest.mark.secured
def test_basic_auth_reaches_a_secured_node():
    url, password = secure_node()
    backend = secured(url, PARAMS={"basic_auth": ("elastic", password)})["default"]
    assert backend.client.cluster.health()["status"] in ("green", "yellow")
    whoami = backend.client.security.authenticate()
    assert whoami["username"] == "elastic"
    for text in (repr(backend), str(backend), repr(backend.client)):
        assert_no_secret(text, password)
    assert repr(backend) == f"<ElasticsearchBackend alias='default' hosts=['{url}']>"


@pytest.mark.secured
def test_credentials_in_the_url_work_and_are_not_shown():
    url, password = secure_node()
    with_userinfo = url.replace("://", f"://elastic:{password}@")
    backend = secured(with_userinfo)["default"]
    assert backend.client.security.authenticate()["username"] == "elastic"
    assert repr(backend) == f"<ElasticsearchBackend alias='default' hosts=['{url}']>"
    assert_no_secret(str(backend), password)


@pytest.mark.secured
def test_no_credentials_are_refused_by_the_secured_node():
    url, _password = secure_node()
    with pytest.raises(elasticsearch.AuthenticationException):
        secured(url)["default"].client.cluster.health()


@pytest.mark.secured
def test_wrong_credentials_fail_without_leaking_the_password(caplog):
    url, password = secure_node()
    wrong = f"wrong-{password}-{uuid.uuid4().hex[:6]}"
    backend = secured(url, PARAMS={"basic_auth": ("elastic", wrong), "max_retries": 0})["default"]
    with (
        caplog.at_level(logging.DEBUG),
        pytest.raises(elasticsearch.AuthenticationException) as raised,
    ):
        backend.client.cluster.health()
    assert raised.value.meta.status == 401
    assert "unable to authenticate user [elastic]" in str(raised.value)
    for text in (str(raised.value), repr(raised.value), repr(backend), caplog.text):
        assert wrong not in text
        assert_no_secret(text, wrong)
    assert caplog.records  # the request was logged, without credentials


def test_a_connection_error_does_not_show_credentials():
    secret = f"pw-{uuid.uuid4().hex}"
    backend = secured(
        f"http://elastic:{secret}@127.0.0.1:1",
        PARAMS={"request_timeout": 2, "max_retries": 0},
    )["default"]
    with pytest.raises(elasticsearch.ConnectionError) as raised:
        backend.client.cluster.health()
    assert secret not in str(raised.value)
    assert secret not in repr(raised.value)
    assert secret not in repr(backend)


def test_invalid_client_params_errors_mask_credentials():
    secret = f"pw-{uuid.uuid4().hex}"
    handler = secured(
        "http://127.0.0.1:9",
        PARAMS={"basic_auth": ("elastic", secret), "node_class": f"no-such-{secret}"},
    )
    with pytest.raises(ImproperlyConfigured) as raised:
        handler["default"]
    assert str(raised.value).startswith(
        "elasticsearch.Elasticsearch refuses ES_SERVERS['default']['PARAMS']['node_class'] "
        "('no-such-***'): ValueError: Unknown option for node_class: 'no-such-***'."
    )
    assert secret not in str(raised.value)
    assert raised.value.__cause__ is None
    assert [str(error) for error in handler.configuration_errors()] == [str(raised.value)]


@pytest.mark.parametrize(
    ("server", "secrets"),
    [
        ({"HOSTS": ["https://u:url-secret@h:1"]}, ["url-secret"]),
        ({"PARAMS": {"api_key": "key-secret"}}, ["key-secret"]),
        ({"PARAMS": {"bearer_auth": "token-secret"}}, ["token-secret"]),
        (
            {"PARAMS": {"basic_auth": "dXNlcjpwYXNzLXNlY3JldA=="}},  # base64 of user:pass-secret
            ["dXNlcjpwYXNzLXNlY3JldA==", "user:pass-secret", "pass-secret"],
        ),
        ({"USER": "u", "PASSWORD": "pass-secret"}, ["pass-secret"]),
        ({"API_KEY": ("key-id", "key-secret")}, ["key-secret"]),
    ],
)
def test_redact_masks_every_configured_secret(server, secrets):
    backend = secured("http://h:1", **server)["default"]
    for secret in secrets:
        assert backend.redact(f"before {secret} after u") == "before *** after u"


# -- a pluggable ENGINE ----------------------------------------------------------------------


class PlainBackend(BaseBackend):
    """The smallest backend: a plain client, no shortcuts."""

    @property
    def client(self):
        return elasticsearch.Elasticsearch(self.server["HOSTS"])


def test_engine_is_pluggable(names):
    handler = ConnectionHandler(
        servers={
            "default": {
                "ENGINE": "tests.test_backends.PlainBackend",
                "HOSTS": [ES_URL],
                "INDICES": ["books"],
            }
        },
        indices={"books": {"NAME": names["books"], "ALIASES": [names["books_read"]]}},
    )
    backend = handler["default"]
    assert type(backend) is PlainBackend
    assert backend.indices == [names["books_read"]]
    assert backend.get_indices_with_settings() == {
        names["books"]: {"aliases": {names["books_read"]: {}}}
    }
    assert backend.client.cluster.health()["status"] in ("green", "yellow")
    assert backend.create_index("books") == names["books"]  # the base class's default
    assert backend.concrete_indices(names["books_read"]) == [names["books"]]
    assert backend.delete_index("books") == [names["books"]]
    handler.close_all()  # the base close() is a no-op
