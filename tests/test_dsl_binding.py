"""Documents from autodiscovered search_indices.py bound to the configured indices."""

import datetime

import pytest
from elasticsearch.dsl import connections as dsl_connections

from djangoes import connections
from djangoes_dsl import Document, registry
from djangoes_dsl.search import Response, Search
from tests.apps.blog.models import Article
from tests.apps.blog.search_indices import ArticleDocument
from tests.apps.shop.models import Category, Product, Tag
from tests.apps.shop.search_indices import ProductDocument


def test_autodiscovery_registers_the_documents_of_both_apps():
    assert ProductDocument in registry.documents
    assert ArticleDocument in registry.documents
    assert registry.registration(ProductDocument) == ("products", None)


def test_dsl_registry_uses_the_very_client_of_each_connection():
    for alias in connections:
        registered = dsl_connections.get_connection(alias)
        assert registered.transport is connections[alias].client.transport
        assert registered.options.__self__ is connections[alias].client


def test_dsl_registry_follows_a_connections_reset_without_building_a_client():
    before = dsl_connections.get_connection("default").transport
    connections.reset()
    assert connections.all(initialized_only=True) == []  # nothing built by the reset
    registered = dsl_connections.get_connection("default")
    assert connections.all(initialized_only=True) == []  # nor by asking the DSL registry
    after = registered.transport
    assert after is not before
    assert after is connections["default"].client.transport


def test_documents_use_test_names_under_pytest():
    assert connections.test_mode
    suffix = connections.test_suffix  # "_gw0" ... under pytest-xdist, else ""
    assert ProductDocument.get_index_name() == f"test_djangoes_products{suffix}"
    assert ProductDocument.get_read_index() == f"test_djangoes_products_read{suffix}"
    assert ArticleDocument.get_index_name() == f"test_djangoes_articles{suffix}"
    assert ArticleDocument.get_read_index() == f"test_djangoes_articles{suffix}"


def test_model_fields_are_mapped_by_type():
    mapping = registry.get_index("products").to_dict()["mappings"]["properties"]
    assert mapping["sku"] == {"type": "text"}
    assert mapping["price"] == {"type": "double"}
    assert mapping["in_stock"] == {"type": "boolean"}
    assert mapping["created"] == {"type": "date"}
    assert mapping["title"]["analyzer"] == "title_text"


def test_init_creates_the_index_with_name_alias_analysis_and_mappings():
    client = connections["default"].client
    name, alias = ProductDocument.get_index_name(), ProductDocument.get_read_index()
    client.indices.delete(index=name, ignore_unavailable=True)

    ProductDocument.init()

    found = client.indices.get(index=alias)
    assert list(found) == [name]
    index = found[name]
    assert set(index["aliases"]) == {alias}
    analyzer = index["settings"]["index"]["analysis"]["analyzer"]["title_text"]
    assert analyzer["tokenizer"] == "standard"
    assert index["mappings"]["properties"]["title"]["analyzer"] == "title_text"
    assert index["mappings"]["properties"]["price"]["type"] == "double"
    assert not client.indices.exists(index="djangoes_products")


def test_the_test_indices_were_created_with_the_document_mappings():
    client = connections["default"].client
    name = ArticleDocument.get_index_name()
    properties = client.indices.get_mapping(index=name)[name]["mappings"]["properties"]
    assert properties["title"]["type"] == "text"
    assert properties["published"]["type"] == "date"


@pytest.mark.django_db
def test_indexed_documents_are_found_with_search_using_default():
    category = Category.objects.create(name="Kitchen")
    product = Product.objects.create(
        sku="K-1", title="Espresso Machine", price="199.90", category=category
    )
    product.tags.add(Tag.objects.create(name="coffee"))
    ProductDocument.from_instance(product).save(refresh=True)

    response = ProductDocument.search(using="default").query("match", title="espresso").execute()

    assert isinstance(response, Response)
    assert [hit.meta.id for hit in response] == [str(product.pk)]
    hit = response[0]
    assert isinstance(hit, ProductDocument)
    assert hit.sku == "K-1"
    assert hit.category == "Kitchen"
    assert list(hit.tags) == ["coffee"]
    assert hit.price == pytest.approx(199.9)
    assert hit.meta.index == ProductDocument.get_index_name()


