"""Hits read back as elasticsearch.dsl reads them: the fast Date field and Document.from_es.

Every value is compared with what elasticsearch.dsl's own Date field (``dateutil``) and its
own ``from_es`` give for the same input: same values, same types, same time zone objects.
"""

from __future__ import annotations

import datetime

import pytest
from django.test import override_settings
from elasticsearch import dsl
from elasticsearch.dsl import field as dsl_field
from elasticsearch.dsl.exceptions import ValidationException

from djangoes import connections
from djangoes_dsl import Document, fields
from tests.apps.blog.search_indices import ArticleDocument
from tests.apps.shop.search_indices import ProductDocument
from tests.indexing_utils import reset_index

DATES = [
    "2024-01-02",
    "2024-01-02T03:04",
    "2024-01-02T03:04:05",
    "2024-01-02T03:04:05Z",
    "2024-01-02T03:04:05.1Z",
    "2024-01-02T03:04:05.123Z",
    "2024-01-02T03:04:05.123456+00:00",
    "2024-01-02T03:04:05.123456789-00:00",
    "2024-07-02T03:04:05+02:00",
    "2024-01-02T03:04:05.5-08:00",
    "2024-01-02T03:04:05+05:30",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999+14:00",
    # Not the fast path's shapes: elasticsearch.dsl parses them.
    "2024-01-02 03:04:05",
    "20240102T030405Z",
    "2024-01-02T03:04:05+0100",
    "Jan 2 2024 3:04 PM",
    1704164645123,
    0,
    datetime.datetime(2024, 1, 2, 3, 4, 5),
    datetime.date(2024, 1, 2),
    None,
    [],
    ["2024-01-02T03:04:05Z", None, "2024-01-02", 1704164645123],
]

INVALID = ["2024-13-02", "2024-01-02T24:00:00", "2024-02-30T00:00:00Z", "not a date", ""]

FIELD_OPTIONS = [
    {},
    {"format": "yyyy-MM-dd"},
    {"format": "strict_date_optional_time||epoch_millis"},
    {"default_timezone": "Europe/Paris"},
    {"default_timezone": datetime.UTC},
    {"multi": True},
]


def assert_same(found, expected):
    assert type(found) is type(expected), (found, expected)
    if isinstance(expected, list):
        assert len(found) == len(expected)
        for one, other in zip(found, expected, strict=True):
            assert_same(one, other)
        return
    assert found == expected
    if isinstance(expected, datetime.datetime):
        assert type(found.tzinfo) is type(expected.tzinfo), (found, expected)
        assert found.tzinfo == expected.tzinfo
        assert found.utcoffset() == expected.utcoffset()
        assert found.tzname() == expected.tzname()
        assert found.microsecond == expected.microsecond


@pytest.mark.parametrize("time_zone", ["UTC", "Europe/Paris", "America/New_York"])
@pytest.mark.parametrize("options", FIELD_OPTIONS, ids=repr)
def test_dates_read_as_elasticsearch_dsl_reads_them(time_zone, options):
    with override_settings(TIME_ZONE=time_zone):  # dateutil's zero offset follows the TZ
        fast, reference = fields.Date(**options), dsl_field.Date(**options)
        assert isinstance(fast, dsl_field.Date)
        for value in DATES:
            assert_same(fast.deserialize(value), reference.deserialize(value))
            assert_same(fast.clean(value), reference.clean(value))


@pytest.mark.parametrize("value", INVALID)
def test_invalid_dates_fail_as_in_elasticsearch_dsl(value):
    with pytest.raises(ValidationException) as expected:
        dsl_field.Date().deserialize(value)
    with pytest.raises(ValidationException) as found:
        fields.Date().deserialize(value)
    assert str(found.value) == str(expected.value)


def test_model_date_fields_map_to_the_fast_date_field():
    assert type(ProductDocument._doc_type.mapping["created"]) is fields.Date
    assert type(ArticleDocument._doc_type.mapping["published"]) is fields.Date
    assert fields.Date().to_dict() == dsl_field.Date().to_dict() == {"type": "date"}


def library_from_es(document, hit):
    """The document elasticsearch.dsl's own from_es builds, with its own Date fields."""
    built = dsl.Document.from_es.__func__(document, hit)
    for name in ("created", "published"):
        value = hit.get("_source", {}).get(name)
        if name in document._doc_type.mapping and value is not None:
            built._d_[name] = dsl_field.Date().deserialize(value)
    return built


