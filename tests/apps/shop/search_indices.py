from djangoes_dsl import Document, fields, register

from .models import Category, Product, Tag


@register("products")
class ProductDocument(Document):
    title = fields.Text(analyzer="title_text", fields={"raw": fields.Keyword()})
    category = fields.Keyword()
    tags = fields.Keyword(multi=True)

    class Django:
        model = Product
        fields = ["sku", "price", "in_stock", "created"]
        related_models = [Category, Tag]

    @classmethod
    def get_queryset(cls):
        return super().get_queryset().select_related("category").prefetch_related("tags")

    def prepare_category(self, instance):
        return instance.category.name if instance.category_id else None

    def prepare_tags(self, instance):
        return sorted(tag.name for tag in instance.tags.all())
