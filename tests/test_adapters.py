"""The private parts of Django and elasticsearch.dsl that djangoes relies on still behave.

Each test here fails loudly when a supported Django or elasticsearch-py version changes
what an adapter (``djangoes.adapters.django``, ``djangoes_dsl.adapters``) relies on.
"""

from __future__ import annotations

import datetime
import uuid

import django
import elastic_transport
import elasticsearch
import pytest
from django.db import connection, models, transaction
from django.test import runner as django_runner
from django.test.utils import CaptureQueriesContext
from elasticsearch import dsl
from elasticsearch.dsl import connections as dsl_connections

from djangoes import connections
from djangoes.adapters.django import (
    append_commit_hook,
    checks_for_database_command,
    commit_hook_pending,
    in_atomic_block,
    on_commit,
    only_test_case_blocks,
    parallel_worker_id,
    prefetch_lookups,
    prefetch_to_many,
    savepoint_ids,
    take_djangoes_hooks,
)
from djangoes.backends.elasticsearch import DjangoesElasticsearch
from djangoes.backends.requests import ApiRequest
from djangoes_dsl import adapters
from tests.apps.blog.search_indices import ArticleDocument
from tests.apps.shop.models import Category, Product, Tag
from tests.apps.shop.search_indices import ProductDocument
from tests.settings import ES_URL

JSON = {"content-type": "application/json", "accept": "application/json"}

VERSIONS = f"Django {django.__version__}, elasticsearch-py {elasticsearch.__versionstr__}"

# -- Django ----------------------------------------------------------------------------------


def test_the_checks_of_a_command_that_names_its_databases_are_told_apart():
    """BaseCommand.execute keeps the command's check arguments in ``check_kwargs``."""
    from django.core import checks
    from django.core.management import BaseCommand, call_command

    assert "check_kwargs" in BaseCommand.execute.__code__.co_varnames, VERSIONS
    seen: list[tuple[bool, object]] = []

    @checks.register("djangoes_probe")
    def probe(app_configs=None, databases=None, **kwargs):
        seen.append((checks_for_database_command(), databases))
        return []

    class Migrating(BaseCommand):
        requires_system_checks = ["djangoes_probe"]

        def get_check_kwargs(self, options):
            return {**super().get_check_kwargs(options), "databases": ["default"]}

        def handle(self, *args, **options):
            pass

    class Checking(Migrating):
        def get_check_kwargs(self, options):
            return {"tags": ["djangoes_probe"]}

    try:
        call_command(Migrating(), skip_checks=False)
        call_command(Checking(), skip_checks=False)
        checks.run_checks(tags=["djangoes_probe"], databases=["default"])
    finally:
        checks.registry.registry.registered_checks.discard(probe)
    assert [told for told, _ in seen] == [True, False, False], VERSIONS
    assert seen[0][1] == ["default"]


@pytest.mark.django_db(transaction=True)
def test_a_commit_hook_survives_a_savepoint_rollback_and_runs_on_commit():
    ran = []
    with transaction.atomic():
        assert in_atomic_block(connection)
        assert savepoint_ids(connection) == frozenset()
        try:
            with transaction.atomic():
                (sid,) = savepoint_ids(connection)
                assert sid
                hook = append_commit_hook(connection, lambda: ran.append("hook"), robust=False)
                assert commit_hook_pending(connection, hook)
                raise LookupError("roll back the savepoint")
        except LookupError:
            pass
        assert commit_hook_pending(connection, hook), VERSIONS
        assert ran == []
    assert ran == ["hook"], VERSIONS
    assert not commit_hook_pending(connection, hook)
    assert not in_atomic_block(connection)


@pytest.mark.django_db(transaction=True)
def test_a_commit_hook_is_dropped_with_the_whole_transaction():
    ran = []
    try:
        with transaction.atomic():
            hook = append_commit_hook(connection, lambda: ran.append("hook"), robust=True)
            raise LookupError("roll back")
    except LookupError:
        pass
    assert ran == []
    assert not commit_hook_pending(connection, hook), VERSIONS


