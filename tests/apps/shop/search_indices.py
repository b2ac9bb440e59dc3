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
        lookups = {"category": "category__name", "tags": "tags__name"}
        related_models = [Category, Tag]
        autocomplete = ["title"]

    @classmethod
    def get_queryset(cls):
        # For reads of model instances (source(), or a prepare_<field> method added).
        return super().get_queryset().select_related("category").prefetch_related("tags")
