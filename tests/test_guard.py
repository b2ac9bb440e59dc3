"""While test settings are in force, only reads and writes to test indices reach the node.

tests/test_guard_paths.py tries the write paths one by one against a live index; this module
covers the rules themselves: which names are test indices, the messages, what else is refused.
"""

from __future__ import annotations

import re
import uuid

import elasticsearch
import pytest
from elastic_transport import Transport

from djangoes import ConnectionHandler, LiveIndexWriteError, connections
from tests.settings import ES_URL

JSON = {"content-type": "application/json", "accept": "application/json"}


def make_handler(live: str, alias: str, **index: object) -> ConnectionHandler:
    return ConnectionHandler(
        servers={"default": {"HOSTS": [ES_URL], "INDICES": ["things"]}},
        indices={"things": {"NAME": live, "ALIASES": [alias], **index}},
    )


@pytest.fixture
def tag():
    """A tag for this test's names; every index whose name holds it is deleted after."""
    tag = uuid.uuid4().hex[:8]
    yield tag
    plain = elasticsearch.Elasticsearch(ES_URL)
    plain.indices.delete(index=f"*{tag}*", allow_no_indices=True)
    plain.close()


@pytest.fixture
def guarded(tag):
    """A connection under test settings whose test index exists; the live one does not."""
    handler = make_handler(f"djangoes_gt_{tag}", f"djangoes_gt_read_{tag}")
    handler.use_test_settings(True)
    backend = handler["default"]
    backend.create_index("things")
    yield backend
    handler.close_all()


def live_name(backend) -> str:
    return backend.index_names[0].removeprefix("test_")


def refused(*fragments: str):
    pattern = ".*".join(re.escape(fragment) for fragment in fragments)
    return pytest.raises(LiveIndexWriteError, match=pattern)


def test_a_write_to_a_live_name_is_refused_with_a_clear_message(guarded):
    live = live_name(guarded)
    with pytest.raises(LiveIndexWriteError) as raised:
        guarded.client.index(index=live, id="1", document={"title": "leak"})
    assert str(raised.value) == (
        f"Refused 'index' (PUT /{live}/_doc/1) while djangoes test settings are in force: "
        f"'{live}' is a live index or alias. Tests may write only to test indices: "
        f"connection.index_names, connection.indices and names that begin with them. Use "
        f"those names, or make this request outside the djangoes test settings."
    )
    assert not guarded.client.indices.exists(index=live)  # nothing was sent


def test_a_raw_request_is_named_by_its_method_and_path(guarded):
    live = live_name(guarded)
    with refused(f"Refused DELETE /{live} while", f"'{live}' is a live index or alias"):
        guarded.client.perform_request("DELETE", f"/{live}")


def test_the_test_names_and_names_that_begin_with_them_are_writable(guarded):
    client = guarded.client
    test_name, test_alias = guarded.index_names[0], guarded.alias_names[0]
    guarded.index(id="1", document={"title": "fine"}, refresh=True)
    client.index(index=test_alias, id="2", document={"t": 1}, refresh=True)
    client.indices.create(index=f"{test_name}-2024.01.01")
    client.index(index=f"{test_name}-2024.01.01", id="3", document={}, refresh=True)
    assert client.count(index=f"{test_name}*")["count"] == 3
    client.indices.delete(index=f"{test_name}-*")
    assert guarded.count()["count"] == 2


def test_a_name_that_is_neither_live_nor_test_is_refused(guarded):
    with refused("'scratch_index' is not test indices"):
        guarded.client.indices.create(index="scratch_index")
    with refused("'scratch_*' can match indices that are not test indices"):
        guarded.client.indices.delete(index="scratch_*")


def test_names_beginning_with_a_live_name_are_live(tag):
    # After a zero-downtime rebuild the live NAME is an alias of '<NAME>-<timestamp>'.
    handler = make_handler(f"shop_{tag}", f"shop_read_{tag}", TEST={"NAME": f"shop_{tag}_t"})
    handler.use_test_settings(True)
    client = handler["default"].client
    try:
        with refused(f"'shop_{tag}-20240101' begins with the live name 'shop_{tag}'"):
            client.indices.delete(index=f"shop_{tag}-20240101")
        with refused(f"'shop_{tag}*' can match the live name 'shop_{tag}'"):
            client.indices.delete(index=f"shop_{tag}*")
        # The longest name decides: the test name 'shop_<tag>_t' is longer than 'shop_<tag>'.
        client.indices.create(index=f"shop_{tag}_t-1")
        client.indices.delete(index=f"shop_{tag}_t*")
    finally:
        handler.close_all()


def test_a_live_name_that_begins_with_a_test_name_stays_live(tag):
    handler = ConnectionHandler(
        servers={"default": {"HOSTS": [ES_URL], "INDICES": ["things"]}},
        indices={
            "things": {"NAME": f"things_{tag}"},
            "archive": {"NAME": f"test_things_{tag}_archive"},
        },
    )
    handler.use_test_settings(True)
    client = handler["default"].client
    archive = f"test_things_{tag}_archive"
    try:
        with refused(f"'{archive}' is a live index or alias"):
            client.index(index=archive, document={})
        with refused(f"'test_things_{tag}*' can match the live name '{archive}'"):
            client.indices.delete(index=f"test_things_{tag}*")
        client.indices.create(index=f"test_things_{tag}_1")
        client.indices.delete(index=f"test_things_{tag}_1*")
    finally:
        handler.close_all()