@pytest.mark.django_db
def test_the_blocks_a_test_case_opened_are_told_apart():
    assert only_test_case_blocks(connection), VERSIONS  # pytest-django's TestCase blocks
    with transaction.atomic():
        assert not only_test_case_blocks(connection)
        with transaction.atomic(savepoint=False):
            assert not only_test_case_blocks(connection)
    assert only_test_case_blocks(connection)


@pytest.mark.django_db(transaction=True)
def test_no_test_case_blocks_in_a_transactional_test():
    assert not only_test_case_blocks(connection)
    with transaction.atomic():
        assert not only_test_case_blocks(connection)


@pytest.mark.django_db(transaction=True)
def test_djangoes_hooks_are_taken_out_in_order_and_the_others_stay():
    ran = []
    with transaction.atomic():
        on_commit(connection, lambda: ran.append("savepoint-bound"))
        transaction.on_commit(lambda: ran.append("not ours"))
        append_commit_hook(connection, lambda: ran.append("whole transaction"), robust=False)
        taken = take_djangoes_hooks(connection)
        assert take_djangoes_hooks(connection) == []
        for function, _robust in taken:
            function()
        assert [robust for _, robust in taken] == [False, False]
        assert ran == ["savepoint-bound", "whole transaction"], VERSIONS
    assert ran == ["savepoint-bound", "whole transaction", "not ours"]


@pytest.mark.django_db(transaction=True)
def test_a_savepoint_bound_hook_goes_with_its_savepoint():
    with transaction.atomic():
        try:
            with transaction.atomic():
                on_commit(connection, lambda: None)
                raise LookupError("roll back the savepoint")
        except LookupError:
            pass
        assert take_djangoes_hooks(connection) == [], VERSIONS


def test_the_parallel_worker_number_and_the_worker_initializer_exist():
    assert parallel_worker_id() == 0  # not a parallel worker
    assert callable(django_runner.ParallelTestSuite.init_worker), VERSIONS


def _shop():
    kitchen = Category.objects.create(name="kitchen")
    garden = Category.objects.create(name="garden")
    tags = [Tag.objects.create(name=name) for name in ("red", "blue", "green")]
    products = []
    for n in range(5):
        product = Product.objects.create(
            sku=f"PF-{n}", title=f"product {n}", category=(kitchen, garden)[n % 2]
        )
        product.tags.set(tags[: n % 4])
        products.append(product)
    return products


@pytest.mark.django_db
def test_prefetched_to_many_relations_behave_as_djangos():
    _shop()
    queryset = Product.objects.order_by("pk").prefetch_related("tags", "category__product_set")
    assert prefetch_lookups(queryset) == ("tags", "category__product_set"), VERSIONS
    django_rows = list(queryset)
    rows = list(Product.objects.order_by("pk"))
    with CaptureQueriesContext(connection) as prefetching:
        prefetch_to_many(rows, "tags")
    assert len(prefetching) == 1  # as prefetch_related: one query for every row
    categories = [row.category for row in rows]
    prefetch_to_many(categories, "product_set")  # a reverse foreign key

    with CaptureQueriesContext(connection) as reading:
        for row, django_row in zip(rows, django_rows, strict=True):
            mine, theirs = row.tags.all(), django_row.tags.all()
            assert type(mine).__mro__[2] is type(theirs), VERSIONS
            assert isinstance(mine, models.QuerySet)
            assert [t.pk for t in mine] == [t.pk for t in theirs]
            assert len(mine) == len(theirs)
            assert bool(mine) == bool(theirs)
            assert row.tags.count() == django_row.tags.count()
            assert row.tags.exists() == django_row.tags.exists()
            assert mine[:1] == list(theirs[:1])
            products = row.category.product_set.all()
            assert [p.pk for p in products] == [p.pk for p in django_row.category.product_set.all()]
            assert all(p.category.pk == row.category.pk for p in products), VERSIONS
    assert len(reading) == 0, [query["sql"] for query in reading.captured_queries]

    # What needs a query builds the one Django's prefetch holds, filtered to the row.
    for row, django_row in zip(rows, django_rows, strict=True):
        mine, theirs = row.tags.all(), django_row.tags.all()
        assert str(mine.query) == str(theirs.query), VERSIONS
        assert list(mine.filter(name="red")) == list(theirs.filter(name="red"))
        assert list(row.tags.values_list("name", flat=True)) == list(
            django_row.tags.values_list("name", flat=True)
        )
        assert list(mine.order_by("-name")) == list(theirs.order_by("-name"))
        assert mine.db == theirs.db
        assert repr(mine) == repr(theirs)


