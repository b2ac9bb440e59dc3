"""The signal-indexing behaviours of tests/test_signals.py, delivered by real task workers.

Each behaviour runs under each queued mode — django-tasks-db's ``db_worker`` and a Celery
worker on Redis, both separate processes — and must end as it does inline: the tests read
the index once the workers have delivered every committed operation.
"""

from __future__ import annotations

import inspect

import pytest
from django.db import transaction

from djangoes_dsl.models import PendingOperation
from tests import test_signals
from tests.apps.blog.search_indices import ArticleDocument
from tests.apps.shop.models import Product
from tests.apps.shop.search_indices import ProductDocument
from tests.indexing_utils import (
    count_requests,
    product_documents,
    product_rows,
    reset_index,
)
from tests.workers import wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
    pytest.mark.workers,
]

#: What a task worker must do as the web process does inline. (The inline-only ones count
#: the web process's requests or expect its failures.)
BEHAVIOURS = [
    test_signals.test_save_update_and_delete_are_reflected,
    test_signals.test_writes_wait_for_commit_and_a_rollback_indexes_nothing,
    test_signals.test_a_rolled_back_savepoint_drops_only_its_own_writes,
    test_signals.test_a_thousand_saves_in_one_transaction_take_at_most_two_bulk_requests,
    test_signals.test_a_row_deleted_in_the_transaction_that_created_it_is_not_indexed,
    test_signals.test_many_to_many_changes_reindex_the_row,
    test_signals.test_related_model_changes_reindex_the_rows_that_embed_them,
    test_signals.test_other_models_and_documents_are_independent,
    test_signals.test_indexing_paused_skips_all_or_some_documents,
    test_signals.test_ignore_signals_on_a_document,
    test_signals.test_the_processor_can_be_switched_off_by_setting,
]


@pytest.fixture(autouse=True)
def fresh_indices():
    """Empty indices before and after each test: the worker's writes are its own, not the
    test's, and the test's scope does not undo them."""
    reset_index(ProductDocument)
    reset_index(ArticleDocument)
    yield
    reset_index(ProductDocument)
    reset_index(ArticleDocument)


@pytest.mark.parametrize(
    "behaviour", BEHAVIOURS, ids=[b.__name__.removeprefix("test_") for b in BEHAVIOURS]
)
def test_signal_indexing_through_a_worker(queued, behaviour, request):
    parameters = inspect.signature(behaviour).parameters
    fixtures = {name: request.getfixturevalue(name) for name in parameters}
    behaviour(**fixtures)
    assert PendingOperation.objects.count() == 0  # the worker settled every row


def test_the_web_process_never_sends(queued):
    with count_requests(ProductDocument) as requests:
        with transaction.atomic():
            for n in range(20):
                Product.objects.create(sku=f"W-{n}", title=f"Worker {n}")
        Product.objects.filter(sku="W-0").get().delete()
    assert requests.paths == []  # not one request to Elasticsearch from this process
    assert product_documents() == product_rows()
    assert len(product_rows()) == 19


def test_a_refused_operation_is_kept_by_the_worker(queued, broken_product_mapping):
    product = Product.objects.create(sku="R-1", title="refused")
    wait_for(
        lambda: PendingOperation.objects.filter(
            object_pk=str(product.pk), state=PendingOperation.State.FAILED
        ).exists(),
        "the worker to mark the refused operation",
        timeout=60,
    )
    row = PendingOperation.objects.get(object_pk=str(product.pk))
    assert "sku" in row.last_error
    row.delete()
