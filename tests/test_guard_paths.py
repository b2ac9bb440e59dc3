"""The write guard, path by path, against a real live index.

Before the tables, a live index (with an alias and a document) is created under live settings;
then test settings are switched on and every write path of WRITE_PATHS is tried: each must be
refused with LiveIndexWriteError naming the live name, and must leave the live index's document
count, mappings, settings and aliases (and the cluster's templates, pipelines and settings) as
they were. ALLOWED_PATHS are reads of the live index and writes to test indices: each must go
through, so the guard cannot pass the first table by refusing everything.
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import elastic_transport
import elasticsearch
import pytest
from django.test import override_settings
from elasticsearch import helpers

from djangoes import ConnectionHandler, LiveIndexWriteError, connections
from djangoes.backends.requests import ApiRequest
from tests.settings import ES_URL

# indices.create_from is a technical preview in some clients; the guard refuses it anyway.
pytestmark = pytest.mark.filterwarnings("ignore:This API is in technical preview")

JSON = {"content-type": "application/json", "accept": "application/json"}
NDJSON = {"content-type": "application/x-ndjson", "accept": "application/json"}


@dataclass(frozen=True)
class Names:
    tag: str
    live: str  # a live index with one document
    alias: str  # its live alias
    old: str  # another live index, named by override_settings only
    test: str  # the test index of ``live``
    test_alias: str
    suite_live: str  # the live name of the suite's own 'products' index
    live_template: str  # an index template of the live indices
    client: Any  # the guarded client (test settings in force)
    plain: Any  # an unguarded client, to look at the node


class Recording(elastic_transport.Transport):
    """A transport that keeps the requests it sends: under the test transport (which wraps
    the ``transport_class`` of PARAMS), those that passed the guard."""

    sent: list[ApiRequest] | None = None

    def perform_request(self, method: str, target: str, **kwargs: Any) -> Any:
        if self.sent is not None:
            self.sent.append(ApiRequest.of(method, target))
        return super().perform_request(method, target, **kwargs)


@contextmanager
def sent(client: Any) -> Iterator[list[ApiRequest]]:
    """Collect what ``client`` (of the ``names`` handler) sends to the node in the block."""
    transport = client.transport
    transport.sent = []
    try:
        yield transport.sent
    finally:
        transport.sent = None


@pytest.fixture(scope="module")
def names():
    tag = uuid.uuid4().hex[:8]
    live, alias, old = f"djangoes_g_{tag}", f"djangoes_g_read_{tag}", f"djangoes_g_old_{tag}"
    handler = ConnectionHandler(
        servers={
            "default": {
                "HOSTS": [ES_URL],
                "INDICES": ["things"],
                "PARAMS": {"transport_class": Recording},
            }
        },
        indices={
            "things": {
                "NAME": live,
                "ALIASES": [alias],
                "SETTINGS": {"number_of_shards": 1, "number_of_replicas": 0},
            }
        },
    )
    plain = elasticsearch.Elasticsearch(ES_URL)
    # Under live settings: the live index, its alias and a document.
    handler.use_test_settings(False)
    backend = handler["default"]
    backend.create_index("things")
    backend.index(id="1", document={"title": "live"}, refresh=True)
    plain.indices.create(index=old, settings={"number_of_shards": 1, "number_of_replicas": 0})
    plain.index(index=old, id="1", document={"title": "old"}, refresh=True)
    template = f"djangoes_g_live_{tag}"
    plain.indices.put_index_template(name=template, index_patterns=[f"{live}-*"], priority=7)
    # Then test settings, as the runner and the pytest plugin switch them.
    handler.use_test_settings(True)
    backend = handler["default"]
    backend.create_index("things")
    backend.index(id="1", document={"title": "test"}, refresh=True)
    yield Names(
        tag,
        live,
        alias,
        old,
        backend.index_names[0],
        backend.alias_names[0],
        connections.indices["products"]["NAME"],
        template,
        backend.client,
        plain,
    )
    handler.close_all()
    plain.indices.delete(index=f"*{tag}*", expand_wildcards="all", allow_no_indices=True)
    found = plain.options(ignore_status=404).indices.get_index_template(name=f"*{tag}*")
    for template in found.get("index_templates", []):
        plain.indices.delete_index_template(name=template["name"])
    plain.close()


def live_state(n: Names) -> dict[str, Any]:
    """Return what a write to a live index would change: count, mappings, settings, aliases."""
    plain = n.plain
    plain.indices.refresh(index=[n.live, n.old])
    return {
        "counts": [plain.count(index=name)["count"] for name in (n.live, n.old)],
        "documents": [plain.get(index=name, id="1")["_source"] for name in (n.live, n.old)],
        "indices": plain.indices.get(index=[n.live, n.old]).body,
        "alias": plain.indices.get_alias(name=n.alias).body,
    }


def cluster_state(n: Names) -> dict[str, Any]:
    """Return the indices, templates, pipelines and settings a write could have added."""
    look = n.plain.options(ignore_status=404)
    pattern = f"*{n.tag}*"
    return {
        "indices": look.indices.get(index=pattern, expand_wildcards="all").body,
        "suite_live_index": look.indices.exists(index=n.suite_live).body,
        "templates": look.indices.get_index_template(name=pattern).body,
        "legacy_templates": look.indices.get_template(name=pattern).body,
        "component_templates": look.cluster.get_component_template(name=pattern).body,
        "pipelines": look.ingest.get_pipeline(id=pattern).body,
        "cluster_settings": look.cluster.get_settings().body,
    }


def quoted(which: str) -> Callable[[Names], str]:
    """Expect the message to quote the name ``which`` (an attribute of Names)."""
    return lambda n: f"'{getattr(n, which)}'"


def says(text: str) -> Callable[[Names], str]:
    """Expect the message to contain ``text`` (names filled in)."""
    return lambda n: fill(text, n)


#: A raw request of a shape the fallback classifier does not know is refused as such.
RAW_UNKNOWN = says("a raw request of a shape the guard does not know")


QUOTES_LIVE = quoted("live")


@dataclass(frozen=True)
class Path:
    id: str
    call: Callable[[Any, Names], Any]
    expect: Callable[[Names], str] = QUOTES_LIVE  # what the refusal must say


def fill(text: str, n: Names) -> str:
    """Replace "{live}", "{alias}", "{test}", "{tag}", ... by the names of this run."""
    for key, value in vars(n).items():
        if isinstance(value, str):
            text = text.replace("{" + key + "}", value)
    return text


def raw(method: str, path: str, body: Any = None, headers: dict[str, str] | None = None):
    """A raw ``client.perform_request`` call; names in ``path`` and ``body`` are filled in."""

    def call(client: Any, n: Names) -> Any:
        sent = body
        if isinstance(body, str):
            sent = fill(body, n)
        elif isinstance(body, bytes):
            sent = fill(body.decode(), n).encode()
        elif body is not None:
            sent = json.loads(fill(json.dumps(body), n))
        return client.perform_request(
            method,
            fill(path, n),
            headers=headers or (JSON if body is not None else None),
            body=sent,
        )

    return call


def ndjson(*lines: dict[str, Any]) -> str:
    return "".join(json.dumps(line) + "\n" for line in lines)


def old_live_name_after_override(client: Any, n: Names) -> Any:
    """A name live at one point of the test run stays protected once it is a test name."""
    with override_settings(ES_INDICES={"products": {"NAME": n.old}, "articles": {}}):
        pass  # n.old was the live name of 'products' while test settings were in force
    moved = {"products": {"NAME": f"{n.old}_new", "TEST": {"NAME": n.old}}, "articles": {}}
    with override_settings(ES_INDICES=moved):
        return connections["default"].client.index(index=n.old, id="2", document={"x": 1})


def suite_live_name_after_override(client: Any, n: Names) -> Any:
    """The suite's own live name, turned into a test name inside a test, stays protected."""
    live = connections.indices["products"]["NAME"]
    moved = {"products": {"NAME": f"moved_{n.tag}", "TEST": {"NAME": live}}, "articles": {}}
    with override_settings(ES_INDICES=moved):
        return connections["default"].client.index(index=live, id="2", document={"x": 1})


