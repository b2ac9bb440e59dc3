"""django-elasticsearch-dsl's ``Index``: an elasticsearch.dsl Index whose ``document()``
registers the Document (see :mod:`djangoes_dsl.compat.registries`)."""

from __future__ import annotations

from typing import Any

from elasticsearch import dsl

from . import conf
from .registries import registry

__all__ = ["Index"]


class Index(dsl.Index):
    """An Index with ``ELASTICSEARCH_DSL_INDEX_SETTINGS``, registering its Documents."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings(**conf.default_index_settings())

    def document(self, document: Any) -> Any:
        """Register ``document`` on this index (a class decorator)."""
        document = super().document(document)
        registry.register_document(document)
        return document

    doc_type = document

    def __str__(self) -> str:
        return str(self._name)
