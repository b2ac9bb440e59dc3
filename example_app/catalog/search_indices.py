"""The search document of the catalogue, found by djangoes_dsl's autodiscovery."""

from djangoes_dsl import Document, fields, register

from .embedding import AVAILABLE as VECTORS
from .models import Author, Book, Tag


@register("books")  # the key of ES_INDICES in settings
class BookDocument(Document):
    # "book_text" is the custom analyzer of ES_INDICES["books"]["SETTINGS"].
    title = fields.Text(
        analyzer="book_text", fields={"raw": fields.Keyword(normalizer="lowercase")}
    )
    summary = fields.Text(analyzer="book_text")
    # Searched as text, aggregated and filtered on author.raw.
    author = fields.Text(analyzer="book_text", fields={"raw": fields.Keyword()})
    tags = fields.Keyword(multi=True)
    isbn = fields.Keyword()
    if VECTORS:  # the optional model is installed: semantic search and "similar books"
        embedding = fields.Embedding(
            source=["title", "tags", "summary"], embedder="catalog.embedding.WordLlamaEmbedder"
        )

    class Django:
        model = Book
        # Mapped from the model fields' types: year → integer, price → double, ...
        fields = ["year", "price", "pages", "in_stock"]
        # Values through relations: the author's name, the sorted names of the tags. With
        # only fields and lookups (no prepare_<field> methods), rebuilds and signal writes
        # read the books with values_list(), without model instances.
        lookups = {"author": "author__name", "tags": "tags__name"}
        # Renaming an author or a tag re-indexes their books (on commit, in bulk): the
        # default get_instances_from_related() follows Book.author and Book.tags.
        related_models = [Author, Tag]
        # The search box's suggestions (Search.autocomplete and the API's autocomplete).
        autocomplete = ["title", "author"]
