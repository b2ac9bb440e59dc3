"""A product document with its category as an object and its tags as nested objects, as a
native djangoes Document (django-elasticsearch-dsl's, also run through djangoes_dsl.compat, is
in dedsl_nested_app). Rebuilt by the task ``nested_djangoes`` (tests/benchmarks/tasks.py)."""

from __future__ import annotations

from djangoes_dsl import Document, fields
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
