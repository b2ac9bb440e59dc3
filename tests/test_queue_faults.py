"""Faults of queued delivery, with real workers, a real broker and the fault suite's node.

- A worker SIGKILLed in the middle of a task (its bulk request held by a frozen node), with
  more batches committed while no worker runs: the killed task's rows come back to the
  drainer when their claim expires (the drainer's clock is moved past it: nobody waits for
  the lease); the others are delivered by the restarted worker.
- The broker (Redis) restarted: the tasks it held are gone, batches committed while it is
  down cannot be enqueued; the outbox keeps them all, and the drainer sends them.

Every scenario ends with an exact comparison of the database and the index after one
``search_index sync``: 0 lost, 0 stale, 0 ghosts (run with ``-s`` to see the figures).
"""

from __future__ import annotations

import time

import pytest
from django.test import override_settings

from djangoes_dsl import delivery, outbox
from djangoes_dsl.clock import ManualClock
from djangoes_dsl.models import PendingOperation
from tests import workers
from tests.faults import FaultNode, compare
from tests.indexing_utils import delivered, product_documents, product_rows
from tests.test_faults import catalogue, changes, sync
from tests.workers import CELERY, DJANGO_TASKS, TaskWorker, wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
    pytest.mark.workers,
]


@pytest.fixture
def serving(fault_node: FaultNode):
    if not fault_node.healthy():
        fault_node.restart()
    with fault_node.serving():
        yield fault_node


def queued_on(engine: str):
    overrides: dict = {
        "DJANGOES_DELIVERY": engine,
        "DJANGOES_OUTBOX_CLAIM_LEASE": workers.TEST_CLAIM_LEASE,
    }
    if engine == DJANGO_TASKS:
        overrides["TASKS"] = workers.tasks_settings()
    else:
        workers.require_redis()
        workers.flush_broker()
        import tests.celery_app  # noqa: F401
    return override_settings(**overrides)


def claims_expired() -> bool:
    return not PendingOperation.objects.filter(claimed_until__gt=outbox.now()).exists()


def settle_and_compare() -> tuple[str, object]:
    """Once no claim runs, one ``sync``; return its output and the comparison (once the
    workers delivered what they took meanwhile)."""
    wait_for(claims_expired, "the running claims to end", timeout=60)
    out = sync()
    wait_for(delivered, "the workers to deliver what they took", timeout=60)
    return out, compare(product_rows(), product_documents())


@pytest.mark.parametrize("engine", [DJANGO_TASKS, CELERY])
def test_worker_killed_mid_task(serving: FaultNode, engine: str, monkeypatch):
    with queued_on(engine):
        worker = TaskWorker(engine, serving.url, es_timeout=5, name="killed").start()
        try:
            shoes, _, red = catalogue()
            changes(shoes, red, 0, 20)
            wait_for(delivered, "the worker to deliver", timeout=60)
            assert compare(product_rows(), product_documents()).exact

            serving.freeze()  # the worker's next bulk request hangs in the node
            try:
                started = time.monotonic()
                changes(shoes, red, 20, 20)
                saving = time.monotonic() - started
                wait_for(
                    lambda: PendingOperation.objects.exclude(claim="").exists(),
                    "the worker to claim a batch",
                    timeout=60,
                )
                worker.kill()  # in the middle of the task
            finally:
                serving.thaw()
            dead = PendingOperation.objects.exclude(claim="")
            dead_claims = set(dead.values_list("pk", flat=True))
            expiry = max(dead.values_list("claimed_until", flat=True))
            changes(shoes, red, 40, 20)  # no worker runs: the tasks wait
            worker.start()
            # The dead worker's claims expire, as this process's drainer sees it: now. The
            # restarted worker's claims, taken later, run on.
            clock = ManualClock()
            clock.set(expiry.timestamp() + 0.001)
            monkeypatch.setattr(outbox, "clock", clock)
            assert not PendingOperation.objects.filter(
                pk__in=dead_claims, claimed_until__gt=outbox.now()
            ).exists()
            out, after = settle_and_compare()
        except BaseException:
            print(f"{engine} worker log:\n{worker.tail()}")
            raise
        finally:
            worker.stop()
    print(
        f"\n{engine} worker SIGKILLed mid-task ({saving:.2f}s for the saves while the node "
        f"was frozen): after restart and one sync {after}"
    )
    assert "0 to retry later, 0 refused" in out
    assert after.exact, after
    assert PendingOperation.objects.count() == 0


def test_broker_restarted(serving: FaultNode):
    with queued_on(CELERY):
        worker = TaskWorker(CELERY, serving.url, es_timeout=5, name="broker").start()
        try:
            shoes, _, red = catalogue()
            changes(shoes, red, 0, 20)
            wait_for(delivered, "the worker to deliver", timeout=60)

            # Tasks in the broker when it restarts are gone (no persistence).
            worker.stop()
            changes(shoes, red, 20, 20)
            queued = PendingOperation.objects.count()
            workers.redis_script("stop")
            workers.redis_script("start")
            worker.start()

            # While it is down, batches cannot be enqueued: they stay in the outbox.
            workers.redis_script("stop")
            started = time.monotonic()
            changes(shoes, red, 40, 20)
            saving = time.monotonic() - started
            workers.redis_script("start")
            delivery.resume()  # as it does by itself a few seconds after a failure

            # The worker reconnects and delivers what is enqueued from now on.
            before = worker.tail(100_000).count("succeeded in")
            changes(shoes, red, 60, 20)
            wait_for(
                lambda: worker.tail(100_000).count("succeeded in") > before,
                "the worker to deliver after the broker restart",
                timeout=120,
            )
            waiting = PendingOperation.objects.count()
            out, after = settle_and_compare()
        except BaseException:
            print(f"celery worker log:\n{worker.tail()}")
            raise
        finally:
            worker.stop()
    print(
        f"\nbroker restarted: {queued} operations queued when it went, {waiting} waiting for "
        f"the drainer ({saving:.2f}s for the saves while it was down); after one sync {after}"
    )
    assert waiting > 0
    assert "0 to retry later, 0 refused" in out
    assert after.exact, after
    assert PendingOperation.objects.count() == 0