@pytest.mark.django_db
def test_a_row_read_for_a_document_sees_its_prefetched_relations():
    from djangoes_dsl.documents import read_instances

    _shop()
    queryset = ProductDocument.get_queryset()
    expected = {p.pk: sorted(t.name for t in p.tags.all()) for p in queryset}
    with CaptureQueriesContext(connection) as reading:
        rows = read_instances(queryset, limit=3)
        found = {row.pk: sorted(t.name for t in row.tags.all()) for row in rows}
        names = [row.category.name for row in rows]
    assert len(reading) == 2  # the rows (with their categories), their tags
    assert found == {pk: expected[pk] for pk in list(expected)[:3]}
    assert names == ["kitchen", "garden", "kitchen"]


# -- elasticsearch.dsl -----------------------------------------------------------------------


def test_a_documents_index_is_what_the_resolver_says_at_each_access():
    target = {"index": dsl.Index("first", using="default")}

    class Probe(dsl.Document):
        title = dsl.Text()

    adapters.install_index_resolver(Probe, lambda cls: target["index"])
    assert adapters.index_name(Probe._index) == "first"
    target["index"] = dsl.Index("second", using="default")
    assert adapters.index_name(Probe._index) == "second"
    target["index"] = None
    assert adapters.index_name(Probe._index) is None  # its own, unnamed
    assert adapters.mapping_field_names(Probe) == ["title"], VERSIONS


def test_search_and_response_accessors():
    search = ArticleDocument.search()
    assert adapters.search_documents(search) == [ArticleDocument]
    response = dsl.Response(search, {"hits": {"hits": [], "total": {"value": 0}}})
    assert adapters.response_search(response) is search
    from djangoes_dsl.search import Response

    assert isinstance(search.response_class(Response), dsl.Search)


def test_a_searchs_connection_and_indices():
    search = ArticleDocument.search(using="default")
    assert adapters.search_using(search) == "default", VERSIONS
    assert adapters.search_indices(search) == [ArticleDocument.get_read_index()], VERSIONS
    assert adapters.search_indices(search.index()) is None, VERSIONS  # every index
    assert adapters.search_indices(search[10:20].sort("title")) == [
        ArticleDocument.get_read_index()
    ]


@pytest.mark.django_db
def test_dsl_uses_the_read_name_and_recognises_hits_of_a_rebuilt_index():
    client = connections["default"].client
    name = ProductDocument.get_index_name()
    concrete = f"{name}-20260101000000"
    client.indices.create(index=concrete)
    try:
        client.index(index=concrete, id="7", document={"title": "lamp"}, refresh=True)
        response = ProductDocument.search(index=concrete).execute()
        assert [type(hit) for hit in response] == [ProductDocument], VERSIONS
        assert ProductDocument._default_index() == ProductDocument.get_read_index()
    finally:
        client.indices.delete(index=concrete)


def test_the_client_keeps_its_own_user_agent_when_elasticsearch_dsl_uses_it():
    # A client registered as it is gets elasticsearch.dsl's user-agent stamped on it ...
    plain = elasticsearch.Elasticsearch(connections["default"].server["HOSTS"])
    dsl_connections.add_connection("plain-client", plain)
    try:
        stamped = plain._headers.get("user-agent", "")
        assert stamped.startswith("elasticsearch-dsl-py/"), VERSIONS
    finally:
        dsl_connections.remove_connection("plain-client")
        plain.close()
    # ... the djangoes connections' clients are not touched.
    registered = dsl_connections.get_connection("default")
    ArticleDocument.search().count()
    client = connections["default"].client
    assert registered.transport is client.transport
    assert "user-agent" not in client._headers, VERSIONS


