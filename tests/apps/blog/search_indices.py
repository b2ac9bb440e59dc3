from djangoes_dsl import Document, register

from .models import Article


@register("articles")
class ArticleDocument(Document):
    class Django:
        model = Article
        fields = ["title", "body", "published"]
