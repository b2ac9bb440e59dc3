"""Bulk ORM writes index what they touch on commit, in bulk; only indexed models pay."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.db.models.deletion import Collector

from djangoes_dsl import Document, index_on_commit, indexing_paused, register, registry
from tests.apps.shop.models import AuditLog, Category, Product, Tag
from tests.apps.shop.search_indices import ProductDocument
from tests.indexing_utils import count_requests, indexed, reset_index

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_products():
    reset_index(ProductDocument)


def titles() -> dict[str, str]:
    return {str(pk): title for pk, title in Product.objects.values_list("pk", "title")}


def test_bulk_create_indexes_the_new_rows_on_commit_in_bulk():
    with count_requests(ProductDocument) as requests, transaction.atomic():
        Product.objects.bulk_create(Product(sku=f"B-{n}", title=f"Bulk {n}") for n in range(100))
        assert indexed(ProductDocument) == {}
    assert indexed(ProductDocument, "title") == titles()
    assert len(titles()) == 100
    assert requests.count("_bulk") == 1


def test_update_and_bulk_update_index_the_touched_rows():
    Product.objects.bulk_create(Product(sku=f"U-{n}", title=f"Old {n}") for n in range(20))
    Product.objects.filter(sku__in=[f"U-{n}" for n in range(10)]).update(title="Updated")
    assert indexed(ProductDocument, "title") == titles()
    rows = list(Product.objects.order_by("pk")[10:15])
    for row in rows:
        row.title = f"bulk updated {row.pk}"
    Product.objects.bulk_update(rows, ["title"])
    assert indexed(ProductDocument, "title") == titles()
    assert sum(title == "Updated" for title in indexed(ProductDocument, "title").values()) == 10


def test_an_update_of_a_related_model_reindexes_the_rows_that_embed_it():
    shoes = Category.objects.create(name="shoes")
    Product.objects.bulk_create(
        Product(sku=f"R-{n}", title=f"Shoe {n}", category=shoes) for n in range(30)
    )
    Category.objects.filter(pk=shoes.pk).update(name="boots")
    assert set(indexed(ProductDocument, "category").values()) == {"boots"}


def test_a_through_table_bulk_create_is_indexed_with_index_on_commit():
    Product.objects.bulk_create(Product(sku=f"M-{n}", title=f"Tagged {n}") for n in range(25))
    sale = Tag.objects.create(name="sale")
    through = Product.tags.through
    with transaction.atomic():
        links = through.objects.bulk_create(
            through(product_id=pk, tag_id=sale.pk)
            for pk in Product.objects.values_list("pk", flat=True)
        )
        index_on_commit(Product.objects.filter(pk__in=[link.product_id for link in links]))
    assert set(map(tuple, indexed(ProductDocument, "tags").values())) == {("sale",)}


def test_a_rolled_back_bulk_write_indexes_nothing_and_a_paused_one_neither():
    def roll_back():
        with transaction.atomic():
            Product.objects.bulk_create(Product(sku=f"X-{n}", title="no") for n in range(5))
            raise LookupError("roll back")

    with pytest.raises(LookupError):
        roll_back()
    with indexing_paused():
        Product.objects.bulk_create(Product(sku=f"P-{n}", title="paused") for n in range(5))
    assert indexed(ProductDocument) == {}


def can_fast_delete(model) -> bool:
    return Collector(using="default").can_fast_delete(model.objects.all())


def test_only_models_a_document_needs_lose_fast_deletes():
    assert can_fast_delete(AuditLog)
    assert not can_fast_delete(Product)  # its deletes must be seen
    assert not can_fast_delete(Category)  # a related model

    class AuditDocument(Document):
        class Django:
            model = AuditLog
            fields = ["message"]

    register("articles")(AuditDocument)
    try:
        assert not can_fast_delete(AuditLog)  # receivers follow the registrations
    finally:
        registry.unregister(AuditDocument)
    assert can_fast_delete(AuditLog)