def test_a_fields_values_and_list_items_go_through_its_deserialize_hook():
    seen = []

    class Probe(dsl.Date):
        def _deserialize(self, data):
            seen.append(data)
            return super()._deserialize(data)

    probe = Probe()
    assert probe.deserialize("2024-01-02") == datetime.datetime(2024, 1, 2)
    assert probe.deserialize(["2024-01-02", None, 0]) == [
        datetime.datetime(2024, 1, 2),
        None,
        datetime.datetime(1970, 1, 1),
    ]
    assert probe.deserialize(None) is None
    assert seen == ["2024-01-02", "2024-01-02", 0], VERSIONS
    # The fast Date field overrides that hook, and leaves the mapping alone.
    assert "_deserialize" in vars(adapters.Date), VERSIONS
    assert adapters.Date(format="yyyy-MM-dd").format == "yyyy-MM-dd"
    assert adapters.Date(format="yyyy-MM-dd").to_dict() == {"type": "date", "format": "yyyy-MM-dd"}
    assert not hasattr(adapters.Date(), "format"), VERSIONS
    # What the fast path reads of the field: its params and its default time zone.
    assert dsl.Date(format="yyyy-MM-dd")._params == {"format": "yyyy-MM-dd"}, VERSIONS
    assert dsl.Date()._params == {}, VERSIONS
    assert dsl.Date()._default_timezone is None, VERSIONS
    assert dsl.Date(default_timezone=datetime.UTC)._default_timezone is datetime.UTC, VERSIONS


def test_a_documents_coerced_fields_are_those_from_es_deserializes():
    found = adapters.coerced_fields(ProductDocument)
    assert list(found) == adapters.mapping_field_names(ProductDocument), VERSIONS
    assert found["title"] is None
    assert found["sku"] is None
    assert found["created"] is ProductDocument._doc_type.mapping["created"], VERSIONS
    assert found["price"] is not None
    assert found["in_stock"] is not None
    # elasticsearch.dsl's own from_es deserializes exactly these.
    hit = {
        "_index": ProductDocument.get_index_name(),
        "_id": "1",
        "_source": {"sku": "S", "price": "2.5", "in_stock": "false", "created": "2024-01-02"},
    }
    built = dsl.Document.from_es.__func__(ProductDocument, hit)
    assert built.price == 2.5, VERSIONS
    assert built.in_stock is False, VERSIONS
    assert built.created == datetime.datetime(2024, 1, 2), VERSIONS
    assert ProductDocument.from_es(hit).to_dict() == built.to_dict()


def test_a_value_reader_deserializes_as_the_fields_own_deserialize():
    # Field.deserialize calls _deserialize for a value and for each item of a list; the
    # reader calls _deserialize directly for a value. A field class with its own
    # deserialize keeps it.
    mapping = ProductDocument._doc_type.mapping
    for name, values in {
        "created": ["2024-01-02T03:04:05+02:00", ["2024-01-02", None, "2024-01-03T00:00:00Z"]],
        "price": ["2.5", ["1", "2.25"]],
        "in_stock": ["false", [True, "true"]],
    }.items():
        field = mapping[name]
        read = adapters.value_reader(field)
        for value in values:
            assert read(value) == field.deserialize(value), (name, value, VERSIONS)

    class Pair(dsl.Keyword):
        def deserialize(self, data):
            return tuple(data)

    pair = Pair()
    assert adapters.value_reader(pair) == pair.deserialize
    assert adapters.value_reader(pair)(["a", "b"]) == ("a", "b")


def test_a_document_is_built_from_a_hit_as_elasticsearch_dsl_builds_it():
    from elasticsearch.dsl.utils import ObjectBase

    assert ArticleDocument.__init__ is ObjectBase.__init__, VERSIONS
    assert ArticleDocument._defaults == {}, VERSIONS
    hit = {
        "_index": ArticleDocument.get_index_name(),
        "_id": "3",
        "_score": 0.5,
        "_routing": "r",
        "fields": {"x": [1]},
        "_source": {"title": "lamp"},
    }
    built = adapters.document_from_hit(ArticleDocument, hit, {"title": "lamp"})
    expected = dsl.Document.from_es.__func__(ArticleDocument, hit)
    assert built.meta.to_dict() == expected.meta.to_dict(), VERSIONS
    assert built.to_dict() == expected.to_dict() == {"title": "lamp"}
    assert built.meta.id == "3"
    assert built.meta.routing == "r"

    class Own(dsl.Document):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)

    assert adapters.document_from_hit(Own, hit, {}) is None


