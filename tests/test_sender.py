"""The bulk engine (djangoes_dsl.sender) against the real node: ids, versions, chunks cut by
count and by bytes, 429 rejections retried with a doubling wait, failures per action."""

from __future__ import annotations

import pytest

from djangoes import connections
from djangoes_dsl.sender import Sender
from tests.apps.shop.search_indices import ProductDocument


def client():
    return connections["default"].client


@pytest.fixture
def index():
    name = f"{ProductDocument.get_index_name()}-sender"
    client().indices.create(
        index=name,
        mappings={"properties": {"n": {"type": "integer"}, "text": {"type": "keyword"}}},
    )
    try:
        yield name
    finally:
        client().indices.delete(index=name)


def action(index: str, doc_id: str, n: object, version: int = 5, **source) -> dict:
    return {"_op_type": "index", "_index": index, "_id": doc_id, "_source": {"n": n, **source},
            "version": version, "version_type": "external_gte"}  # fmt: skip


def bulk_requests(index: str) -> int:
    """Return how many bulk requests the node applied to ``index`` (its one shard's count)."""
    stats = client().indices.stats(index=index, metric="bulk")
    return stats["indices"][index]["primaries"]["bulk"]["total_operations"]


def test_any_document_id_and_what_the_node_refuses(index):
    ids = ['quote " and \\ backslash', "ünïcode/ключ", "kind:7", "8"]
    page = [action(index, doc_id, number) for number, doc_id in enumerate(ids)]
    refused = action(index, "9", "nine")  # not an integer
    plain = {"_index": index, "_id": "10", "_source": {"n": 10}}  # any other action
    result = Sender(client(), chunk_size=2).send_pages([page, [refused, plain]])
    client().indices.refresh(index=index)
    assert (result.indexed, result.requests) == (5, 3)
    ((error),) = result.errors
    assert (error["position"], error["_id"], error["_index"], error["status"]) == (
        4,
        "9",
        index,
        400,
    )
    assert error["error"]["type"] == "document_parsing_exception"
    for number, doc_id in enumerate(ids):
        found = client().get(index=index, id=doc_id)
        assert (found["_source"], found["_version"]) == ({"n": number}, 5)
    assert client().get(index=index, id="10")["_source"] == {"n": 10}
    # Older versions (a fill that read before a newer write): the node keeps what it has
    # (409), and that is no error; deleting what is not there is none either.
    older = [dict(one, version=4, _source={"n": -1}) for one in page]
    gone = {"_op_type": "delete", "_index": index, "_id": "never", "version": 6,
            "version_type": "external_gte"}  # fmt: skip
    again = Sender(client(), chunk_size=3, parallel=2).send([*older, gone])
    assert (again.indexed, again.errors, again.requests) == (len(ids) + 1, [], 2)
    assert client().get(index=index, id=ids[0])["_source"] == {"n": 0}


def test_a_chunk_is_cut_by_bytes_as_well_as_by_count(index):
    big = "x" * 1000  # each action is a little over 1,000 bytes of NDJSON
    actions = [action(index, str(n), n, text=big) for n in range(10)]
    # Three actions fit under 3,500 bytes; four do not: 3 + 3 + 3 + 1 requests.
    result = Sender(client(), chunk_size=100, max_bytes=3500).send(actions)
    assert (result.indexed, result.errors, result.requests) == (10, [], 4)
    assert bulk_requests(index) == 4
    # An action larger than the limit goes alone; the count still cuts (2 per request).
    replies = list(Sender(client(), chunk_size=2, max_bytes=10).stream(
        action(index, str(n), n, version=6) for n in range(5)
    ))  # fmt: skip
    assert [reply.positions for reply in replies] == [range(n, n + 1) for n in range(5)]
    replies = list(Sender(client(), chunk_size=2).stream(
        action(index, str(n), n, version=7) for n in range(5)
    ))  # fmt: skip
    assert [reply.positions for reply in replies] == [range(0, 2), range(2, 4), range(4, 5)]
    assert bulk_requests(index) == 4 + 5 + 3
    client().indices.refresh(index=index)
    assert client().count(index=index)["count"] == 10


