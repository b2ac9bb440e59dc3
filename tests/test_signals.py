"""Signal-driven indexing against the real node: after commit, in bulk, never on rollback."""

from __future__ import annotations

import logging

import pytest
from django.db import transaction
from django.test import override_settings

from djangoes_dsl import indexing_paused
from djangoes_dsl.indexing import IndexingError, IndexingFailure
from djangoes_dsl.signals import get_signal_processor
from tests.apps.blog.models import Article
from tests.apps.blog.search_indices import ArticleDocument
from tests.apps.shop.models import Category, Product, Tag
from tests.apps.shop.search_indices import ProductDocument
from tests.indexing_utils import count_requests, indexed, reset_index

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_indices():
    reset_index(ProductDocument)
    reset_index(ArticleDocument)


def make_product(n: int, **kwargs) -> Product:
    return Product.objects.create(sku=f"SKU-{n}", title=f"Product {n}", **kwargs)


def test_the_default_processor_is_connected():
    assert type(get_signal_processor()).__name__ == "TransactionSignalProcessor"


def test_save_update_and_delete_are_reflected():
    product = make_product(1, price=5)
    assert indexed(ProductDocument, "title") == {str(product.pk): "Product 1"}

    product.title = "Renamed"
    product.save()
    assert indexed(ProductDocument, "title") == {str(product.pk): "Renamed"}

    product.delete()
    assert indexed(ProductDocument) == {}


def test_an_autocommit_save_is_one_bulk_request():
    with count_requests(ProductDocument) as requests:
        make_product(1)
    assert requests.count("_bulk") == 1
    assert len(requests.paths) == 1


def test_writes_wait_for_commit_and_a_rollback_indexes_nothing():
    with transaction.atomic():
        kept = make_product(1)
        assert indexed(ProductDocument) == {}
    assert set(indexed(ProductDocument)) == {str(kept.pk)}

    def create_then_fail():
        with transaction.atomic():
            make_product(2)
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        create_then_fail()
    assert set(indexed(ProductDocument)) == {str(kept.pk)}
    assert not Product.objects.filter(sku="SKU-2").exists()


def test_a_rolled_back_savepoint_drops_only_its_own_writes():
    with transaction.atomic():
        outer = make_product(1)
        try:
            with transaction.atomic():
                make_product(2)
                raise RuntimeError("roll back the savepoint")
        except RuntimeError:
            pass
        with transaction.atomic():
            inner = make_product(3)
    assert set(indexed(ProductDocument)) == {str(outer.pk), str(inner.pk)}


def test_a_thousand_saves_in_one_transaction_take_at_most_two_bulk_requests():
    with count_requests(ProductDocument) as requests, transaction.atomic():
        for n in range(1000):
            make_product(n)
        for product in Product.objects.all()[:100]:
            product.title = f"{product.title} again"  # saved twice: sent once
            product.save()
    assert requests.count("_bulk") <= 2
    assert len(requests.paths) == requests.count("_bulk")
    titles = indexed(ProductDocument, "title")
    assert len(titles) == 1000
    assert sum(title.endswith("again") for title in titles.values()) == 100


def test_a_row_deleted_in_the_transaction_that_created_it_is_not_indexed():
    with transaction.atomic():
        product = make_product(1)
        product.title = "changed"
        product.save()
        product.delete()
    assert indexed(ProductDocument) == {}


def test_many_to_many_changes_reindex_the_row():
    product = make_product(1)
    red, blue = Tag.objects.create(name="red"), Tag.objects.create(name="blue")

    product.tags.add(red, blue)
    assert indexed(ProductDocument, "tags")[str(product.pk)] == ["blue", "red"]

    product.tags.remove(blue)
    assert indexed(ProductDocument, "tags")[str(product.pk)] == ["red"]

    blue.product_set.add(product)  # the reverse side
    assert indexed(ProductDocument, "tags")[str(product.pk)] == ["blue", "red"]

    red.product_set.clear()  # reverse clear: the cleared rows are found before they go
    assert indexed(ProductDocument, "tags")[str(product.pk)] == ["blue"]

    product.tags.clear()
    assert indexed(ProductDocument, "tags")[str(product.pk)] in (None, [])


