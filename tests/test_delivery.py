"""Queued delivery: one task per committed batch, after the commit; the outbox keeps the rows."""

from __future__ import annotations

from importlib.util import find_spec

import pytest
from django.db import transaction
from django.test import override_settings

from djangoes_dsl import delivery, outbox
from djangoes_dsl.models import PendingOperation
from tests.apps.shop.models import Category, Product
from tests.apps.shop.search_indices import ProductDocument
from tests.indexing_utils import indexed, product_documents, product_rows, reset_index

pytestmark = pytest.mark.django_db(transaction=True)

TASKS_PACKAGE = "django.tasks" if find_spec("django.tasks") else "django_tasks"


def tasks_backend(name: str) -> dict:
    return {"default": {"BACKEND": f"{TASKS_PACKAGE}.backends.{name}"}}


@pytest.fixture(autouse=True)
def fresh_products():
    reset_index(ProductDocument)


def enqueued() -> list:
    """The task results the dummy backend holds (tasks enqueued, not run)."""
    if TASKS_PACKAGE == "django.tasks":
        from django.tasks import task_backends
    else:
        from django_tasks import task_backends
    return list(task_backends["default"].results)


@override_settings(
    DJANGOES_DELIVERY="django_tasks", TASKS=tasks_backend("immediate.ImmediateBackend")
)
def test_the_immediate_backend_delivers_each_batch_at_commit():
    with transaction.atomic():
        for n in range(5):
            Product.objects.create(sku=f"I-{n}", title=f"Immediate {n}")
    Product.objects.create(sku="I-auto", title="autocommit")
    assert product_documents() == product_rows()
    assert len(product_rows()) == 6
    assert PendingOperation.objects.count() == 0


@override_settings(DJANGOES_DELIVERY="django_tasks", TASKS=tasks_backend("dummy.DummyBackend"))
def test_one_task_per_committed_batch_and_none_for_a_rollback():
    shoes = Category.objects.create(name="shoes")  # a task of its own (a related row)
    outbox.deliver(*enqueued()[-1].args)
    before = len(enqueued())
    with transaction.atomic():
        for n in range(10):
            Product.objects.create(sku=f"Q-{n}", title=f"Queued {n}", category=shoes)
        assert len(enqueued()) == before  # nothing before the commit
    tasks = enqueued()[before:]
    assert len(tasks) == 1  # one task for the batch, not one per row
    ((database, ids),) = [task.args for task in tasks]
    assert database == "default"
    assert sorted(ids) == sorted(PendingOperation.objects.values_list("pk", flat=True))
    assert indexed(ProductDocument) == {}  # the web process sent nothing

    def roll_back():
        with transaction.atomic():
            Product.objects.create(sku="Q-x", title="rolled back")
            raise LookupError("roll back")

    with pytest.raises(LookupError):
        roll_back()
    assert len(enqueued()) == before + 1
    assert PendingOperation.objects.count() == 10

    # What the worker does with the task; running it twice changes nothing.
    assert outbox.deliver(database, ids)["sent"] == 10
    assert outbox.deliver(database, ids) == {
        "claimed": 0,
        "sent": 0,
        "retried_later": 0,
        "failed": 0,
    }
    assert product_documents() == product_rows()
    assert PendingOperation.objects.count() == 0


@pytest.fixture
def broker_down():
    """A Celery app whose broker does not answer, current for one test."""
    from celery import Celery, current_app

    before = current_app._get_current_object()
    app = Celery("broker-down", broker="redis://127.0.0.1:1/0", set_as_current=True)
    app.conf.broker_connection_timeout = 2
    yield app
    before.set_current()
    delivery.resume()


@override_settings(DJANGOES_DELIVERY="celery")
def test_a_batch_that_cannot_be_enqueued_stays_in_the_outbox_for_the_drainer(broker_down, caplog):
    Product.objects.create(sku="C-1", title="broker down")
    assert "Could not enqueue the delivery of 1 indexing operation(s) (celery: " in caplog.text
    assert "stay in the outbox" in caplog.text
    assert PendingOperation.objects.count() == 1
    # For a moment this process leaves its batches to the drainer, without trying again.
    caplog.clear()
    Product.objects.create(sku="C-2", title="broker still down")
    assert caplog.text == ""
    assert PendingOperation.objects.count() == 2
    assert indexed(ProductDocument) == {}
    outbox.drain()
    assert product_documents() == product_rows()
