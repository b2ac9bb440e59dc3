"""The same product documents for django-elasticsearch-dsl (autodiscovered 'documents')."""

from django_elasticsearch_dsl import Document, fields
from django_elasticsearch_dsl.registries import registry

from tests.apps.shop.models import Category, Product, Tag


@registry.register_document
class ProductDocument(Document):
    title = fields.TextField(fields={"raw": fields.KeywordField()})
    sku = fields.TextField()
    category = fields.KeywordField()
    tags = fields.KeywordField(multi=True)

    class Index:
        name = "dedsl_products"
        settings = {"number_of_shards": 1, "number_of_replicas": 0}

    class Django:
        model = Product
        fields = ["price", "in_stock", "created"]
        related_models = [Category, Tag]
        queryset_pagination = 1000  # needed with prefetch_related; the same page as djangoes

    def get_queryset(self):
        return super().get_queryset().select_related("category").prefetch_related("tags")

    def prepare_category(self, instance):
        return instance.category.name if instance.category_id else None

    def prepare_tags(self, instance):
        return sorted(tag.name for tag in instance.tags.all())
