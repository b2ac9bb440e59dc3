"""Search-as-you-type over the fields a Document marks in ``Django.autocomplete``.

    @register("products")
    class ProductDocument(Document):
        title = fields.Text()
        class Django:
            model = Product
            autocomplete = ["title"]

    ProductDocument.search().autocomplete("red la")[:8].instances()

The query is a ``multi_match`` of type ``bool_prefix``: every word typed but the last must
match, the last as a prefix ("red la" finds "Red lamp"). It runs on any ``text`` or
``keyword`` field of any node, without a special mapping. A field mapped as
``search_as_you_type`` (``elasticsearch.dsl.SearchAsYouType()``) is queried with its ``._2gram`` and
``._3gram`` subfields too, which ranks words typed in order higher; a ``text`` field with
``index_prefixes`` answers the prefix from its prefix index, faster on large indices. Both are
mapping choices of the Document; the query is the same.
"""

from __future__ import annotations

from typing import Any

from elasticsearch.dsl import Q

from .adapters import search_documents
from .params import field_type

__all__ = ["autocomplete_fields", "autocomplete_query"]

#: The subfields a ``search_as_you_type`` field adds (Elasticsearch's default max_shingle_size).
SHINGLE_SUBFIELDS = ("._2gram", "._3gram")


def autocomplete_fields(document: Any) -> list[str]:
    """Return the fields a Document marks for autocomplete (``Django.autocomplete``)."""
    return list(getattr(getattr(document, "Django", None), "autocomplete", None) or ())


def _document_of(search: Any) -> Any:
    for document in search_documents(search):
        if autocomplete_fields(document):
            return document
    raise TypeError(
        "autocomplete() needs a Document's search with Django.autocomplete naming its fields, "
        "e.g. class Django: autocomplete = ['title'], or autocomplete(text, fields=[...])."
    )


def autocomplete_query(search: Any, text: str, fields: list[str] | None = None) -> Any:
    """Return the query that matches ``text`` as typed so far in the autocomplete fields of
    the search's Document (or ``fields``); text of only spaces matches nothing."""
    if not text.strip():
        return Q("match_none")
    document = None if fields else _document_of(search)
    names = list(fields) if fields else autocomplete_fields(document)
    if document is None:
        documents = search_documents(search)
        document = documents[0] if documents else None
    queried: list[str] = []
    for name in names:
        path = name.split("^", 1)[0]
        queried.append(name)
        if document is not None and field_type(document, path) == "search_as_you_type":
            queried += [path + sub for sub in SHINGLE_SUBFIELDS]
    return Q("multi_match", query=text, type="bool_prefix", operator="and", fields=queried)