def bulk_list_item_with_several_lines(client: Any, n: Names) -> Any:
    item = ndjson({"index": {"_index": n.test}}, {"a": 1}, {"index": {"_index": n.live}}, {"a": 2})
    return client.bulk(operations=[item.rstrip("\n")])


def streaming_bulk(client: Any, n: Names) -> Any:
    actions = [{"_index": n.test, "a": 1}, {"_op_type": "delete", "_index": n.alias, "_id": "1"}]
    return list(helpers.streaming_bulk(client, actions))


WRITE_PATHS = [
    # -- API methods on the live name, its alias, and expressions reaching them -------------
    Path("index", lambda c, n: c.index(index=n.live, id="1", document={"x": 1})),
    Path("index_auto_id", lambda c, n: c.index(index=n.live, document={"x": 1})),
    Path("index_alias", lambda c, n: c.index(index=n.alias, id="2", document={}), quoted("alias")),
    Path("create_doc", lambda c, n: c.create(index=n.live, id="2", document={})),
    Path("update_doc", lambda c, n: c.update(index=n.live, id="1", doc={"x": 1})),
    Path(
        "update_via_alias",
        lambda c, n: c.update(index=n.alias, id="1", doc={"x": 3}),
        quoted("alias"),
    ),
    Path("delete_doc", lambda c, n: c.delete(index=n.live, id="1")),
    Path("create_index", lambda c, n: c.indices.create(index=n.live)),
    Path("delete_index", lambda c, n: c.indices.delete(index=n.live)),
    Path("delete_alias_name", lambda c, n: c.indices.delete(index=n.alias), quoted("alias")),
    Path("delete_star", lambda c, n: c.indices.delete(index="*")),
    Path("delete_all", lambda c, n: c.indices.delete(index="_all")),
    Path("delete_prefix_wildcard", lambda c, n: c.indices.delete(index="djangoes_g_*")),
    Path("delete_live_prefix_wildcard", lambda c, n: c.indices.delete(index=f"{n.live}*")),
    Path("delete_comma_list", lambda c, n: c.indices.delete(index=f"{n.test},{n.live}")),
    Path("delete_list", lambda c, n: c.indices.delete(index=[n.test, n.live])),
    Path("delete_star_minus_test", lambda c, n: c.indices.delete(index=f"*,-{n.test}")),
    # The pattern can reach the indices behind every live name (<NAME>-<timestamp> after a
    # rebuild), so the message names the pattern; which live names it lists first depends
    # on what else the process has seen.
    Path(
        "delete_wildcard_minus_live",
        lambda c, n: c.indices.delete(index=f"*{n.tag},-{n.live}"),
        says("'*{tag}' can match the live names"),
    ),
    Path(
        "put_mapping",
        lambda c, n: c.indices.put_mapping(index=n.live, properties={"x": {"type": "keyword"}}),
    ),
    Path(
        "put_settings",
        lambda c, n: c.indices.put_settings(index=n.live, settings={"refresh_interval": "7s"}),
    ),
    Path(
        "put_settings_no_index",
        lambda c, n: c.indices.put_settings(settings={"refresh_interval": "7s"}),
    ),
    Path(
        "put_settings_all",
        lambda c, n: c.indices.put_settings(index="_all", settings={"refresh_interval": "7s"}),
    ),
    Path(
        "put_settings_mixed",
        lambda c, n: c.indices.put_settings(
            index=f"{n.test}*,{n.alias}", settings={"refresh_interval": "7s"}
        ),
        quoted("alias"),
    ),
    Path("close", lambda c, n: c.indices.close(index=n.live)),
    Path("open", lambda c, n: c.indices.open(index=n.live)),
    Path("add_block", lambda c, n: c.indices.add_block(index=n.live, block="write")),
    Path("forcemerge", lambda c, n: c.indices.forcemerge(index=n.live)),
    Path("flush_post", lambda c, n: c.indices.flush(index=n.live)),
    Path("clear_cache", lambda c, n: c.indices.clear_cache(index=n.live)),
    Path("delete_by_query", lambda c, n: c.delete_by_query(index=n.live, query={"match_all": {}})),
    Path(
        "update_by_query",
        lambda c, n: c.update_by_query(index=n.alias, query={"match_all": {}}),
        quoted("alias"),
    ),
    # -- aliases ---------------------------------------------------------------------------------
    Path(
        "put_alias_live_onto_test",
        lambda c, n: c.indices.put_alias(index=n.test, name=n.alias),
        quoted("alias"),
    ),
    Path(
        "put_alias_on_live",
        lambda c, n: c.indices.put_alias(index=n.live, name=f"{n.test_alias}_x"),
    ),
    Path(
        "put_alias_on_star", lambda c, n: c.indices.put_alias(index="*", name=f"{n.test_alias}_x")
    ),
    Path(
        "put_alias_on_wildcard",
        lambda c, n: c.indices.put_alias(index="djangoes_g_*", name=f"{n.test_alias}_x"),
    ),
    Path("delete_alias", lambda c, n: c.indices.delete_alias(index=n.live, name=n.alias)),
    Path("delete_alias_any_index", lambda c, n: c.indices.delete_alias(index="*", name=n.alias)),
    Path(
        "update_aliases_add",
        lambda c, n: c.indices.update_aliases(
            actions=[{"add": {"index": n.test, "alias": n.alias}}]
        ),
        quoted("alias"),
    ),
    Path(
        "update_aliases_remove_index",
        lambda c, n: c.indices.update_aliases(actions=[{"remove_index": {"index": n.live}}]),
    ),
    Path(
        "update_aliases_lists",
        lambda c, n: c.indices.update_aliases(
            actions=[{"remove": {"indices": [n.test, n.live], "aliases": [n.alias]}}]
        ),
    ),
    Path(
        "update_aliases_star_index",
        lambda c, n: c.indices.update_aliases(
            actions=[{"add": {"index": "*", "alias": n.test_alias}}]
        ),
    ),
    Path(
        "update_aliases_json_string",
        lambda c, n: c.indices.update_aliases(
            body=json.dumps({"actions": [{"add": {"index": n.test, "alias": n.alias}}]})
        ),
        quoted("alias"),
    ),
    Path(
        "update_aliases_json_bytes",
        lambda c, n: c.indices.update_aliases(
            body=json.dumps({"actions": [{"remove_index": {"index": n.live}}]}).encode()
        ),
    ),
    # -- copies into live names ---------------------------------------------------------------
    Path("reindex_dest", lambda c, n: c.reindex(source={"index": n.test}, dest={"index": n.live})),
    Path(
        "reindex_dest_alias",
        lambda c, n: c.reindex(source={"index": n.test}, dest={"index": n.alias}),
        quoted("alias"),
    ),
    Path(
        "reindex_json_string",
        lambda c, n: c.reindex(
            body=json.dumps({"source": {"index": n.test}, "dest": {"index": n.live}})
        ),
    ),
    Path("clone_target", lambda c, n: c.indices.clone(index=n.test, target=n.live)),
    Path("split_target", lambda c, n: c.indices.split(index=n.test, target=n.live)),
    Path("shrink_target", lambda c, n: c.indices.shrink(index=n.test, target=n.live)),
    Path("rollover_live_alias", lambda c, n: c.indices.rollover(alias=n.alias), quoted("alias")),
    Path(
        "rollover_into_live", lambda c, n: c.indices.rollover(alias=n.test_alias, new_index=n.live)
    ),
    Path(
        "create_test_with_live_alias",
        lambda c, n: c.indices.create(index=f"{n.test}_2", aliases={n.alias: {}}),
        quoted("alias"),
    ),
    Path(
        "restore_renamed_into_live",
        lambda c, n: c.snapshot.restore(
            repository=f"r_{n.tag}",
            snapshot="s",
            indices=n.test,
            rename_pattern="test_(.+)",
            rename_replacement="$1",
        ),
    ),
    # -- date math ----------------------------------------------------------------------------
    Path("date_math_exact", lambda c, n: c.index(index=f"<{n.live}>", id="1", document={})),
    Path("date_math_daily", lambda c, n: c.index(index=f"<{n.live}-{{now/d}}>", document={})),
    Path(
        "date_math_formatted",
        lambda c, n: c.indices.create(index=f"<{n.live}-{{now/M{{yyyy.MM}}}}>"),
    ),
    Path("date_math_in_list", lambda c, n: c.indices.delete(index=[n.test, f"<{n.live}>"])),
    Path(
        "date_math_alias",
        lambda c, n: c.indices.put_alias(index=n.test, name=f"<{n.alias}>"),
        quoted("alias"),
    ),
    # -- bulk bodies in every shape -----------------------------------------------------------
    Path(
        "bulk_dicts",
        lambda c, n: c.bulk(
            operations=[
                {"index": {"_index": n.test}},
                {"a": 1},
                {"index": {"_index": n.live}},
                {"a": 2},
            ]
        ),
    ),
    Path(
        "bulk_ndjson_str",
        lambda c, n: c.bulk(operations=ndjson({"delete": {"_index": n.live, "_id": "1"}})),
    ),
    Path(
        "bulk_ndjson_bytes",
        lambda c, n: c.bulk(
            operations=ndjson(
                {"update": {"_index": n.alias, "_id": "1"}}, {"doc": {"x": 1}}
            ).encode()
        ),
        quoted("alias"),
    ),
    Path(
        "bulk_list_of_json_strings",
        lambda c, n: c.bulk(
            operations=[json.dumps({"create": {"_index": n.live}}), json.dumps({"a": 1})]
        ),
    ),
    Path("bulk_list_item_several_lines", bulk_list_item_with_several_lines),
    Path(
        "bulk_default_index_in_path",
        lambda c, n: c.bulk(index=n.live, operations=[{"index": {}}, {"a": 1}]),
    ),
    Path(
        "bulk_date_math_index",
        lambda c, n: c.bulk(operations=[{"index": {"_index": f"<{n.live}-{{now/d}}>"}}, {"a": 1}]),
    ),
    Path(
        "bulk_after_doc_that_looks_like_action",
        lambda c, n: c.bulk(
            operations=[
                {"index": {"_index": n.test}},
                {"delete": {"_index": n.test}},
                {"delete": {"_index": n.live, "_id": "1"}},
            ]
        ),
    ),
    Path("helpers_bulk", lambda c, n: helpers.bulk(c, [{"_index": n.live, "_id": "1", "x": 1}])),
    Path("helpers_streaming_bulk", streaming_bulk, quoted("alias")),
    # -- templates and other cluster-level writes --------------------------------------------
    Path(
        "index_template_matching_live",
        lambda c, n: c.indices.put_index_template(
            name=f"t_{n.tag}", index_patterns=[f"{n.live}*"], create=True
        ),
    ),
    Path(
        "index_template_star",
        lambda c, n: c.indices.put_index_template(
            name=f"t_{n.tag}", index_patterns="*", create=True
        ),
    ),
    Path(
        "index_template_test_pattern_live_alias",
        lambda c, n: c.indices.put_index_template(
            name=f"test_t_{n.tag}",
            index_patterns=[f"{n.test}-*"],
            template={"aliases": {n.alias: {}}},
            create=True,
        ),
        quoted("alias"),
    ),
    Path(
        "index_template_replacing_another",
        lambda c, n: c.indices.put_index_template(
            name=n.live_template, index_patterns=[f"{n.test}-*"]
        ),
        says("index template '{live_template}'"),
    ),
    Path("delete_index_template", lambda c, n: c.indices.delete_index_template(name="*")),
    Path(
        "delete_live_index_template",
        lambda c, n: c.indices.delete_index_template(name=n.live_template),
        says("index template '{live_template}'"),
    ),
    Path(
        "legacy_template_matching_live",
        lambda c, n: c.indices.put_template(
            name=f"t_{n.tag}", index_patterns=[f"djangoes_g_*{n.tag}"], create=True
        ),
    ),
    Path(
        "component_template",
        lambda c, n: c.cluster.put_component_template(
            name=f"c_{n.tag}", template={"settings": {"number_of_replicas": 0}}
        ),
    ),
    Path(
        "cluster_settings",
        lambda c, n: c.cluster.put_settings(persistent={"action.auto_create_index": "false"}),
    ),
    Path("ingest_pipeline", lambda c, n: c.ingest.put_pipeline(id=f"p_{n.tag}", processors=[])),
    Path("ilm_policy", lambda c, n: c.ilm.put_lifecycle(name=f"p_{n.tag}", policy={"phases": {}})),
    Path(
        "data_stream_beginning_with_live",
        lambda c, n: c.indices.create_data_stream(name=f"{n.live}-ds"),
    ),
    Path(
        "create_from_into_live",
        lambda c, n: c.indices.create_from(
            source=n.test, dest=n.live, create_from={"remove_index_blocks": True}
        ),
    ),
    Path(
        "snapshot_repository",
        lambda c, n: c.snapshot.create_repository(
            name=f"r_{n.tag}", repository={"type": "fs", "settings": {"location": "x"}}
        ),
    ),
    # -- other clients of the same connection -------------------------------------------------
    Path(
        "options_client", lambda c, n: c.options(request_timeout=5).index(index=n.live, document={})
    ),
    Path(
        "options_ignore_status",
        lambda c, n: c.options(ignore_status=404).indices.delete(index=n.live),
    ),
    Path("transport_directly", lambda c, n: c.transport.perform_request("DELETE", f"/{n.live}")),
    # -- raw perform_request ------------------------------------------------------------------
    Path("raw_put_doc", raw("PUT", "/{live}/_doc/1", {"x": 1})),
    Path("raw_post_doc", raw("POST", "/{live}/_doc", {"x": 1})),
    Path("raw_doc_id_search_put", raw("PUT", "/{live}/_doc/_search", {"x": 1})),
    Path(
        "raw_doc_id_search_post", raw("POST", "/{live}/_doc/_search", {"query": {"match_all": {}}})
    ),
    Path("raw_doc_id_count", raw("PUT", "/{live}/_doc/_count", {"x": 1})),
    Path("raw_create_doc", raw("PUT", "/{alias}/_create/9", {"x": 1}), quoted("alias")),
    Path("raw_update_doc", raw("POST", "/{live}/_update/1", {"doc": {"x": 1}})),
    Path("raw_delete_doc", raw("DELETE", "/{live}/_doc/1")),
    Path("raw_delete_index", raw("DELETE", "/{live}")),
    Path("raw_delete_by_alias", raw("DELETE", "/{alias}"), quoted("alias")),
    Path("raw_create_index", raw("PUT", "/{live}")),
    Path(
        "raw_put_all_settings", raw("PUT", "/_all/_settings", {"index": {"refresh_interval": "7s"}})
    ),
    Path(
        "raw_put_settings",
        raw("PUT", "/_settings", {"index": {"refresh_interval": "7s"}}),
        RAW_UNKNOWN,
    ),
    Path(
        "raw_put_mapping",
        raw("PUT", "/{live}/_mapping", {"properties": {"x": {"type": "keyword"}}}),
    ),
    Path("raw_close", raw("POST", "/{live}/_close")),
    Path(
        "raw_delete_by_query", raw("POST", "/{live}/_delete_by_query", {"query": {"match_all": {}}})
    ),
    Path("raw_update_by_query", raw("POST", "/{live}/_update_by_query")),
    Path("raw_old_style_update_path", raw("POST", "/{live}/_doc/1/_update", {"doc": {}})),
    Path("raw_put_alias", raw("PUT", "/{test}/_alias/{alias}"), RAW_UNKNOWN),
    Path("raw_clone", raw("POST", "/{test}/_clone/{live}"), RAW_UNKNOWN),
    Path("raw_rollover", raw("POST", "/{alias}/_rollover"), quoted("alias")),
    Path("raw_encoded_date_math", raw("PUT", "/%3C{live}%3E/_doc/1", {"x": 1})),
    Path("raw_encoded_daily_date_math", raw("POST", "/%3C{live}-%7Bnow%2Fd%7D%3E/_doc", {"x": 1})),
    Path(
        "raw_encoded_comma",
        raw("PUT", "/{test}%2C{live}/_settings", {"index": {"refresh_interval": "7s"}}),
    ),
    Path("raw_encoded_star", raw("DELETE", "/djangoes_g_%2A")),
    Path(
        "raw_dot_segments",
        raw("PUT", "/{test}/../{live}/_doc/1", {"x": 1}),
        says("'/{test}/../{live}/_doc/1'"),
    ),
    Path(
        "raw_double_slash",
        raw("POST", "//{live}/_doc/_search", {"x": 1}),
        says("'//{live}/_doc/_search'"),
    ),
    Path(
        "raw_aliases_dict",
        raw("POST", "/_aliases", {"actions": [{"add": {"index": "{test}", "alias": "{alias}"}}]}),
        quoted("alias"),
    ),
    Path(
        "raw_aliases_string",
        raw("POST", "/_aliases", '{"actions": [{"remove_index": {"index": "{live}"}}]}'),
    ),
    Path(
        "raw_aliases_bytes",
        raw(
            "POST", "/_aliases", b'{"actions": [{"add": {"index": "{test}", "alias": "{alias}"}}]}'
        ),
        quoted("alias"),
    ),
    Path(
        "raw_reindex_string",
        raw("POST", "/_reindex", '{"source": {"index": "{test}"}, "dest": {"index": "{live}"}}'),
        RAW_UNKNOWN,
    ),
    Path(
        "raw_bulk_string",
        raw(
            "POST",
            "/_bulk",
            '{"index": {"_index": "{test}"}}\n{"a": 1}\n'
            '{"delete": {"_index": "{live}", "_id": "1"}}\n',
            NDJSON,
        ),
    ),
    Path(
        "raw_bulk_in_live_path", raw("POST", "/{live}/_bulk", '{"index": {}}\n{"a": 1}\n', NDJSON)
    ),
    Path(
        "raw_bulk_gzip",
        lambda c, n: c.perform_request(
            "POST",
            "/_bulk",
            headers={**NDJSON, "content-encoding": "gzip"},
            body=gzip.compress(ndjson({"index": {"_index": n.live}}, {"a": 1}).encode()),
        ),
        says("content encoding 'gzip'"),
    ),
    Path(
        "raw_bulk_duplicate_index_key",
        raw(
            "POST",
            "/_bulk",
            '{"index": {"_index": "{test}", "_index": "{live}"}}\n{"a": 1}\n',
            NDJSON,
        ),
        says("duplicate keys"),
    ),
    Path(
        "raw_aliases_json_with_comment",
        raw("POST", "/_aliases", '{"actions": [/* c */ {"remove_index": {"index": "{live}"}}]}'),
        says("it is not JSON"),
    ),
    Path(
        "raw_index_template",
        raw("PUT", "/_index_template/t_{tag}", {"index_patterns": ["{live}"]}),
        RAW_UNKNOWN,
    ),
    Path(
        "raw_legacy_template",
        raw("PUT", "/_template/t_{tag}", {"index_patterns": ["*"]}),
        RAW_UNKNOWN,
    ),
    Path(
        "raw_component_template",
        raw("PUT", "/_component_template/c_{tag}", {"template": {}}),
        RAW_UNKNOWN,
    ),
    Path(
        "raw_cluster_settings",
        raw("PUT", "/_cluster/settings", {"persistent": {"action.auto_create_index": "false"}}),
        RAW_UNKNOWN,
    ),
    Path(
        "raw_snapshot_restore",
        raw(
            "POST",
            "/_snapshot/r/s/_restore",
            {"indices": "{test}", "rename_pattern": "test_(.+)", "rename_replacement": "$1"},
        ),
        RAW_UNKNOWN,
    ),
    Path("raw_create_from", raw("PUT", "/_create_from/{test}/{live}"), RAW_UNKNOWN),
    Path(
        "raw_source_parameter",
        raw("POST", "/_aliases?source=%7B%7D&source_content_type=application/json"),
        says("'source' query parameter"),
    ),
    Path(
        "raw_pipeline_parameter",
        raw("PUT", "/{test}/_doc/1?pipeline=p_{tag}", {"x": 1}),
        says("ingest pipeline 'p_{tag}'"),
    ),
    Path("raw_unknown_method", raw("PATCH", "/{live}/_doc/1", {"x": 1})),
    # -- names that were live at some point of the run ----------------------------------------
    Path("override_then_old_name", old_live_name_after_override, quoted("old")),
    Path("override_then_suite_live_name", suite_live_name_after_override, quoted("suite_live")),
]


