"""djangoes_dsl: Documents bound to configured indices, kept in sync with Django models."""

from . import fields
from .bulk import IndexedManager, IndexedQuerySet, index_on_commit
from .documents import Document
from .pause import indexing_paused
from .registry import DocumentRegistry, register, registry
from .search import Response, Search

__all__ = [
    "Document",
    "DocumentRegistry",
    "IndexedManager",
    "IndexedQuerySet",
    "Response",
    "Search",
    "fields",
    "index_on_commit",
    "indexing_paused",
    "register",
    "registry",
]