@pytest.mark.django_db
def test_to_queryset_returns_instances_in_hit_order_and_skips_deleted_rows():
    client = connections["default"].client
    rows = [
        Article.objects.create(title=f"post {n} boost", published=datetime.date(2020, 1, 1 + n))
        for n in range(3)
    ]
    rows.append(Article.objects.create(title="unrelated", published=datetime.date(2021, 1, 1)))
    for row in rows:
        ArticleDocument.from_instance(row).save()
    client.indices.refresh(index=ArticleDocument.get_index_name())
    search = ArticleDocument.search().query("match", title="boost").sort("-published")
    order = [int(hit.meta.id) for hit in search.execute()]
    assert order == [rows[2].pk, rows[1].pk, rows[0].pk]
    deleted = Article.objects.get(pk=order[1])
    deleted.delete()

    instances = list(search.to_queryset())

    assert [a.pk for a in instances] == [order[0], order[2]]
    assert all(isinstance(a, Article) for a in instances)
    assert isinstance(search, Search)


@pytest.mark.django_db
def test_to_queryset_annotates_rank_and_score_and_stays_a_queryset():
    client = connections["default"].client
    rows = [Article.objects.create(title=f"lamp {'lamp ' * n}") for n in range(4)]
    for row in rows:
        ArticleDocument.from_instance(row).save()
    client.indices.refresh(index=ArticleDocument.get_index_name())
    response = ArticleDocument.search().query("match", title="lamp").execute()
    hits = [(int(hit.meta.id), hit.meta.score) for hit in response]

    queryset = response.to_queryset()

    assert [(a.pk, a.search_rank, a.search_score) for a in queryset] == [
        (pk, rank, pytest.approx(score)) for rank, (pk, score) in enumerate(hits)
    ]
    assert list(queryset.filter(search_rank__gte=2).values_list("pk", flat=True)) == [
        pk for pk, _ in hits[2:]
    ]
    assert list(queryset.order_by("-search_rank").values_list("pk", flat=True)) == [
        pk for pk, _ in reversed(hits)
    ]
    inner = Article.objects.filter(pk__in=queryset.filter(search_rank__lt=2).values("pk"))
    assert set(inner.values_list("pk", flat=True)) == {pk for pk, _ in hits[:2]}
    assert queryset.count() == len(hits)


def test_an_unbound_document_says_how_to_bind_it():
    class Loose(Document):
        pass

    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="@register"):
        Loose.search()


# -- no re-binding step: a Document asks djangoes.connections when it is used -----------------


def write_and_find(title: str) -> dict:
    """Index one Article document through the DSL, search it; return where it went."""
    article = ArticleDocument(meta={"id": "rebinding"}, title=title)
    article.save(refresh=True)
    hits = ArticleDocument.search().query("match", title=title).execute()
    return {
        "name": ArticleDocument.get_index_name(),
        "saved_to": article.meta.index,
        "found_in": [hit.meta.index for hit in hits],
        "found_as": [type(hit).__name__ for hit in hits],
    }


def test_the_test_switch_moves_a_document_at_once():
    suffix = connections.test_suffix
    previous = connections.use_test_settings(True, suffix=f"{suffix}_switched")
    try:
        name = ArticleDocument.get_index_name()
        assert name == f"test_djangoes_articles{suffix}_switched"
        ArticleDocument.init()
        try:
            assert write_and_find("switched") == {
                "name": name,
                "saved_to": name,
                "found_in": [name],
                "found_as": ["ArticleDocument"],
            }
        finally:
            connections["default"].client.indices.delete(index=name)
    finally:
        connections.use_test_settings(*previous)
    assert ArticleDocument.get_index_name() == f"test_djangoes_articles{suffix}"


def test_an_es_indices_override_moves_a_document_at_once():
    from django.conf import settings
    from django.test import override_settings

    indices = {**settings.ES_INDICES, "articles": {"NAME": "rebound_articles"}}
    with override_settings(ES_INDICES=indices):
        name = ArticleDocument.get_index_name()
        assert name == f"test_rebound_articles{connections.test_suffix}"
        ArticleDocument.init()
        try:
            found = write_and_find("overridden")
            assert found["saved_to"] == name
            assert found["found_in"] == [name]
        finally:
            connections["default"].client.indices.delete(index=name)
    assert ArticleDocument.get_index_name() == f"test_djangoes_articles{connections.test_suffix}"


def test_a_forked_child_writes_and_reads_with_its_own_client():
    from tests.test_fork import in_child

    parent_client = connections["default"].client
    name = ArticleDocument.get_index_name()

    def child():
        found = write_and_find("forked")
        found["fresh_client"] = connections["default"].client is not parent_client
        return found

    try:
        assert in_child(child) == {
            "name": name,
            "saved_to": name,
            "found_in": [name],
            "found_as": ["ArticleDocument"],
            "fresh_client": True,
        }
        assert connections["default"].client is parent_client
    finally:
        connections["default"].client.delete(index=name, id="rebinding", refresh=True)
