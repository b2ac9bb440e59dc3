"""The registry of Documents and their binding to configured indices and servers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.db import models
from elasticsearch import dsl
from elasticsearch.dsl import connections as dsl_connections

import djangoes

from .documents import Document

D = TypeVar("D", bound=type[Document])


class DocumentRegistry:
    """Documents registered with ``@register(key)``, bound to their configured index."""

    def __init__(self) -> None:
        self._documents: dict[type[Document], tuple[str, str | None]] = {}

    def register(self, key: str, using: str | None = None) -> Callable[[D], D]:
        """Bind the decorated Document to ES_INDICES ``key`` (on server ``using``)."""
        if not isinstance(key, str):
            raise TypeError(
                "register() takes the ES_INDICES key of the index, e.g. "
                "@register('products'); it was applied without one."
            )

        def decorator(document: D) -> D:
            if not (isinstance(document, type) and issubclass(document, Document)):
                raise TypeError(
                    f"@register('{key}') decorates subclasses of djangoes_dsl.Document, "
                    f"not {document!r}."
                )
            if document is Document:
                raise TypeError("The Document base class itself cannot be registered.")
            self._documents[document] = (key, using)
            self.bind(document)
            return document

        return decorator

    def unregister(self, document: type[Document]) -> None:
        self._documents.pop(document, None)

    # -- lookups ----------------------------------------------------------------------------

    @property
    def documents(self) -> list[type[Document]]:
        """Return every registered Document class, in registration order."""
        return list(self._documents)

    def registration(self, document: type[Document]) -> tuple[str, str | None]:
        """Return ``(key, using)`` as given to ``register`` for ``document``."""
        return self._documents[document]

    def get_documents(self, models: Iterable[type[models.Model]] | None = None) -> list[Any]:
        """Return the Documents (of ``models`` only, when given)."""
        if models is None:
            return self.documents
        wanted = set(models)
        return [doc for doc in self._documents if doc.get_model() in wanted]

    def documents_for_model(self, model: type[models.Model]) -> list[type[Document]]:
        """Return the Documents whose ``Django.model`` is ``model`` (or its concrete parent)."""
        concrete = model._meta.concrete_model
        return [
            doc
            for doc in self._documents
            if (found := doc.get_model()) is not None and found._meta.concrete_model is concrete
        ]

    def documents_for_related(self, model: type[models.Model]) -> list[type[Document]]:
        """Return the Documents that list ``model`` in ``Django.related_models``."""
        return [doc for doc in self._documents if model in doc.get_related_models()]

    def documents_for_index(self, key: str, using: str | None = None) -> list[type[Document]]:
        """Return the Documents bound to index ``key`` (on server ``using``, when given)."""
        return [
            doc
            for doc, (doc_key, _) in self._documents.items()
            if doc_key == key and (using is None or doc._djangoes_using == using)
        ]

    def get_index(self, key: str, using: str | None = None) -> dsl.Index | None:
        """Return the bound elasticsearch.dsl Index of ``key``, with every Document's mapping."""
        documents = self.documents_for_index(key, using)
        return documents[0]._index if documents else None

    # -- binding ----------------------------------------------------------------------------

    @staticmethod
    def servers_for(key: str) -> list[str]:
        """Return the aliases of the servers whose INDICES (in force now) list ``key``."""
        return [
            alias
            for alias in djangoes.connections
            if key in djangoes.connections.get_server_settings(alias)["INDICES"]
        ]

    def choose_server(self, key: str, using: str | None) -> str | None:
        servers = self.servers_for(key)
        if using is not None:
            return using if using in servers else None
        if djangoes.DEFAULT_ES_ALIAS in servers:
            return djangoes.DEFAULT_ES_ALIAS
        return servers[0] if servers else None

    def bind(self, document: type[Document]) -> None:
        """Point ``document`` at its index as configured now (live or test names).

        Documents sharing a key share one Index, so its mapping merges all of theirs.
        A document whose key or server is not configured stays unbound; the system checks
        say why and using it raises ImproperlyConfigured.
        """
        key, using = self._documents[document]
        alias = self.choose_server(key, using)
        if key not in djangoes.connections.indices or alias is None:
            document._djangoes_key = key
            document._djangoes_using = None
            document._djangoes_read_index = None
            document._index = dsl.Index(name=None)  # type: ignore[assignment,arg-type]
            return
        settings = djangoes.connections.get_index_settings(key)
        index = None
        for other in self.documents_for_index(key, alias):
            if other is not document and other._index._name == settings["NAME"]:
                index = other._index
                break
        if index is None:
            index = dsl.Index(settings["NAME"], using=alias)
            if settings["SETTINGS"]:
                index.settings(**settings["SETTINGS"])
            if settings["ALIASES"]:
                index.aliases(**{name: {} for name in settings["ALIASES"]})
        document._index = index  # type: ignore[assignment]
        index.document(document)
        document._djangoes_key = key
        document._djangoes_using = alias
        document._djangoes_read_index = settings["ALIASES"][0] if settings["ALIASES"] else None

    def bind_all(self) -> None:
        """Re-bind every Document (after settings changed or tests switched names)."""
        self.unbind_all()
        for document in self._documents:
            self.bind(document)

    def unbind_all(self) -> None:
        """Detach every Document from its index; using one raises until it is bound again."""
        for document in self._documents:
            document._index = dsl.Index(name=None)  # type: ignore[assignment,arg-type]
            document._djangoes_using = None
            document._djangoes_read_index = None

    def index_body_mappings(self, key: str, using: str) -> dict[str, Any]:
        """Return the ``mappings`` and DSL-declared ``analysis`` for index ``key``."""
        index = self.get_index(key, using)
        if index is None:
            return {}
        body = index.to_dict()
        extra: dict[str, Any] = {}
        if "mappings" in body:
            extra["mappings"] = body["mappings"]
        analysis = body.get("settings", {}).get("analysis")
        if analysis:
            extra["analysis"] = analysis
        return extra


registry = DocumentRegistry()
register = registry.register


_synced_aliases: set[str] = set()


def sync_dsl_connections() -> None:
    """Give elasticsearch.dsl's registry the very client of every djangoes connection."""
    configured = set(djangoes.connections)
    for alias in _synced_aliases - configured:
        dsl_connections.remove_connection(alias)
    for alias in configured:
        dsl_connections.add_connection(alias, djangoes.connections[alias].client)
    _synced_aliases.clear()
    _synced_aliases.update(configured)
