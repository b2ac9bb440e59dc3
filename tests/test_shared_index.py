"""Documents sharing one index: ids that cannot collide, each search sees its own kind."""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.core import checks
from django.core.management import call_command
from django.test import override_settings

from djangoes import connections
from djangoes_dsl import Document, fields, indexing_paused, register, registry
from djangoes_dsl.documents import KIND_FIELD
from djangoes_dsl.search import Search
from tests.apps.blog.models import Article
from tests.apps.shop.models import Product

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "shared"


class SharedProduct(Document):
    title = fields.Text()

    class Django:
        model = Product


class SharedArticle(Document):
    title = fields.Text()

    class Django:
        model = Article


@contextlib.contextmanager
def sharing(*documents: type[Document], fresh: bool = True, keep: bool = False) -> Iterator[None]:
    """ES_INDICES['shared'] with ``documents`` registered to it, its index created anew
    (unless not ``fresh``) and deleted after (unless ``keep``)."""
    servers = copy.deepcopy(settings.ES_SERVERS)
    servers["default"]["INDICES"] = [*servers["default"]["INDICES"], KEY]
    indices = copy.deepcopy(settings.ES_INDICES)
    indices[KEY] = {"NAME": "djangoes_shared", "SETTINGS": {"number_of_shards": 1}}
    with override_settings(ES_SERVERS=servers, ES_INDICES=indices):
        for document in documents:
            register(KEY)(document)
        backend = connections["default"]
        if fresh:
            backend.delete_index(KEY)
            backend.create_index(KEY)
        try:
            yield
        finally:
            for document in documents:
                registry.unregister(document)
            if not keep:
                connections["default"].delete_index(KEY)


def ids(document: type[Document]) -> list[str]:
    client = connections["default"].client
    client.indices.refresh(index=document.get_index_name())
    return sorted(hit.meta.id for hit in document.search().extra(size=100).execute())


def test_rows_with_the_same_pk_keep_their_own_documents():
    with sharing(SharedProduct, SharedArticle):
        product = Product.objects.create(sku="P-1", title="Lamp")
        article = Article.objects.create(title="On lamps", pk=product.pk)
        assert ids(SharedProduct) == [f"shop.product:{product.pk}"]
        assert ids(SharedArticle) == [f"blog.article:{product.pk}"]
        (hit,) = SharedArticle.search().execute()
        assert hit.title == "On lamps"
        assert getattr(hit, KIND_FIELD) == "blog.article"
        assert list(SharedProduct.search().to_queryset()) == [product]
        assert list(SharedArticle.search().to_queryset()) == [article]

        product.title = "Desk lamp"
        product.save()
        product.delete()
        assert ids(SharedProduct) == []
        assert ids(SharedArticle) == [f"blog.article:{article.pk}"]  # the article stays


def test_a_rebuild_keeps_both_kinds_intact():
    with sharing(SharedProduct, SharedArticle):
        with indexing_paused():
            for n in range(5):
                Product.objects.create(sku=f"P-{n}", title=f"Product {n}")
            for n in range(3):
                Article.objects.create(title=f"Article {n}")
        call_command("search_index", "rebuild", KEY, "--no-input", stdout=io.StringIO())
        products = Product.objects.values_list("pk", flat=True)
        articles = Article.objects.values_list("pk", flat=True)
        assert ids(SharedProduct) == sorted(f"shop.product:{pk}" for pk in products)
        assert ids(SharedArticle) == sorted(f"blog.article:{pk}" for pk in articles)
        titles = [a.title for a in SharedArticle.search().sort("_doc").to_queryset()]
        assert sorted(titles) == ["Article 0", "Article 1", "Article 2"]


def test_a_search_over_both_kinds_tells_the_hits_apart():
    with sharing(SharedProduct, SharedArticle):
        Product.objects.create(sku="P-1", title="Lamp")
        Article.objects.create(title="On lamps")
        connections["default"].refresh(index=SharedProduct.get_index_name())
        both = Search(
            using="default",
            index=SharedProduct.get_read_index(),
            doc_type=[SharedProduct, SharedArticle],
        )
        kinds = sorted(type(hit).__name__ for hit in both.execute())
        assert kinds == ["SharedArticle", "SharedProduct"]
        # to_queryset() returns the rows of the search's first Document only.
        assert [p.sku for p in both.to_queryset()] == ["P-1"]


def test_an_index_of_one_document_keeps_plain_ids():
    assert not SharedProduct.is_bound()
    from tests.apps.shop.search_indices import ProductDocument

    assert ProductDocument.document_id(7) == "7"
    assert ProductDocument.pk_from_id("7") == 7
    assert (
        KIND_FIELD
        not in connections["default"].get_index_body("products")["mappings"]["properties"]
    )


def test_two_documents_of_one_model_on_one_index_need_distinct_kinds():
    class Summary(Document):
        title = fields.Text()

        class Django:
            model = Product

    with sharing(SharedProduct, Summary):
        errors = [m for m in checks.run_checks(tags=["djangoes"]) if m.id == "djangoes_dsl.E040"]
        (error,) = errors
        assert "same kind 'shop.product'" in error.msg
        assert "Django.kind" in error.hint

    class Named(Document):
        title = fields.Text()

        class Django:
            model = Product
            kind = "product_title"

    with sharing(SharedProduct, Named):
        assert not [m for m in checks.run_checks(tags=["djangoes"]) if m.id == "djangoes_dsl.E040"]
        pk = Product.objects.create(sku="P-1", title="Lamp").pk
        assert ids(SharedProduct) == [f"shop.product:{pk}"]
        assert ids(Named) == [f"product_title:{pk}"]


def test_writes_kept_in_the_outbox_reach_their_own_kind():
    with sharing(SharedProduct, SharedArticle):
        product = Product.objects.create(sku="P-1", title="Lamp")
        article = Article.objects.create(title="On lamps", pk=product.pk)
        down = copy.deepcopy(settings.ES_SERVERS)
        down["default"]["HOSTS"] = ["http://127.0.0.1:1"]
        down["default"]["PARAMS"] = {"request_timeout": 2, "max_retries": 0}
        with override_settings(ES_SERVERS=down):
            product.delete()  # kept in the outbox: the node is away
            article.title = "On desk lamps"
            article.save()
        call_command("search_index", "sync", stdout=io.StringIO(), stderr=io.StringIO())
        assert ids(SharedProduct) == []
        assert ids(SharedArticle) == [f"blog.article:{article.pk}"]
        assert [hit.title for hit in SharedArticle.search().execute()] == ["On desk lamps"]


def test_an_index_that_becomes_shared_needs_a_rebuild_and_migrate_does_it():
    from djangoes_dsl import schema

    with sharing(SharedProduct, keep=True):
        product = Product.objects.create(sku="P-1", title="Lamp")
        assert ids(SharedProduct) == [str(product.pk)]
    with sharing(SharedProduct, SharedArticle, fresh=False):
        state = schema.inspect(KEY, "default")
        assert state.state == schema.NEEDS_REBUILD
        (difference,) = state.differences
        assert difference.where == f"field {KIND_FIELD}"
        assert "shared by several Documents" in difference.what
        call_command("search_index", "migrate", KEY, "--no-input", stdout=io.StringIO())
        assert ids(SharedProduct) == [f"shop.product:{product.pk}"]
        assert connections["default"].count(index=SharedProduct.get_index_name())["count"] == 1