def test_the_table_tries_at_least_80_write_paths():
    assert len(WRITE_PATHS) >= 80
    assert len({path.id for path in WRITE_PATHS}) == len(WRITE_PATHS)


#: The paths whose test also compares the live and cluster state before and after, one or two
#: of each kind; a refusal is raised before anything is sent, which the others show by their
#: requests (``sent``), and the module's live state is compared once at its end.
LIVE_SAMPLE = frozenset(
    {
        "index",
        "delete_index",
        "delete_star",
        "put_settings_no_index",
        "put_settings_mixed",
        "raw_put_doc",
        "raw_delete_by_alias",
        "raw_encoded_daily_date_math",
        "raw_bulk_string",
        "raw_index_template",
        "raw_cluster_settings",
        "raw_snapshot_restore",
        "override_then_old_name",
    }
)


@pytest.fixture(scope="module")
def live_at_start(names):
    """The live state when the module's first refusal test starts; the same at its end."""
    before = live_state(names)
    yield
    assert live_state(names) == before


@pytest.mark.parametrize("path", WRITE_PATHS, ids=[path.id for path in WRITE_PATHS])
def test_every_write_path_is_refused_and_changes_nothing(names, path, live_at_start):
    sampled = path.id in LIVE_SAMPLE
    before = (live_state(names), cluster_state(names)) if sampled else None
    with pytest.raises(LiveIndexWriteError) as raised, sent(names.client) as requests:
        path.call(names.client, names)
    assert type(raised.value) is LiveIndexWriteError
    assert path.expect(names) in str(raised.value)
    assert [request for request in requests if not request.is_read] == []
    if sampled:
        assert (live_state(names), cluster_state(names)) == before