# -- elasticsearch-py: what every API method tells the transport -----------------------------


class _Recording(elastic_transport.Transport):
    """A transport that keeps how each request it sends is classified."""

    seen: list[ApiRequest]
    reads_api_call = True  # the client hands it each request's API (READS_API_CALL)

    def perform_request(self, method, target, **kwargs):
        self.seen.append(ApiRequest.of(method, target))
        return super().perform_request(method, target, **kwargs)


def test_every_api_method_tells_the_transport_its_api_and_the_names_in_its_path():
    # djangoes.backends.requests classifies requests from the endpoint_id and path_parts that
    # elasticsearch-py passes to perform_request; a client version that stops passing them
    # would leave the live-write guard with raw paths only.
    client = DjangoesElasticsearch(ES_URL, transport_class=_Recording)
    client.transport.seen = []
    name = f"test_adapter_{uuid.uuid4().hex[:8]}"
    try:
        client.indices.create(index=name)
        client.index(index=name, id="a/1", document={"title": "x"})
        client.bulk(index=name, operations=[{"delete": {"_id": "a/1"}}])
        client.indices.put_alias(index=name, name=f"{name}_alias")
        client.indices.refresh(index=[name, f"{name}_alias"])
        client.search(index=name, size=0)
        client.perform_request("POST", f"/{name}/_doc/2", headers=JSON, body={"title": "y"})
    finally:
        client.indices.delete(index=name)
    seen = [(r.endpoint, r.parts, r.raw) for r in client.transport.seen]
    assert seen == [
        ("indices.create", {"index": name}, False),
        ("index", {"index": name, "id": "a/1"}, False),
        ("bulk", {"index": name}, False),
        ("indices.put_alias", {"index": name, "name": f"{name}_alias"}, False),
        ("indices.refresh", {"index": f"{name},{name}_alias"}, False),
        ("search", {"index": name}, False),
        ("index", {"index": name, "id": "2"}, True),  # raw: read from the path
        ("indices.delete", {"index": name}, False),
    ], VERSIONS
    assert [r.is_read for r in client.transport.seen] == [False] * 4 + [True, True] + [False] * 2
    assert client.transport.seen[5].is_search


def test_facet_internals_and_mapped_fields():
    from elasticsearch.dsl.faceted_search import NestedFacet, RangeFacet, TermsFacet

    ranges = RangeFacet(field="price", ranges=[("low", (None, 5)), ("high", (5, None))])
    assert adapters.range_facet_keys(ranges) == ["low", "high"]
    assert adapters.facet_params(ranges)["field"] == "price"
    terms = TermsFacet(field="category")
    assert adapters.nested_facet_inner(NestedFacet("tags", terms)) is terms

    class Faceted(dsl.FacetedSearch):
        facets = {"category": terms}

    faceted = Faceted()[2:4]
    assert adapters.faceted_request(faceted).to_dict()["from"] == 2
    assert adapters.mapped_field(ProductDocument, "title.raw").name == "keyword"
    assert adapters.mapped_field(ProductDocument, "nothing") is None
    assert adapters.mapped_field_is_multi(adapters.mapped_field(ProductDocument, "tags"))
    assert not adapters.mapped_field_is_multi(adapters.mapped_field(ProductDocument, "category"))


def test_an_object_fields_properties_and_inner_document():
    from elasticsearch.dsl import InnerDoc, field

    from djangoes_dsl.adapters import inner_document, mapping_fields, object_properties

    built = field.Object(properties={"name": field.Text(), "size": field.Integer()})
    assert issubclass(inner_document(built), InnerDoc)
    assert {name: type(sub) for name, sub in object_properties(built).items()} == {
        "name": field.Text,
        "size": field.Integer,
    }

    class Shelf(InnerDoc):
        label = field.Keyword()

    given = field.Nested(Shelf)
    assert inner_document(given) is Shelf
    assert list(object_properties(given)) == ["label"]
    assert list(mapping_fields(Shelf)) == ["label"]
    assert object_properties(field.Text()) == {}
