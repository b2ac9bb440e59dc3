"""A forked child never uses its parent's client: it gets fresh ones that work."""

from __future__ import annotations

import json
import multiprocessing
import os
import traceback

from djangoes import ConnectionHandler, connections
from djangoes.signals import connections_reset
from tests.settings import ES_URL


def in_child(work) -> dict:
    """Run ``work()`` in a child made by os.fork() and return what it returned (JSON)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        status = 0
        try:
            os.close(read_end)
            try:
                result = {"ok": work()}
            except BaseException:
                result = {"error": traceback.format_exc()}
            with os.fdopen(write_end, "w") as out:
                json.dump(result, out)
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end) as answer:
        data = answer.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    result = json.loads(data)
    assert "error" not in result, result.get("error")
    return result["ok"]


def test_a_forked_child_gets_a_new_client_that_works():
    parent_backend = connections["default"]
    parent_client = parent_backend.client
    parent_count = parent_backend.count()["count"]
    parent_generation = connections.generation
    resets = []

    def record(handler, **kwargs):
        resets.append(os.getpid())

    connections_reset.connect(record)
    try:

        def child():
            built = connections.all(initialized_only=True)  # dropped at the fork, at once
            backend = connections["default"]
            return {
                "pid": os.getpid(),
                "built_at_start": len(built),
                "generation": connections.generation,
                "resets": resets,
                "same_backend": backend is parent_backend,
                "same_client": backend.client is parent_client,
                "names": backend.index_names,
                "count": backend.count()["count"],
                "health": backend.client.cluster.health()["status"],
            }

        result = in_child(child)
    finally:
        connections_reset.disconnect(record)

    assert result["pid"] != os.getpid()
    assert result["built_at_start"] == 0
    # The names in force do not change with a fork: nothing derived from them is dropped.
    assert result["generation"] == parent_generation
    assert result["resets"] == []
    assert result["same_backend"] is False
    assert result["same_client"] is False
    assert result["names"] == parent_backend.index_names
    assert result["count"] == parent_count
    assert result["health"] in ("green", "yellow")
    # The parent keeps its own client, untouched and working.
    assert resets == []
    assert connections["default"] is parent_backend
    assert parent_backend.client is parent_client
    assert parent_backend.count()["count"] == parent_count


def test_check_for_multiprocess_resets_any_handler_in_a_child():
    handler = ConnectionHandler(servers={"default": {"HOSTS": [ES_URL]}}, indices={})
    parent_client = handler["default"].client

    def child():
        client = handler["default"].client  # no at-fork hook for this handler: PID check
        return {
            "same": client is parent_client,
            "status": client.cluster.health()["status"],
        }

    result = in_child(child)
    assert result["same"] is False
    assert result["status"] in ("green", "yellow")
    assert handler["default"].client is parent_client
    handler.close_all()


def _count_in_child(queue, parent_client_id):
    backend = connections["default"]
    queue.put(
        {
            "pid": os.getpid(),
            "fresh": id(backend.client) != parent_client_id,
            "count": backend.count()["count"],
        }
    )


def test_multiprocessing_fork_workers_get_their_own_clients():
    parent_client = connections["default"].client
    expected = connections["default"].count()["count"]
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    workers = [
        context.Process(target=_count_in_child, args=(queue, id(parent_client))) for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert len({result["pid"] for result in results}) == 2
    assert all(result["fresh"] for result in results)  # parent's client is alive: ids differ
    assert [result["count"] for result in results] == [expected, expected]
    assert connections["default"].client is parent_client
