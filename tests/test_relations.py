"""Object and Nested fields read through relations, on the node: forward foreign key, reverse
foreign key and many-to-many; kept in sync on related changes; a fixed number of queries."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.models.signals import post_init
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from djangoes import connections
from djangoes_dsl import Document, fields, indexing_paused, registry
from djangoes_dsl.rebuild import populate
from tests.apps.shop.models import Category, Product, Tag
from tests.indexing_utils import indexed, leftovers

pytestmark = pytest.mark.django_db(transaction=True)


class RelatedProductDocument(Document):
    # Forward foreign key: one object, its properties mapped from Category's field types.
    category = fields.Object(model_fields=["name"])
    # Many-to-many: a list of objects; "label" read through an attr path.
    tags = fields.Nested(properties={"pk": fields.Integer(), "label": fields.Keyword(attr="name")})
    # A value through a relation, by path.
    category_name = fields.Keyword(attr="category.name")

    class Django:
        model = Product
        fields = ["sku"]

    def prepare_tags__label(self, tag):
        return tag.name.upper()


class CategoryDocument(Document):
    # Reverse foreign key: a list of objects.
    products = fields.Nested(attr="product_set", model_fields=["sku", "title"])

    class Django:
        model = Category
        fields = ["name"]


class ValuesProductDocument(Document):
    """Relations read with values_list(): no model instances."""

    category = fields.Object(model_fields=["name"])
    tags = fields.Nested(properties={"pk": fields.Integer(), "name": fields.Keyword()})
    category_name = fields.Keyword(attr="category__name")

    class Django:
        model = Product
        fields = ["sku"]


INDICES = {
    "related_products": {"SETTINGS": {"number_of_shards": 1, "number_of_replicas": 0}},
    "related_categories": {"SETTINGS": {"number_of_shards": 1, "number_of_replicas": 0}},
}
DOCUMENTS = {"related_products": RelatedProductDocument, "related_categories": CategoryDocument}


@pytest.fixture(autouse=True)
def relation_indices(settings):
    servers = {
        alias: {**server, "INDICES": [*server.get("INDICES", []), *INDICES]}
        for alias, server in settings.ES_SERVERS.items()
    }
    with override_settings(ES_SERVERS=servers, ES_INDICES={**settings.ES_INDICES, **INDICES}):
        for key, document in DOCUMENTS.items():
            registry.register(key)(document)
        backend = connections["default"]
        for key in INDICES:
            backend.delete_index(key)
            backend.create_index(key)
        try:
            yield
        finally:
            for key, document in DOCUMENTS.items():
                backend.delete_index(key)
                assert leftovers(document) == []
                registry.unregister(document)


def make_rows(count: int) -> list[Product]:
    with indexing_paused():
        tags = [Tag.objects.create(name=f"tag{n}") for n in range(3)]
        products = []
        for n in range(count):
            category = Category.objects.create(name=f"cat{n}")
            product = Product.objects.create(sku=f"S{n}", title=f"thing {n}", category=category)
            product.tags.set(tags[: 1 + n % 3])
            products.append(product)
    return products


def test_mapping_from_properties_and_model_fields():
    properties = RelatedProductDocument._doc_type.mapping.to_dict()["properties"]
    assert properties["category"] == {"type": "object", "properties": {"name": {"type": "text"}}}
    assert properties["tags"] == {
        "type": "nested",
        "properties": {"pk": {"type": "integer"}, "label": {"type": "keyword"}},
    }
    assert properties["category_name"] == {"type": "keyword"}
    nested = CategoryDocument._doc_type.mapping.to_dict()["properties"]["products"]
    assert nested == {
        "type": "nested",
        "properties": {"sku": {"type": "text"}, "title": {"type": "text"}},
    }


def test_documents_through_each_kind_of_relation():
    product = make_rows(3)[2]
    source = RelatedProductDocument.source(product)
    tags = sorted(product.tags.all(), key=lambda tag: tag.pk)
    assert source == {
        "sku": "S2",
        "category": {"name": "cat2"},
        "category_name": "cat2",
        "tags": [{"pk": tag.pk, "label": tag.name.upper()} for tag in tags],
    }
    assert CategoryDocument.source(product.category) == {
        "name": "cat2",
        "products": [{"sku": "S2", "title": "thing 2"}],
    }
    with indexing_paused():
        lone = Product.objects.create(sku="L", title="lone")
    # A missing related row leaves the field out.
    assert RelatedProductDocument.source(lone) == {"sku": "L"}


def test_values_mode_gives_the_documents_of_model_instances():
    make_rows(5)
    with indexing_paused():
        Product.objects.create(sku="L", title="lone")
    reader = ValuesProductDocument._values_reader()
    assert reader is not None
    assert RelatedProductDocument._values_reader() is None  # a prepare_tags__label hook
    queryset = ValuesProductDocument.get_queryset()
    built = []

    def count(sender, instance, **kwargs):
        built.append(instance)

    post_init.connect(count, sender=Product)
    try:
        with CaptureQueriesContext(connection) as context:
            read = dict(ValuesProductDocument.read_actions(queryset, "target", version=1))
    finally:
        post_init.disconnect(count, sender=Product)
    assert built == []
    assert len(context.captured_queries) == 2  # rows with the category joined; the tags
    expected = {row.pk: ValuesProductDocument.source(row) for row in queryset}
    assert {pk: action["_source"] for pk, action in read.items()} == expected
    lone = expected[Product.objects.get(sku="L").pk]
    assert lone == {"sku": "L"}
    assert CategoryDocument._values_reader() is not None  # the reverse foreign key too


def fill_queries(count: int) -> int:
    Product.objects.all().delete()
    Category.objects.all().delete()
    make_rows(count)
    queryset = RelatedProductDocument.get_queryset()
    with CaptureQueriesContext(connection) as context:
        RelatedProductDocument.read_actions(queryset, "target", version=1)
    categories = CategoryDocument.get_queryset()
    with CaptureQueriesContext(connection) as reverse:
        CategoryDocument.read_actions(categories, "target", version=1)
    return len(context.captured_queries) + 100 * len(reverse.captured_queries)


def test_fills_read_relations_without_n_plus_one():
    # Rows, plus one query for the many-to-many (the foreign key is joined); for the reverse
    # foreign key, rows plus one query: the same for 2 rows as for 40.
    assert fill_queries(2) == fill_queries(40) == 2 + 100 * 2


def test_populate_then_nested_query_and_inner_hits():
    make_rows(4)
    populate("related_products", processes=0)
    populate("related_categories", processes=0)
    search = RelatedProductDocument.search().query(
        "nested", path="tags", query={"term": {"tags.label": "TAG2"}}, inner_hits={}
    )
    response = search.execute()
    assert sorted(hit.sku for hit in response) == ["S2"]
    assert [inner.label for inner in response[0].meta.inner_hits.tags] == ["TAG2"]
    assert [row.sku for row in search.to_queryset()] == ["S2"]
    categories = CategoryDocument.search().query(
        "nested",
        path="products",
        query={"match": {"products.title": {"query": "thing 3", "operator": "and"}}},
    )
    assert [hit.name for hit in categories.execute()] == ["cat3"]


def test_related_changes_reindex_on_commit():
    products = make_rows(2)
    populate("related_products", processes=0)
    populate("related_categories", processes=0)
    first = products[0]
    tag = first.tags.get()
    with transaction.atomic():
        # Forward foreign key: the related row changes.
        category = first.category
        category.name = "renamed"
        category.save()
        # Many-to-many: the related row changes, and a link is added.
        tag.name = "fresh"
        tag.save()
        added = Tag.objects.create(name="added")
        first.tags.add(added)
        # Reverse foreign key: a product moves to another category.
        second = products[1]
        left = second.category_id
        second.category = category
        second.save()
        assert indexed(RelatedProductDocument)[str(first.pk)]["category_name"] == "cat0"
    found = indexed(RelatedProductDocument)
    assert found[str(first.pk)]["category"] == {"name": "renamed"}
    assert found[str(first.pk)]["category_name"] == "renamed"
    assert [each["label"] for each in found[str(first.pk)]["tags"]] == ["FRESH", "ADDED"]
    assert found[str(second.pk)]["category"] == {"name": "renamed"}
    categories = indexed(CategoryDocument)
    assert sorted(p["sku"] for p in categories[str(category.pk)]["products"]) == ["S0", "S1"]
    # The category the product left no longer lists it.
    assert "products" not in categories[str(left)]

    # Deletes of related rows: the tag goes from the product's list, the product from
    # its category's list.
    added.delete()
    first.delete()
    assert str(first.pk) not in indexed(RelatedProductDocument)
    assert [p["sku"] for p in indexed(CategoryDocument)[str(category.pk)]["products"]] == ["S1"]
    second.tags.clear()
    assert "tags" not in indexed(RelatedProductDocument)[str(second.pk)]


def batch_queries(count: int) -> int:
    tags = list(Tag.objects.all())
    with CaptureQueriesContext(connection) as context, transaction.atomic():
        for tag in tags:
            tag.name = f"{tag.name}x"
            tag.save()
        for category in Category.objects.all()[:count]:
            category.name = f"{category.name}x"
            category.save()
    return len([q for q in context.captured_queries if q["sql"].startswith("SELECT")])


def test_signal_batch_reads_related_rows_without_n_plus_one():
    make_rows(12)
    populate("related_products", processes=0)
    # Saving 2 or 12 categories (and the 3 tags) in one transaction costs the same reads.
    assert batch_queries(2) == batch_queries(12)
    found = indexed(RelatedProductDocument)
    assert all(source["category"]["name"].endswith("x") for source in found.values())
