"""A document never goes back in time: a late write of an older read is refused."""

from __future__ import annotations

import pytest
from elasticsearch import helpers

from djangoes import connections
from djangoes_dsl.indexing import send_operations
from djangoes_dsl.versions import VERSION_TYPE
from tests.apps.shop.models import Product
from tests.apps.shop.search_indices import ProductDocument
from tests.indexing_utils import indexed, reset_index

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_products():
    reset_index(ProductDocument)


def stale_actions(product: Product) -> list[dict]:
    """The actions a sender that read ``product`` now would send (it is delayed)."""
    queryset = ProductDocument.get_queryset().filter(pk=product.pk)
    return [
        action
        for _, action in ProductDocument.read_actions(queryset, ProductDocument.get_index_name())
    ]


def send_late(actions: list[dict]) -> list[int]:
    """Send ``actions`` now; return the status of each."""
    client = connections["default"].client
    statuses = []
    for _ok, item in helpers.streaming_bulk(client, actions, raise_on_error=False):
        ((_, result),) = item.items()
        statuses.append(result["status"])
    return statuses


def test_every_action_carries_an_external_version():
    product = Product.objects.create(sku="V-1", title="versioned")
    (action,) = stale_actions(product)
    assert action["version_type"] == VERSION_TYPE
    assert isinstance(action["version"], int)
    assert action["version"] > 1_600_000_000_000_000  # microseconds since 1970


def test_a_late_write_of_an_older_read_does_not_overwrite_a_newer_one():
    product = Product.objects.create(sku="V-1", title="first")
    late = stale_actions(product)  # read now, delivered after the next save
    product.title = "second"
    product.save()  # read and sent after this commit: a newer version
    assert indexed(ProductDocument, "title") == {str(product.pk): "second"}

    assert send_late(late) == [409]  # refused: the index holds a newer read
    assert indexed(ProductDocument, "title") == {str(product.pk): "second"}


def test_a_deleted_row_stays_deleted_when_an_older_read_arrives_late():
    product = Product.objects.create(sku="V-1", title="doomed")
    late = stale_actions(product)
    product.delete()
    assert indexed(ProductDocument) == {}

    assert send_late(late) == [409]  # the delete left a newer tombstone
    assert indexed(ProductDocument) == {}


def test_a_refused_stale_write_is_not_a_failure():
    product = Product.objects.create(sku="V-1", title="first")
    late = stale_actions(product)
    product.title = "second"
    product.save()
    send_late(late)
    # Sending the row again reads it again: the same (or a newer) state, never an error.
    assert send_operations({(ProductDocument, product.pk): None}) == []
    assert indexed(ProductDocument, "title") == {str(product.pk): "second"}
