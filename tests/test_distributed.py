"""Distributed rebuilds and populates: primary-key ranges as tasks, two real worker processes.

Each engine (django-tasks-db's db_worker, Celery on Redis) runs two worker processes; the test
process is the coordinator. Every rebuild ends with an exact comparison of the database and
the index, and with the old index deleted (no leftovers).
"""

from __future__ import annotations

import io
import threading
import time
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings

from djangoes import connections
from djangoes_dsl import indexing_paused
from djangoes_dsl.clock import ManualClock
from djangoes_dsl.distributed import (
    DONE,
    RUNNING,
    DistributedRebuild,
    populate_distributed,
)
from djangoes_dsl.journal import journal_index
from djangoes_dsl.models import PendingOperation
from djangoes_dsl.rebuild import RebuildError
from tests import workers
from tests.apps.shop.models import Category, Product, Tag
from tests.apps.shop.search_indices import ProductDocument
from tests.barrier import Barrier
from tests.faults import compare
from tests.indexing_utils import (
    delivered,
    fresh_index,
    leftovers,
    product_documents,
    product_rows,
)
from tests.settings import ES_URL
from tests.workers import CELERY, DJANGO_TASKS, TaskWorker, wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
    pytest.mark.workers,
]

#: The range lease of the workers and the coordinator. No test waits for it: the killed-worker
#: test moves the coordinator's clock past the dead worker's lease.
LEASE = 30.0


@pytest.fixture(scope="module")
def barrier(tmp_path_factory: pytest.TempPathFactory) -> Barrier:
    """The barrier of the pair's workers (tests/barrier.py), armed by the tests that use it."""
    return Barrier(tmp_path_factory.mktemp("barrier"))


@pytest.fixture(scope="module", params=[DJANGO_TASKS, CELERY])
def pair(request: pytest.FixtureRequest, django_db_setup: None, barrier: Barrier):
    """Two worker processes of one engine."""
    engine = request.param
    if engine == CELERY:
        workers.require_redis()
        workers.flush_broker()
        import tests.celery_app  # noqa: F401
    env = {
        "DJANGOES_REBUILD_RANGE_LEASE": str(LEASE),
        # A killed worker holds no task of another range (tests/worker_settings.py).
        "DJANGOES_WORKER_ONE_TASK_AT_A_TIME": "1",
        **barrier.environment(),
    }
    started = [TaskWorker(engine, ES_URL, name=f"filler{n}", extra_env=env).start() for n in (1, 2)]
    yield started
    for worker in started:
        worker.stop()


@pytest.fixture
def engine(pair: list[TaskWorker]):
    """Queued delivery and distributed fills on the pair's engine, for one test."""
    engine = pair[0].engine
    overrides: dict = {
        "DJANGOES_DELIVERY": engine,
        "DJANGOES_REBUILD_RANGE_LEASE": LEASE,
        "DJANGOES_OUTBOX_CLAIM_LEASE": workers.TEST_CLAIM_LEASE,
    }
    if engine == DJANGO_TASKS:
        overrides["TASKS"] = workers.tasks_settings()
    with override_settings(**overrides), fresh_index(ProductDocument):
        yield engine
        wait_for(delivered, "the workers to deliver the outbox", timeout=60)
    for worker in pair:
        if not worker.alive:
            worker.start()  # a test killed it


