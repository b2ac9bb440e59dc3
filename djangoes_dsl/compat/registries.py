"""django-elasticsearch-dsl's ``registry`` on djangoes' registry.

``register_document`` registers a Document with :data:`djangoes_dsl.registry` under the
ES_INDICES key its ``class Index`` names (by key or by NAME); a name ES_INDICES does not
have becomes an index declared in code (``djangoes.connections.declare``), served by the
``default`` server, with ``class Index.settings`` (else ``ELASTICSEARCH_DSL_INDEX_SETTINGS``).
The sync methods (``update``, ``delete``, ...) go through djangoes' signal processor: sent on
commit, in bulk.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import models
from elasticsearch import dsl

import djangoes
from djangoes_dsl import registry as native
from djangoes_dsl.adapters import index_name
from djangoes_dsl.signals import get_signal_processor

from . import conf
from .documents import check_model

__all__ = ["DocumentRegistry", "registry"]


def _own_index(document: type) -> dsl.Index | None:
    own = document.__dict__.get("_index")
    return getattr(own, "own", own)


def index_key(document: type) -> str:
    """Return the ES_INDICES key for ``document``'s ``class Index``; declare it if needed."""
    own = _own_index(document)
    name = index_name(own) if own is not None else None
    if not name:
        raise ImproperlyConfigured(
            f"{document.__name__} has no index name: give it `class Index: name = '...'` "
            f"(an ES_INDICES key, or a new index on the default server)."
        )
    try:
        configured = djangoes.connections.indices
    except ImproperlyConfigured:
        configured = {}
    for key, options in configured.items():
        if key == name or options.get("NAME") == name:
            return key
    settings = conf.default_index_settings()
    settings.update((own.to_dict() if own is not None else {}).get("settings", {}))
    djangoes.connections.declare(indices={name: {"NAME": name, "SETTINGS": settings or None}})
    return name


class DocumentRegistry:
    """django-elasticsearch-dsl's registry API over :data:`djangoes_dsl.registry`."""

    def register_document(self, document: Any) -> Any:
        """Register ``document`` (a class decorator)."""
        check_model(document)
        native.register(index_key(document))(document)
        return document

    def register(self, index: Any, doc_class: Any) -> None:
        """Register ``doc_class`` (its index is its ``class Index``)."""
        self.register_document(doc_class)

    def get_documents(self, models: Iterable[type[models.Model]] | None = None) -> set[Any]:
        """Return the registered Documents (of ``models`` only, when given)."""
        return set(native.get_documents(models))

    def get_models(self) -> set[type[models.Model]]:
        """Return the models of the registered Documents."""
        return {model for doc in native.documents if (model := doc.get_model()) is not None}

    def get_indices(self, models: Iterable[type[models.Model]] | None = None) -> set[Any]:
        """Return the elasticsearch.dsl Indices (names in force) of the registered Documents."""
        found = {}
        for document in native.get_documents(models):
            binding = document.get_binding()
            if binding is not None:
                found[binding.name] = binding.index
        return set(found.values())

    def __contains__(self, model: Any) -> bool:
        return any(
            doc.get_model() is model or model in doc.get_related_models()
            for doc in native.documents
        )

    # -- keeping documents in sync: through djangoes' signal processor ------------------------

    def update(self, instance: models.Model, **kwargs: Any) -> None:
        """Index ``instance``'s documents, and those embedding it, as a save would."""
        processor = get_signal_processor()
        if processor is not None:
            processor.handle_rows(type(instance), [instance], kwargs.get("using"))

    def update_related(self, instance: models.Model, **kwargs: Any) -> None:
        """Index the documents embedding ``instance`` (with its own: a save's operations)."""
        self.update(instance, **kwargs)

    def delete(self, instance: models.Model, **kwargs: Any) -> None:
        """Delete ``instance``'s documents; index those embedding it again."""
        processor = get_signal_processor()
        if processor is not None:
            processor.handle_pre_delete(type(instance), instance, using=kwargs.get("using"))

    def delete_related(self, instance: models.Model, **kwargs: Any) -> None:
        """As ``delete``: the documents embedding ``instance`` are indexed again."""
        self.delete(instance, **kwargs)


registry = DocumentRegistry()