@pytest.mark.parametrize(
    ("write", "fragment"),
    [
        (lambda c, t: c.index(index=t, document={}, pipeline="p"), "the 'pipeline' parameter"),
        (
            lambda c, t: c.bulk(operations=[{"index": {"_index": t, "pipeline": "p"}}, {}]),
            "bulk line 1",
        ),
        (
            lambda c, t: c.reindex(source={"index": t}, dest={"index": f"{t}-2", "pipeline": "p"}),
            "the reindex destination",
        ),
        (
            lambda c, t: c.indices.create(
                index=f"{t}-2", settings={"index": {"default_pipeline": "p"}}
            ),
            "index setting 'default_pipeline'",
        ),
        (
            lambda c, t: c.indices.put_settings(index=t, settings={"index.final_pipeline": "p"}),
            "index setting 'index.final_pipeline'",
        ),
    ],
    ids=["parameter", "bulk_metadata", "reindex_dest", "create_settings", "put_settings"],
)
def test_ingest_pipelines_are_refused_even_on_test_indices(guarded, write, fragment):
    # A pipeline can set _index and so send documents anywhere.
    with refused("runs the ingest pipeline 'p'", fragment):
        write(guarded.client, guarded.index_names[0])


def test_a_pipeline_can_be_switched_off(guarded):
    name = guarded.index_names[0]
    written = guarded.client.index(
        index=name, id="no-pipeline", document={"title": "as sent"}, pipeline="_none"
    )
    assert (written["_index"], written["result"]) == (name, "created")
    assert guarded.client.get(index=name, id="no-pipeline")["_source"] == {"title": "as sent"}


def test_a_reindex_script_is_refused(guarded):
    test_name = guarded.index_names[0]
    with refused("a reindex script can send documents to any index"):
        guarded.client.reindex(
            source={"index": test_name},
            dest={"index": f"{test_name}-copy"},
            script={"source": "ctx._index = 'anything'"},
        )


def test_a_body_that_cannot_be_read_is_refused(guarded):
    client = guarded.client
    headers = {"content-type": "application/vnd.elasticsearch+yaml"}
    with refused("its content type", "is not JSON"):
        client.perform_request("POST", "/_aliases", headers=headers, body="actions: []\n")
    with refused("it is not JSON"):
        client.perform_request("POST", "/_bulk", headers=JSON, body="not json\n")


def test_index_templates_the_tests_create_can_be_replaced_and_deleted(guarded):
    client = guarded.client
    name, patterns = f"{guarded.index_names[0]}-template", [f"{guarded.index_names[0]}-t*"]
    with refused(f"it could replace the index template '{name}'", "pass create=true"):
        client.indices.put_index_template(name=name, index_patterns=patterns)
    client.indices.put_index_template(name=name, index_patterns=patterns, create=True)
    client.indices.put_index_template(name=name, index_patterns=patterns, priority=3)
    client.indices.delete_index_template(name=name)
    with refused("the index template 'other' was not created by these tests"):
        client.indices.delete_index_template(name="other")


def test_component_templates_are_refused(guarded):
    with refused("'cluster.put_component_template' is a cluster-level API"):
        guarded.client.cluster.put_component_template(name="c", template={})
    with refused("is composed of component templates"):
        guarded.client.indices.put_index_template(
            name="t", index_patterns=[f"{guarded.index_names[0]}-x*"], composed_of=["c"]
        )


def test_every_client_of_the_transport_is_guarded(guarded):
    live = live_name(guarded)
    client = guarded.client
    with refused(f"'{live}' is a live index or alias"):
        client.options(request_timeout=3, ignore_status=400).index(index=live, document={})
    with refused(f"'{live}' is a live index or alias"):
        elasticsearch.Elasticsearch(_transport=client.transport).index(index=live, document={})
    with refused(f"'{live}' is a live index or alias"):
        client.transport.perform_request("PUT", f"/{live}")


class CustomTransport(Transport):
    pass


def test_a_transport_class_from_params_is_guarded_too(tag):
    handler = ConnectionHandler(
        servers={"default": {"HOSTS": [ES_URL], "PARAMS": {"transport_class": CustomTransport}}},
        indices={"things": {"NAME": f"djangoes_gt_{tag}"}},
    )
    handler.use_test_settings(True)
    client = handler["default"].client
    try:
        assert isinstance(client.transport, CustomTransport)
        with refused(f"'djangoes_gt_{tag}' is a live index or alias"):
            client.indices.create(index=f"djangoes_gt_{tag}")
    finally:
        handler.close_all()


def test_reads_reach_the_node_whatever_they_name(guarded):
    client = guarded.client
    live = live_name(guarded)
    with pytest.raises(elasticsearch.NotFoundError):  # reached the node: not refused
        client.search(index=live, query={"match_all": {}})
    with pytest.raises(elasticsearch.NotFoundError):
        client.perform_request("POST", f"/{live}/_search", headers=JSON, body={})
    assert not client.indices.exists(index=live)
    assert client.count(index=live, ignore_unavailable=True)["count"] == 0
    assert client.indices.refresh()["_shards"]["failed"] == 0  # refreshes live ones too


def test_live_settings_have_no_guard(tag):
    handler = make_handler(f"djangoes_gt_{tag}", f"djangoes_gt_read_{tag}")
    backend = handler["default"]
    try:
        assert backend.index_names == [f"djangoes_gt_{tag}"]
        backend.create_index("things")  # live names are writable outside tests
        backend.index(id="1", document={"title": "live"}, refresh=True)
        assert backend.count()["count"] == 1
    finally:
        handler.close_all()


def test_the_suite_itself_runs_guarded():
    assert connections.test_mode
    backend = connections["default"]
    live = connections.indices["products"]["NAME"]
    with refused(f"'{live}' is a live index or alias"):
        backend.client.index(index=live, document={"title": "leak"})
    assert backend.index_names[0] == f"test_{live}{connections.test_suffix}"