def seed(rows: int) -> None:
    shoes, hats = Category.objects.create(name="shoes"), Category.objects.create(name="hats")
    red = Tag.objects.create(name="red")
    with indexing_paused():
        Product.objects.bulk_create(
            Product(sku=f"D-{n}", title=f"Distributed {n}", category=shoes if n % 2 else hats)
            for n in range(rows)
        )
        Product.tags.through.objects.bulk_create(
            Product.tags.through(product_id=pk, tag_id=red.pk)
            for pk in Product.objects.values_list("pk", flat=True)[: rows // 3]
        )


def serving_indices() -> list[str]:
    name = ProductDocument.get_index_name()
    return connections["default"].concrete_indices(name)


def worker_logs(pair: list[TaskWorker]) -> list[str]:
    return [worker.tail(100_000) for worker in pair]


def test_two_workers_fill_the_ranges_and_the_rebuild_swaps(engine, pair):
    seed(3000)
    old = serving_indices()
    seen: list[tuple[int, int]] = []
    edited = threading.Event()

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        if done and not edited.is_set():  # a write during the fill: the journal has it
            edited.set()
            Product.objects.filter(sku="D-7").get().delete()
            product = Product.objects.get(sku="D-8")
            product.title = "edited during the fill"
            product.save()

    rebuild = DistributedRebuild("products", ranges=6, chunk_size=250, progress=progress)
    new = rebuild.run()
    after = compare(product_rows(), product_documents())
    ran = [log.count("fill_range") for log in worker_logs(pair)]
    print(f"\n{engine}: distributed rebuild with two workers (log lines of ranges: {ran}): {after}")
    assert after.exact, after
    assert serving_indices() == [new]
    assert new not in old
    assert leftovers(ProductDocument) == []
    assert seen[-1][0] == seen[-1][1]  # the last progress line: all done
    assert rebuild.result is not None
    assert rebuild.result.indexed == 3000
    # Only the workers fill ranges (the coordinator enqueues and waits); how the two share
    # them depends on who polls first: the killed-worker test below needs the second one.


def test_a_worker_killed_midway_and_the_rebuild_still_completes(engine, pair, barrier):
    seed(3000)
    clock = ManualClock()
    # The first worker to read its third page of 50 rows (of a range of 1,500) stops there,
    # in the middle of its range, until the test kills it.
    barrier.arm(page=3)
    killed: dict[str, Any] = {}

    def progress(done: int, total: int) -> None:
        if killed:
            # Not a synchronisation: a coordinator that never fills the range again fails.
            if time.monotonic() - killed["at"] > 120:
                raise AssertionError(f"{killed['range'].describe()} was not filled again.")
            return
        pid = barrier.wait()
        victim = next(worker for worker in pair if worker.pid == pid)
        assert rebuild.distributed is not None
        board = rebuild.distributed.board
        (mine,) = [
            r for r, *_ in board.all(2) if r.state == RUNNING and r.owner.endswith(f":{pid}")
        ]
        victim.kill()
        # Changes of rows the victim had indexed, made after it died: the new index must
        # have them (the journal, and the range filled again).
        rows = Product.objects.order_by("pk")
        if mine.after is not None:
            rows = rows.filter(pk__gt=mine.after)
        changed, deleted = rows[:2]
        changed.title = "changed after the kill"
        changed.save()
        deleted.delete()
        killed.update(victim=victim, range=mine, changed=changed.pk, deleted=deleted.pk)
        # The other range is done by the survivor; the victim's stays claimed by a dead
        # worker. Its lease expires, as the coordinator sees it: at once.
        wait_for(
            lambda: [r.state for r, *_ in board.all(2) if r.number != mine.number] == [DONE],
            "the surviving worker to fill its range",
        )
        clock.set(mine.lease_until + 0.001)
        killed["at"] = time.monotonic()

    rebuild = DistributedRebuild(
        "products", ranges=2, chunk_size=50, progress=progress, clock=clock
    )
    try:
        new = rebuild.run()
    finally:
        barrier.disarm()
    after = compare(product_rows(), product_documents())
    assert rebuild.distributed is not None
    victim, lost = killed["victim"], killed["range"]
    print(
        f"\n{engine}: a worker SIGKILLed midway ({victim.events}); re-queued: "
        f"{rebuild.distributed.retries}; after the rebuild {after}"
    )
    assert not victim.alive
    assert rebuild.distributed.retries == [
        f"{lost.describe()}: its worker {lost.owner} stopped renewing its lease (lost)"
    ]
    assert after.exact, after
    assert after.rows == 2999
    documents = product_documents()
    assert documents[str(killed["changed"])][0] == "changed after the kill"
    assert str(killed["deleted"]) not in documents
    assert serving_indices() == [new]
    assert leftovers(ProductDocument) == []


class Cancel(Exception):
    """Stands for Ctrl-C in the coordinator."""


def test_a_cancelled_rebuild_leaves_the_old_index_serving(engine, pair):
    seed(3000)
    old = serving_indices()

    def progress(done: int, total: int) -> None:
        if done:
            raise Cancel

    rebuild = DistributedRebuild("products", ranges=6, chunk_size=100, progress=progress)
    with pytest.raises(Cancel):
        rebuild.run()
    client = connections["default"].client
    assert serving_indices() == old
    assert not client.indices.exists(index=rebuild.new_index)
    assert not client.indices.exists(index=journal_index(ProductDocument.get_index_name()))
    # The workers stop at their next page: their writes cannot re-create the index.
    for worker in pair:
        worker.stop()
        worker.start()
    assert not client.indices.exists(index=rebuild.new_index)
    assert leftovers(ProductDocument) == []


def test_distributed_populate(engine, pair):
    seed(2000)
    populated = populate_distributed("products", ranges=4, chunk_size=300)
    assert populated.indexed == 2000
    assert compare(product_rows(), product_documents()).exact
    assert leftovers(ProductDocument) == []


def test_the_command_rebuilds_distributed_with_progress(engine, pair):
    seed(1500)
    out = io.StringIO()
    call_command(
        "search_index",
        "rebuild",
        "products",
        "--distributed",
        "--ranges",
        "3",
        "--no-input",
        stdout=out,
    )
    assert "1,500/1,500 (100%)" in out.getvalue()
    assert "now points to" in out.getvalue()
    assert compare(product_rows(), product_documents()).exact
    assert PendingOperation.objects.filter(state="failed").count() == 0


@override_settings(DJANGOES_DELIVERY="inline")
def test_a_distributed_rebuild_needs_a_task_engine():
    with fresh_index(ProductDocument), pytest.raises(RebuildError, match="task engine"):
        DistributedRebuild("products").run()
