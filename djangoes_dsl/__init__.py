"""djangoes_dsl: Documents bound to configured indices, kept in sync with Django models."""

from . import fields
from .documents import Document
from .pause import indexing_paused
from .registry import DocumentRegistry, register, registry
from .search import Response, Search

__all__ = [
    "Document",
    "DocumentRegistry",
    "Response",
    "Search",
    "fields",
    "indexing_paused",
    "register",
    "registry",
]