def block(index: str, blocked: bool) -> None:
    """Make the node answer 429 to every write to ``index`` (a flood-stage disk block)."""
    client().indices.put_settings(
        index=index, settings={"index.blocks.read_only_allow_delete": True if blocked else None}
    )


def test_actions_the_node_rejects_with_429_are_sent_again_after_a_wait(index):
    block(index, True)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            block(index, False)  # the node has room again before the third attempt

    sender = Sender(client(), chunk_size=10, initial_backoff=0.5, sleep=sleep)
    result = sender.send(action(index, str(n), n) for n in range(3))
    assert (result.indexed, result.errors, result.requests) == (3, [], 3)
    assert waits == [0.5, 1.0]  # doubled
    client().indices.refresh(index=index)
    assert client().count(index=index)["count"] == 3


def test_429_after_the_last_retry_is_reported_per_action(index):
    block(index, True)
    waits: list[float] = []
    sender = Sender(client(), chunk_size=10, max_retries=2, initial_backoff=1, sleep=waits.append)
    result = sender.send(action(index, f"id-{n}", n) for n in range(3))
    assert (result.indexed, result.requests, waits) == (0, 3, [1, 2])
    assert [(error["position"], error["_id"], error["status"]) for error in result.errors] == [
        (0, "id-0", 429),
        (1, "id-1", 429),
        (2, "id-2", 429),
    ]
    assert {error["error"]["type"] for error in result.errors} == {"cluster_block_exception"}


def test_a_reading_error_is_raised_after_the_sending_thread_ended(index):
    def pages():
        yield [action(index, "1", 1)]
        raise ValueError("prepare() failed")

    with pytest.raises(ValueError, match="prepare"):
        Sender(client(), chunk_size=1).send_pages(pages())
    client().indices.refresh(index=index)
    assert client().count(index=index)["count"] == 1


def test_sources_are_the_json_of_the_clients_serializer(index):
    """The sender keeps one JSON encoder for a stream of elasticsearch-py's serializer: the
    node stores exactly what that serializer writes, and refuses what it refuses."""
    import datetime
    import decimal
    import json
    import uuid

    from elasticsearch import SerializationError

    serializer = client().transport.serializers.get_serializer("application/json")
    source = {
        "n": 1,
        "text": 'ünïcode «quotes» " and \\ \u2028',
        "when": datetime.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.UTC),
        "day": datetime.date(2026, 1, 2),
        "price": decimal.Decimal("12.50"),
        "key": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "nested": {"list": [1.5, None, 2.25], "flag": True},
    }
    result = Sender(client()).send([{**action(index, "1", 1), "_source": source}])
    assert (result.indexed, result.errors) == (1, [])
    stored = client().get(index=index, id="1")["_source"]
    assert stored == json.loads(serializer.dumps(source))
    assert stored["when"] == "2026-01-02T03:04:05.678901+00:00"
    with pytest.raises(SerializationError, match="Unable to serialize"):
        Sender(client()).send([action(index, "2", 2, thing=object())])


def test_writes_through_an_alias_that_must_exist(index):
    """Actions with ``require_alias`` (a distributed fill's) reach the alias's index; once the
    alias is gone each fails with the node's error, and nothing creates an index in its name."""
    alias = f"{index}-filling"
    client().indices.put_alias(index=index, name=alias)
    page = [{**action(alias, str(n), n), "require_alias": True} for n in range(3)]
    result = Sender(client()).send(page)
    assert (result.indexed, result.errors) == (3, [])
    for n in range(3):
        found = client().get(index=index, id=str(n))
        assert (found["_source"], found["_version"]) == ({"n": n}, 5)
    client().indices.delete_alias(index=index, name=alias)
    late = Sender(client()).send([{**action(alias, "3", 3), "require_alias": True}])
    (error,) = late.errors
    assert (late.indexed, error["_id"], error["status"]) == (0, "3", 404)
    assert error["error"]["type"] == "index_not_found_exception"
    assert "require_alias" in error["error"]["reason"]
    assert not client().indices.exists(index=alias)