def test_the_live_sample_names_write_paths():
    assert {path.id for path in WRITE_PATHS} >= LIVE_SAMPLE


def scan_live(client: Any, n: Names) -> Any:
    found = list(helpers.scan(client, index=n.live, query={"query": {"match_all": {}}}, size=1))
    assert [hit["_id"] for hit in found] == ["1"]


def point_in_time(client: Any, n: Names) -> Any:
    pit = client.open_point_in_time(index=n.live, keep_alive="1m")["id"]
    found = client.search(pit={"id": pit}, size=1)
    client.close_point_in_time(id=pit)
    assert found["hits"]["total"]["value"] == 1


def derived_test_indices(client: Any, n: Names) -> Any:
    client.indices.create(index=f"{n.test}-2000.01.01")
    client.indices.create(index=f"<{n.test}-{{now/d}}>")
    client.index(index=f"<{n.test}-{{now/d}}>", document={"x": 1}, refresh=True)
    assert client.count(index=f"{n.test}-*")["count"] == 1
    client.indices.delete(index=f"{n.test}-*")


def template_for_test_indices(client: Any, n: Names) -> Any:
    name = f"test_t_{n.tag}"
    client.indices.put_index_template(name=name, index_patterns=[f"{n.test}-t*"], create=True)
    client.indices.put_index_template(name=name, index_patterns=[f"{n.test}-t*"], priority=5)
    client.indices.delete_index_template(name=name)


