"""While test settings are active, writes to live index names and aliases are refused."""

from __future__ import annotations

import json
import re
import uuid

import elasticsearch
import pytest
from elasticsearch import helpers

from djangoes import ConnectionHandler, LiveIndexWriteError, connections
from djangoes.backends.guard import write_targets
from tests.settings import ES_URL


@pytest.fixture
def live():
    tag = uuid.uuid4().hex[:8]
    names = {"name": f"djangoes_g_{tag}", "alias": f"djangoes_g_read_{tag}", "tag": tag}
    handler = ConnectionHandler(
        servers={"default": {"HOSTS": [ES_URL], "INDICES": ["things"]}},
        indices={"things": {"NAME": names["name"], "ALIASES": [names["alias"]]}},
    )
    handler.use_test_settings(True)
    backend = handler["default"]
    backend.create_index("things")
    names["test_name"], names["test_alias"] = backend.index_names[0], backend.alias_names[0]
    names["backend"] = backend
    names["handler"] = handler
    yield names
    handler.close_all()
    plain = elasticsearch.Elasticsearch(ES_URL)
    plain.indices.delete(index=f"*{tag}", ignore_unavailable=True, allow_no_indices=True)
    plain.close()


def refused(*names: str):
    return pytest.raises(
        LiveIndexWriteError,
        match=re.escape(f"on live index name(s) {sorted(names)} while djangoes test settings"),
    )


def live_exists(name: str) -> bool:
    plain = elasticsearch.Elasticsearch(ES_URL)
    try:
        return bool(plain.indices.exists(index=name))
    finally:
        plain.close()


def test_the_test_names_are_writable(live):
    backend = live["backend"]
    assert live["test_name"] == f"test_djangoes_g_{live['tag']}"
    backend.index(id="1", document={"title": "fine"}, refresh=True)
    backend.client.index(index=live["test_alias"], id="2", document={"t": 1}, refresh=True)
    assert backend.count()["count"] == 2


def test_a_write_to_a_live_name_is_refused_with_a_clear_message(live):
    client = live["backend"].client
    with pytest.raises(LiveIndexWriteError) as raised:
        client.index(index=live["name"], id="1", document={"title": "leak"})
    assert str(raised.value) == (
        f"Refusing 'index' on live index name(s) ['{live['name']}'] while djangoes test "
        f"settings are active. Tests must use the test names (connection.indices / "
        f"connection.index_names) instead of hard-coded live names."
    )
    assert not live_exists(live["name"])  # the request never left


@pytest.mark.parametrize(
    "write",
    [
        lambda c, n: c.indices.create(index=n["name"]),
        lambda c, n: c.indices.delete(index=n["name"]),
        lambda c, n: c.create(index=n["alias"], id="1", document={}),
        lambda c, n: c.update(index=n["alias"], id="1", doc={}),
        lambda c, n: c.delete(index=n["name"], id="1"),
        lambda c, n: c.indices.put_mapping(index=n["name"], properties={}),
        lambda c, n: c.indices.put_settings(index=n["name"], settings={}),
        lambda c, n: c.delete_by_query(index=n["name"], query={"match_all": {}}),
        lambda c, n: c.indices.put_alias(index=n["test_name"], name=n["alias"]),
        lambda c, n: c.indices.delete_alias(index=n["test_name"], name=n["alias"]),
        lambda c, n: c.reindex(source={"index": n["test_name"]}, dest={"index": n["name"]}),
        lambda c, n: c.indices.clone(index=n["test_name"], target=n["name"]),
        lambda c, n: c.options(request_timeout=5).index(index=n["name"], document={}),
    ],
    ids=[
        "create_index", "delete_index", "create_doc", "update", "delete_doc", "put_mapping",
        "put_settings", "delete_by_query", "put_alias", "delete_alias", "reindex_dest",
        "clone_target", "options_copy",
    ],
)  # fmt: skip
def test_writes_through_the_api_are_refused(live, write):
    with pytest.raises(LiveIndexWriteError, match=r"on live index name\(s\)"):
        write(live["backend"].client, live)
    assert not live_exists(live["name"])


@pytest.mark.parametrize("pattern", ["*", "_all", "djangoes_g_*", "*,-nothing"])
def test_wildcards_that_match_a_live_name_are_refused(live, pattern):
    with pytest.raises(LiveIndexWriteError, match=re.escape(live["name"])):
        live["backend"].client.indices.delete(index=pattern)
    assert live_exists(live["test_name"])


def test_wildcards_matching_only_test_names_are_allowed(live):
    client = live["backend"].client
    client.indices.delete(index=f"test_djangoes_g_{live['tag']}*")
    assert not live_exists(live["test_name"])


