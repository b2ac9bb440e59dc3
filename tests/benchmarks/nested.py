"""A product document with its category as an object and its tags as nested objects: djangoes'
native Document and the same declaration through djangoes_dsl.compat (django-elasticsearch-dsl's
own is in dedsl_nested_app). Rebuilt by the tasks ``nested_djangoes`` and ``nested_compat``
(tests/benchmarks/tasks.py)."""

from __future__ import annotations

from djangoes_dsl import Document, fields
from djangoes_dsl.compat import Document as CompatDocument
from djangoes_dsl.compat import fields as compat_fields
from tests.apps.shop.models import Product

NATIVE_KEY = "nested_products"


class NestedProductDocument(Document):
    title = fields.Text()
    category = fields.Object(properties={"name": fields.Text()})
    tags = fields.Nested(properties={"name": fields.Keyword()})

    class Django:
        model = Product
        fields = ["sku", "price", "in_stock", "created"]
        queryset_pagination = 1000


class CompatNestedProductDocument(CompatDocument):
    title = compat_fields.TextField()
    category = compat_fields.ObjectField(properties={"name": compat_fields.TextField()})
    tags = compat_fields.NestedField(properties={"name": compat_fields.KeywordField()})

    class Index:
        name = "compat_nested_products"
        settings = {"number_of_shards": 1, "number_of_replicas": 0}

    class Django:
        model = Product
        fields = ["sku", "price", "in_stock", "created"]
        queryset_pagination = 1000