def assert_same_document(found, expected):
    assert type(found) is type(expected)
    assert found.meta.to_dict() == expected.meta.to_dict()
    assert list(found.to_dict(skip_empty=False)) == list(expected.to_dict(skip_empty=False))
    for name, value in expected._d_.items():
        assert_same(found._d_[name], value)
    assert found.to_dict() == expected.to_dict()


def test_hits_read_back_from_the_node_as_elasticsearch_dsl_reads_them():
    client = connections["default"].client
    name = ProductDocument.get_index_name()
    reset_index(ProductDocument)  # also after a rebuild left NAME an alias
    sources = [
        {"sku": "A", "title": "red one", "created": "2024-01-02T03:04:05.123456+00:00"},
        {"sku": "B", "title": "red two", "created": "2024-01-02T03:04:05Z", "tags": ["x", "y"]},
        {"sku": "C", "title": "red three", "created": "2024-01-02", "price": 1.5},
        {"sku": "D", "title": "red four", "created": 1704164645123, "in_stock": False},
        {"sku": "E", "title": "red five", "created": None, "category": None},
        {"sku": "F", "title": "red six", "created": ["2024-01-02T03:04:05+05:30", "2023-12-31"]},
        {"sku": "G", "title": "red seven", "created": "2024-01-02T03:04:05.5-08:00"},
        {"sku": "H", "title": "red eight", "unmapped": {"nested": [1, 2]}},
        {"sku": "I", "title": "red nine"},
    ]
    for number, source in enumerate(sources, start=1):
        client.index(index=name, id=str(number), document=source)
    client.indices.refresh(index=name)

    response = ProductDocument.search().query("match", title="red")[:20].execute()
    raw = client.search(
        index=ProductDocument.get_read_index(), query={"match": {"title": "red"}}, size=20
    )
    by_id = {hit["_id"]: hit for hit in raw["hits"]["hits"]}

    assert len(response.hits) == len(sources)
    for hit in response.hits:
        assert_same_document(hit, library_from_es(ProductDocument, by_id[hit.meta.id]))
    first = next(hit for hit in response.hits if hit.meta.id == "1")
    assert first.created == datetime.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=datetime.UTC)


def test_a_get_reads_the_document_as_elasticsearch_dsl_does():
    client = connections["default"].client
    name = ArticleDocument.get_index_name()
    client.index(
        index=name, id="77", document={"title": "dated", "published": "2020-02-03"}, refresh=True
    )
    raw = client.get(index=name, id="77").body

    found = ArticleDocument.get(id="77")

    assert_same_document(found, library_from_es(ArticleDocument, raw))
    assert found.published == datetime.datetime(2020, 2, 3)


def test_a_source_field_named_like_an_argument_is_read_as_elasticsearch_dsl_reads_it():
    class Odd(Document):
        self = fields.Keyword()
        _private = fields.Keyword()
        when = fields.Date()

    hit = {
        "_index": "odd",
        "_id": "1",
        "_source": {"self": "me", "_private": "p", "when": "2024-01-02"},
    }
    found = Odd.from_es(hit)
    assert_same_document(found, dsl.Document.from_es.__func__(Odd, hit))
    assert found.self == "me"
    assert found.when == datetime.datetime(2024, 1, 2)


def test_defaults_and_an_own_init_are_kept_as_in_elasticsearch_dsl():
    from elasticsearch.dsl import M, mapped_field

    class WithDefaults(Document):
        title: M[str] = mapped_field(fields.Keyword(), default="untitled")
        tags: M[list[str]] = mapped_field(fields.Keyword(), default_factory=list)
        when = fields.Date()

    class WithInit(Document):
        when = fields.Date()

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.meta.seen = True

    hit = {"_index": "x", "_id": "1", "_score": 1.5, "_source": {"when": "2024-01-02"}}
    for document in (WithDefaults, WithInit):
        found = document.from_es(hit)
        assert_same_document(found, dsl.Document.from_es.__func__(document, hit))
    assert WithDefaults.from_es(hit).title == "untitled"
    assert WithDefaults.from_es(hit).tags == []
    assert WithInit.from_es(hit).meta.seen is True
    assert WithInit.from_es(hit).when == datetime.datetime(2024, 1, 2)
