"""Documents read with values_list(): the same documents as from model instances, on the node."""

from __future__ import annotations

import datetime
import decimal

import pytest
from django.db import connection
from django.db.models import signals
from django.test.utils import CaptureQueriesContext
from elasticsearch import SerializationError, dsl

from djangoes import connections
from djangoes_dsl import Document, indexing_paused
from djangoes_dsl.rebuild import Rebuild
from djangoes_dsl.values import resolve_lookup
from tests.apps.shop.models import Category, Product, Tag
from tests.apps.shop.search_indices import ProductDocument
from tests.indexing_utils import fresh_index, indexed

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_products():
    with fresh_index(ProductDocument):
        yield


def make_products() -> list[Product]:
    """Products with and without a category, with zero, one and several tags."""
    shoes = Category.objects.create(name="shoes")
    tags = [Tag.objects.create(name=name) for name in ("zeta", "alpha", "mid")]
    with indexing_paused():
        products = [
            Product.objects.create(
                sku=f"V-{n}",
                title=f"Thing {n}",
                price=decimal.Decimal(f"{n}.25"),
                in_stock=n % 2 == 0,
                category=shoes if n % 3 else None,
            )
            for n in range(7)
        ]
        for n, product in enumerate(products):
            product.tags.set(tags[: n % 4])
    return products


def expected_source(product: Product) -> dict:
    """The document of ``product`` computed by hand from the database row."""
    product = Product.objects.get(pk=product.pk)
    source = {
        "sku": product.sku,
        "title": product.title,
        "price": float(product.price),
        "in_stock": product.in_stock,
        "created": product.created,
    }
    if product.category_id:
        source["category"] = product.category.name
    names = sorted(tag.name for tag in product.tags.all())
    if names:
        source["tags"] = names
    return source


def instances_built(document, queryset) -> int:
    """Return how many model instances reading ``queryset`` for ``document`` builds."""
    built = []

    def count(sender, instance, **kwargs):
        built.append(instance)

    signals.post_init.connect(count, sender=document.get_model())
    try:
        document.read_actions(queryset, "target")
    finally:
        signals.post_init.disconnect(count, sender=document.get_model())
    return len(built)


def test_the_product_document_is_read_without_model_instances():
    make_products()
    assert instances_built(ProductDocument, ProductDocument.get_queryset()) == 0


def test_values_reading_builds_the_documents_that_model_instances_build():
    products = make_products()
    queryset = ProductDocument.get_queryset().order_by("pk")

    with CaptureQueriesContext(connection) as queries:
        read = ProductDocument.read_actions(queryset, "target")
    reads = [query for query in queries if "transaction_timestamp" not in query["sql"]]
    assert len(reads) == 2  # the page (with the category join), and the tags

    assert [pk for pk, _ in read] == [product.pk for product in products]
    for (pk, action), product in zip(read, products, strict=True):
        assert action["_index"] == "target"
        assert action["_id"] == str(pk)
        assert action["_source"] == expected_source(product)
        # The same document through model instances (source() follows the lookups).
        assert ProductDocument.source(queryset.get(pk=pk)) == action["_source"]


def test_values_reading_honours_the_limit_and_the_queryset_filters():
    products = make_products()
    queryset = ProductDocument.get_queryset().filter(in_stock=True).order_by("pk")
    read = ProductDocument.read_actions(queryset, "target", limit=2)
    in_stock = [product for product in products if product.in_stock]
    assert [pk for pk, _ in read] == [product.pk for product in in_stock[:2]]
    assert [action["_source"] for _, action in read] == [
        expected_source(product) for product in in_stock[:2]
    ]


def test_a_prepare_method_switches_the_document_to_model_instances(monkeypatch):
    products = make_products()
    monkeypatch.setattr(
        ProductDocument,
        "prepare_category",
        lambda self, instance: f"category of {instance.sku}",
        raising=False,
    )
    queryset = ProductDocument.get_queryset()
    assert instances_built(ProductDocument, queryset) == len(products)
    read = dict(ProductDocument.read_actions(queryset, "target"))
    for product in products:
        assert read[product.pk]["_source"]["category"] == f"category of {product.sku}"
    monkeypatch.undo()
    assert instances_built(ProductDocument, queryset) == 0


def test_a_rebuild_and_signal_writes_index_the_values_documents():
    products = make_products()
    Rebuild("products").run()
    assert indexed(ProductDocument) == {
        str(product.pk): _as_json(expected_source(product)) for product in products
    }

    products[0].tags.add(Tag.objects.get(name="alpha"))
    Category.objects.filter(name="shoes").update(name="boots")
    products[1].save()  # re-indexed from the database: category now 'boots'
    found = indexed(ProductDocument)
    assert found[str(products[0].pk)]["tags"] == ["alpha"]
    assert found[str(products[1].pk)]["category"] == "boots"


def test_a_fill_whose_sending_fails_leaves_the_old_index_serving(monkeypatch):
    make_products()
    Rebuild("products").run()
    before = connections["default"].concrete_indices(ProductDocument.get_index_name())
    # A value the JSON serializer cannot encode fails in the sending thread.
    monkeypatch.setattr(
        ProductDocument, "prepare_sku", lambda self, instance: object(), raising=False
    )
    with pytest.raises(SerializationError, match="object"):
        Rebuild("products", chunk_size=2).run()
    assert connections["default"].concrete_indices(ProductDocument.get_index_name()) == before
    assert len(indexed(ProductDocument)) == 7


def test_lookups_without_a_declared_field_are_mapped_from_the_model():
    class Inferred(Document):
        class Django:
            model = Product
            lookups = {"category_name": "category__name", "tag_ids": "tags__id"}

    index = dsl.Index("probe")
    index.document(Inferred)
    properties = index.to_dict()["mappings"]["properties"]
    assert properties["category_name"] == {"type": "text"}  # CharField
    assert properties["tag_ids"]["type"] in ("integer", "long")
    assert list(Inferred().tag_ids) == []  # a list field (multi)
    assert Inferred().category_name is None


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("category", "ends at the relation 'category'"),
        ("category__missing", "Category has no field 'missing'"),
        ("sku__name", "'sku' is not a relation"),
    ],
)
def test_a_lookup_that_does_not_resolve_says_why(path, message):
    with pytest.raises(ValueError, match=message):
        resolve_lookup(Product, path)


def test_to_many_and_to_one_lookups_are_told_apart():
    assert resolve_lookup(Product, "tags__name").many is True
    assert resolve_lookup(Product, "category__name").many is False
    assert resolve_lookup(Category, "product__tags__name").many is True


def _as_json(source: dict) -> dict:
    return {
        key: value.isoformat() if isinstance(value, datetime.datetime) else value
        for key, value in source.items()
    }
