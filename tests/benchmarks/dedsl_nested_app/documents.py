"""The product document with its category as an object and its tags as nested objects, for
django-elasticsearch-dsl (autodiscovered 'documents'), and the same module through
djangoes_dsl.compat where django-elasticsearch-dsl is not installed (the nested_compat task):
a move from one to the other changes these imports only."""

try:
    from django_elasticsearch_dsl import Document, fields
    from django_elasticsearch_dsl.registries import registry
except ImportError:
    from djangoes_dsl.compat import Document, fields
    from djangoes_dsl.compat.registries import registry

from tests.apps.shop.models import Category, Product, Tag


@registry.register_document
class NestedProductDocument(Document):
    title = fields.TextField()
    category = fields.ObjectField(properties={"name": fields.TextField()})
    tags = fields.NestedField(properties={"name": fields.KeywordField()})

    class Index:
        name = "dedsl_nested_products"
        settings = {"number_of_shards": 1, "number_of_replicas": 0}

    class Django:
        model = Product
        fields = ["sku", "price", "in_stock", "created"]
        related_models = [Category, Tag]
        queryset_pagination = 1000

    def get_queryset(self):
        return super().get_queryset().select_related("category").prefetch_related("tags")

    def get_instances_from_related(self, related_instance):
        return related_instance.product_set.all()