def bulk_with_action_like_documents(client: Any, n: Names) -> Any:
    # Documents whose only field is an action name are sources, not actions.
    response = client.bulk(
        operations=[
            {"index": {"_index": n.test, "_id": "b1"}},
            {"index": {"_index": n.live}},
            {"delete": {"_index": n.test, "_id": "none"}},
            {"create": {"_index": n.test_alias, "_id": "b2"}},
            {"delete": {"_index": n.alias}},
        ],
        refresh=True,
    )
    assert [next(iter(item.values()))["_index"] for item in response["items"]] == [n.test] * 3


def reaches_the_node(call: Callable[[Any, Names], Any]) -> Callable[[Any, Names], Any]:
    """Wrap a call whose API may be missing on this node: the node's answer is enough."""

    def wrapped(client: Any, n: Names) -> Any:
        try:
            call(client, n)
        except elasticsearch.ApiError as exc:  # the node answered: the guard let it through
            status = exc.meta.status
        else:
            status = 200
        assert status in (200, 400, 404, 405, 500)

    return wrapped


ALLOWED_PATHS = [
    # -- reads of the live index and alias ----------------------------------------------------
    Path("search", lambda c, n: c.search(index=n.live, query={"match_all": {}})),
    Path("search_alias", lambda c, n: c.search(index=n.alias)),
    Path("count", lambda c, n: c.count(index=n.live)),
    Path("get", lambda c, n: c.get(index=n.live, id="1")),
    Path("exists", lambda c, n: c.exists(index=n.alias, id="1")),
    Path("get_source", lambda c, n: c.get_source(index=n.live, id="1")),
    Path("mget", lambda c, n: c.mget(index=n.live, ids=["1"])),
    Path(
        "msearch",
        lambda c, n: c.msearch(searches=[{"index": n.live}, {"query": {"match_all": {}}}]),
    ),
    Path("field_caps", lambda c, n: c.field_caps(index=n.live, fields="*")),
    Path("explain", lambda c, n: c.explain(index=n.live, id="1", query={"match_all": {}})),
    Path("termvectors", lambda c, n: c.termvectors(index=n.live, id="1")),
    Path(
        "validate_query",
        lambda c, n: c.indices.validate_query(index=n.live, query={"match_all": {}}),
    ),
    Path("analyze", lambda c, n: c.indices.analyze(index=n.live, text="Hello")),
    Path("search_shards", lambda c, n: c.search_shards(index=n.live)),
    Path("terms_enum", lambda c, n: c.terms_enum(index=n.live, field="title.keyword")),
    Path("scan_and_clear_scroll", scan_live),
    Path("point_in_time", point_in_time),
    Path("refresh_live", lambda c, n: c.indices.refresh(index=n.live)),
    Path("refresh_everything", lambda c, n: c.indices.refresh()),
    Path("indices_get", lambda c, n: c.indices.get(index=n.live)),
    Path("get_mapping", lambda c, n: c.indices.get_mapping(index=n.live)),
    Path("get_settings", lambda c, n: c.indices.get_settings(index=n.alias)),
    Path("get_alias", lambda c, n: c.indices.get_alias(name=n.alias)),
    Path("exists_index", lambda c, n: c.indices.exists(index=n.live)),
    Path("stats", lambda c, n: c.indices.stats(index=n.live)),
    Path("cat_indices", lambda c, n: c.cat.indices(index=n.live)),
    Path("cluster_health", lambda c, n: c.cluster.health()),
    Path("raw_post_search", raw("POST", "/{live}/_search", {"query": {"match_all": {}}})),
    Path("raw_post_count", raw("POST", "/{alias}/_count", {})),
    Path("raw_get_doc", raw("GET", "/{live}/_doc/1")),
    Path("raw_get_doc_with_body", raw("GET", "/{live}/_search", {"size": 0})),
    Path("raw_head_index", raw("HEAD", "/{live}")),
    Path("raw_encoded_search", raw("POST", "/%3C{live}%3E/_search", {})),
    # -- writes to test indices ---------------------------------------------------------------
    Path("index_test", lambda c, n: c.index(index=n.test, id="t1", document={"x": 1})),
    Path("index_test_alias", lambda c, n: c.index(index=n.test_alias, id="t2", document={})),
    Path("index_test_date_math", lambda c, n: c.index(index=f"<{n.test}>", id="t3", document={})),
    Path("update_test", lambda c, n: c.update(index=n.test, id="1", doc={"x": 2})),
    Path(
        "delete_test_doc", lambda c, n: c.options(ignore_status=404).delete(index=n.test, id="t1")
    ),
    Path("bulk_test", bulk_with_action_like_documents),
    Path(
        "bulk_ndjson_default_index",
        lambda c, n: c.bulk(index=n.test, operations=ndjson({"index": {"_id": "t4"}}, {"a": 1})),
    ),
    Path(
        "helpers_bulk_test", lambda c, n: helpers.bulk(c, [{"_index": n.test_alias, "_id": "t5"}])
    ),
    Path(
        "put_mapping_test",
        lambda c, n: c.indices.put_mapping(index=n.test, properties={"n": {"type": "integer"}}),
    ),
    Path(
        "put_settings_test_wildcard",
        lambda c, n: c.indices.put_settings(
            index=f"{n.test}*", settings={"refresh_interval": "2s"}
        ),
    ),
    Path(
        "put_alias_test",
        lambda c, n: c.indices.put_alias(index=n.test, name=f"{n.test_alias}_extra"),
    ),
    Path(
        "update_aliases_test",
        lambda c, n: c.indices.update_aliases(
            actions=[{"add": {"index": n.test, "alias": f"{n.test}_more"}}]
        ),
    ),
    Path(
        "close_open_test",
        lambda c, n: (c.indices.close(index=n.test), c.indices.open(index=n.test)),
    ),
    Path("derived_test_indices", derived_test_indices),
    Path("test_only_index_template", template_for_test_indices),
    Path("raw_put_test_doc_named_search", raw("PUT", "/{test}/_doc/_search", {"x": 1})),
    Path(
        "raw_test_bulk_string",
        raw("POST", "/_bulk", '{"index": {"_index": "{test}"}}\n{"a": 1}\n', NDJSON),
    ),
    Path(
        "raw_test_aliases_bytes",
        raw(
            "POST",
            "/_aliases",
            b'{"actions": [{"add": {"index": "{test}", "alias": "{test}_bytes"}}, '
            b'{"remove": {"index": "{test}", "alias": "{test}_bytes", "must_exist": false}}]}',
        ),
    ),
    Path(
        "options_client_test",
        lambda c, n: c.options(request_timeout=10).index(index=n.test, document={}),
    ),
    Path(
        "delete_by_query_test",
        reaches_the_node(
            lambda c, n: c.delete_by_query(index=n.test, query={"term": {"_id": "none"}})
        ),
    ),
    Path(
        "reindex_test_to_test",
        reaches_the_node(
            lambda c, n: c.reindex(source={"index": n.test}, dest={"index": f"{n.test}-copy"})
        ),
    ),
]


def test_the_allowed_table_covers_reads_and_test_writes():
    assert len(ALLOWED_PATHS) >= 50
    assert len({path.id for path in ALLOWED_PATHS}) == len(ALLOWED_PATHS)


@pytest.mark.parametrize("path", ALLOWED_PATHS, ids=[path.id for path in ALLOWED_PATHS])
def test_reads_and_test_writes_go_through(names, path):
    before = live_state(names)
    with sent(names.client) as requests:
        path.call(names.client, names)
    assert requests  # they reached the node
    assert live_state(names) == before