def test_bulk_bodies_are_inspected(live):
    backend = live["backend"]
    operations = [
        {"index": {"_id": "1"}},
        {"title": "to the test index"},
        {"index": {"_index": live["alias"], "_id": "2"}},
        {"title": "to a live alias"},
    ]
    with refused(live["alias"]):
        backend.bulk(operations=operations)
    ndjson = "\n".join(json.dumps(line) for line in operations) + "\n"
    with refused(live["alias"]):
        backend.client.bulk(operations=ndjson)
    with refused(live["name"]):
        backend.client.bulk(operations=[{"delete": {"_index": live["name"], "_id": "1"}}])
    with refused(live["name"]):
        helpers.bulk(backend.client, [{"_index": live["name"], "_id": "1", "title": "x"}])
    with refused(live["name"]):
        backend.client.bulk(index=live["name"], operations=[{"index": {}}, {"a": 1}])
    assert backend.count()["count"] == 0  # nothing of the refused bulks was sent


def test_bulk_source_lines_are_not_mistaken_for_actions(live):
    backend = live["backend"]
    # A document whose only field is "index" looks like an action line; it is the source.
    backend.bulk(
        operations=[
            {"index": {"_id": "1"}},
            {"index": {"_index": live["name"]}},
            {"delete": {"_id": "404"}},
            {"create": {"_id": "2"}},
            {"index": {"_index": live["alias"]}},
        ],
        refresh=True,
    )
    assert backend.count()["count"] == 2
    added = helpers.bulk(backend.client, [{"_index": live["test_name"], "title": "ok"}])
    assert added == (1, [])


def test_alias_actions_are_inspected(live):
    client = live["backend"].client
    with refused(live["alias"]):
        client.indices.update_aliases(
            actions=[{"add": {"index": live["test_name"], "alias": live["alias"]}}]
        )
    with refused(live["name"]):
        client.indices.update_aliases(actions=[{"remove_index": {"index": live["name"]}}])
    with refused(live["alias"], live["name"]):
        client.indices.update_aliases(
            actions=[{"remove": {"indices": [live["name"]], "aliases": [live["alias"]]}}]
        )
    client.indices.update_aliases(
        actions=[{"add": {"index": live["test_name"], "alias": f"{live['test_alias']}_extra"}}]
    )
    assert client.indices.exists_alias(name=f"{live['test_alias']}_extra")


def test_raw_requests_are_inspected_by_path(live):
    client = live["backend"].client
    headers = {"content-type": "application/json", "accept": "application/json"}
    with refused(live["name"]):
        client.perform_request("PUT", f"/{live['name']}/_doc/1", headers=headers, body={"a": 1})
    with refused(live["alias"]):
        client.perform_request("PUT", f"/{live['test_name']}/_alias/{live['alias']}")
    with refused(live["name"]):
        client.perform_request("DELETE", f"/{live['name']}")
    # Reads pass, even as POST; the live index does not exist, which is all it says.
    with pytest.raises(elasticsearch.NotFoundError):
        client.perform_request(
            "POST", f"/{live['name']}/_search", headers=headers, body={"size": 0}
        )
    found = client.perform_request("POST", f"/{live['test_name']}/_count", headers=headers, body={})
    assert found["count"] == 0


def test_reads_of_live_names_are_allowed(live):
    client = live["backend"].client
    name = live["name"]
    with pytest.raises(elasticsearch.NotFoundError):  # reached the node: not refused
        client.search(index=name, query={"match_all": {}})
    assert not client.indices.exists(index=name)
    assert client.count(index=name, ignore_unavailable=True)["count"] == 0
    assert client.indices.get(index=name, ignore_unavailable=True).body == {}
    assert not client.exists(index=live["test_name"], id="1")


def test_live_settings_have_no_guard(live):
    handler = live["handler"]
    handler.use_test_settings(False)
    backend = handler["default"]
    assert backend.index_names == [live["name"]]
    backend.create_index("things")  # live names are writable outside tests
    backend.index(id="1", document={"title": "live"}, refresh=True)
    assert backend.count()["count"] == 1


def test_the_suite_itself_runs_guarded():
    assert connections.test_mode
    backend = connections["default"]
    live_name = connections.indices["products"]["NAME"]
    with refused(live_name):
        backend.client.index(index=live_name, document={"title": "leak"})
    assert backend.index_names[0] == f"test_{live_name}{connections.test_suffix}"


@pytest.mark.parametrize(
    ("endpoint", "parts", "body", "expected"),
    [
        ("search", {"index": "live"}, None, set()),
        ("indices.get_mapping", {"index": "live"}, None, set()),
        ("indices.exists_alias", {"name": "live"}, None, set()),
        ("index", {"index": "a,b"}, None, {"a", "b"}),
        ("indices.rollover", {"alias": "r", "new_index": "n"}, None, {"r", "n"}),
        ("bulk", {}, b'{"index":{"_index":"x"}}\n{"f":1}\n', {"x"}),
        ("bulk", {}, ['{"update":{"_index":"u"}}', '{"doc":{}}'], {"u"}),
        ("indices.update_aliases", {}, {"actions": [{"add": {"aliases": "a1,a2"}}]}, {"a1", "a2"}),
    ],
)
def test_write_targets(endpoint, parts, body, expected):
    assert write_targets(endpoint, parts, body) == expected