def test_related_model_changes_reindex_the_rows_that_embed_them():
    shoes = Category.objects.create(name="shoes")
    first, second = make_product(1, category=shoes), make_product(2, category=shoes)
    other = make_product(3)
    sale = Tag.objects.create(name="sale")
    first.tags.add(sale)

    shoes.name = "boots"
    shoes.save()
    categories = indexed(ProductDocument, "category")
    assert categories == {str(first.pk): "boots", str(second.pk): "boots", str(other.pk): None}

    shoes.delete()  # SET_NULL: the products were found before the category went
    assert set(indexed(ProductDocument, "category").values()) == {None}

    sale.name = "clearance"
    sale.save()
    assert indexed(ProductDocument, "tags")[str(first.pk)] == ["clearance"]
    sale.delete()
    assert indexed(ProductDocument, "tags")[str(first.pk)] in (None, [])


def test_a_related_rename_is_one_bulk_request():
    shoes = Category.objects.create(name="shoes")
    make_product(1, category=shoes), make_product(2, category=shoes)
    with count_requests(ProductDocument) as requests:
        shoes.name = "boots"
        shoes.save()
    assert requests.count("_bulk") == 1
    assert set(indexed(ProductDocument, "category").values()) == {"boots"}


def test_other_models_and_documents_are_independent():
    article = Article.objects.create(title="Hello", body="World")
    assert set(indexed(ArticleDocument)) == {str(article.pk)}
    assert indexed(ProductDocument) == {}


def test_indexing_paused_skips_all_or_some_documents():
    with indexing_paused():
        make_product(1)
        Article.objects.create(title="paused")
    with indexing_paused(Product):
        make_product(2)
        article = Article.objects.create(title="indexed")
    assert indexed(ProductDocument) == {}
    assert set(indexed(ArticleDocument)) == {str(article.pk)}


def test_ignore_signals_on_a_document(monkeypatch):
    monkeypatch.setattr(ProductDocument.Django, "ignore_signals", True, raising=False)
    make_product(1)
    assert indexed(ProductDocument) == {}


def test_the_processor_can_be_switched_off_by_setting():
    with override_settings(DJANGOES_SIGNAL_PROCESSOR=None):
        assert get_signal_processor() is None
        make_product(1)
    assert get_signal_processor() is not None
    assert indexed(ProductDocument) == {}


# -- failures ---------------------------------------------------------------------------------


def test_failures_are_logged_with_the_ids_and_never_break_the_transaction(
    caplog, broken_product_mapping
):
    with caplog.at_level(logging.ERROR, logger="djangoes_dsl.indexing"), transaction.atomic():
        product = make_product(1)
    assert Product.objects.filter(pk=product.pk).exists()
    assert "1 indexing operation(s) failed" in caplog.text
    assert f"ids {product.pk}" in caplog.text
    assert "document_parsing_exception" in caplog.text or "mapper_parsing" in caplog.text


handled: list[IndexingFailure] = []


def remember(failure: IndexingFailure) -> None:
    handled.append(failure)


@override_settings(
    DJANGOES_INDEXING_ERRORS="raise",
    DJANGOES_INDEXING_FAILURE_HANDLER="tests.test_signals.remember",
)
def test_failures_are_raised_after_commit_and_handed_to_the_handler(broken_product_mapping):
    handled.clear()
    with pytest.raises(IndexingError) as raised, transaction.atomic():
        product = make_product(1)
    assert Product.objects.filter(pk=product.pk).exists()  # committed all the same
    assert raised.value.failures[0].ids == [str(product.pk)]
    assert [failure.ids for failure in handled] == [[str(product.pk)]]


@override_settings(
    DJANGOES_INDEXING_ERRORS="raise",
    ES_SERVERS={
        "default": {
            "HOSTS": ["http://127.0.0.1:1"],
            "PARAMS": {"request_timeout": 1, "max_retries": 0},
            "INDICES": ["products", "articles"],
        }
    },
)
def test_a_connection_error_is_raised_after_commit_with_the_ids():
    with pytest.raises(IndexingError) as raised, transaction.atomic():
        product = make_product(1)
    assert Product.objects.filter(pk=product.pk).exists()
    failure = raised.value.failures[0]
    assert failure.ids == [str(product.pk)]
    assert "ConnectionError" in str(failure)


@pytest.mark.django_db(transaction=False)
def test_capture_on_commit_callbacks_sends_edits_joining_an_earlier_batch(
    django_capture_on_commit_callbacks,
):
    # Inside a TestCase-style transaction: the first save opens the batch outside the capture.
    product = make_product(1)
    with django_capture_on_commit_callbacks(execute=True):
        product.title = "Captured edit"
        product.save()
    assert indexed(ProductDocument, "title") == {str(product.pk): "Captured edit"}
