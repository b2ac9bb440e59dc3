"""The registry of Documents: which ES_INDICES key each is registered to.

Where a Document's index is — its name (live or test), aliases, settings and server — is
not stored on the Document: ``djangoes.connections`` owns it, and the registry resolves it
when the Document is used, caching the answer until ``connections.generation`` changes (a
settings change or a switch to or from test names; a fork keeps the names).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db import models
from elasticsearch import dsl

import djangoes

from .adapters import install_index_resolver
from .documents import KIND_FIELD, Binding, Document

D = TypeVar("D", bound=type[Document])


def document_label(document: type[Document]) -> str:
    """Return the dotted path that names ``document`` where it is stored by name (journal
    entries, outbox rows, range documents)."""
    return f"{document.__module__}.{document.__qualname__}"


@dataclass(frozen=True)
class Registration:
    """What ``register`` was given: the ES_INDICES key and, optionally, the server alias."""

    key: str
    using: str | None


class DocumentRegistry:
    """Documents registered with ``@register(key)``."""

    def __init__(self) -> None:
        self._documents: dict[type[Document], Registration] = {}
        self._lock = threading.RLock()
        self._resolved_for: tuple[int, int] | None = None
        #: The bindings of ``_resolved_for`` that are complete: read without the lock.
        self._ready: dict[type[Document], Binding | None] = {}
        self._bindings: dict[type[Document], Binding | None] = {}
        self._version = 0  # changes with every (un)registration
        self._listeners: list[Callable[[], Any]] = []
        self._labels: tuple[int, dict[str, type[Document]]] = (-1, {})

    def add_listener(self, listener: Callable[[], Any]) -> None:
        """Call ``listener()`` after every registration and unregistration."""
        if listener not in self._listeners:
            self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[], Any]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    def register(self, key: str, using: str | None = None) -> Callable[[D], D]:
        """Register the decorated Document to ES_INDICES ``key`` (on server ``using``)."""
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
            with self._lock:
                self._documents[document] = Registration(key, using)
                self._version += 1
            document._djangoes_registry = self
            install_index_resolver(document, self._resolved_index)
            self._changed()
            return document

        return decorator

    def unregister(self, document: type[Document]) -> None:
        """Forget ``document``: it is no longer bound to an index nor indexed by signals."""
        with self._lock:
            if self._documents.pop(document, None) is not None:
                self._version += 1
                if document.__dict__.get("_djangoes_registry") is self:
                    del document._djangoes_registry
                self._changed()

    # -- lookups ----------------------------------------------------------------------------

    @property
    def documents(self) -> list[type[Document]]:
        """Return every registered Document class, in registration order."""
        return list(self._documents)

    def document_for_label(self, label: str) -> type[Document] | None:
        """Return the registered Document ``document_label`` names ``label``, or None."""
        version, labels = self._labels
        if version != self._version:
            with self._lock:
                version = self._version
                labels = {document_label(document): document for document in self._documents}
                self._labels = (version, labels)
        return labels.get(label)

    def registration(self, document: type[Document]) -> tuple[str, str | None]:
        """Return ``(key, using)`` as given to ``register`` for ``document``."""
        registration = self._documents[document]
        return registration.key, registration.using

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
        """Return the Documents registered to index ``key`` (held by server ``using``, if given)."""
        found = []
        for document, registration in list(self._documents.items()):
            if registration.key != key:
                continue
            if using is not None:
                binding = self.binding(document)
                if binding is None or binding.using != using:
                    continue
            found.append(document)
        return found

    def get_index(self, key: str, using: str | None = None) -> dsl.Index | None:
        """Return the elasticsearch.dsl Index of ``key`` in force, with every Document's mapping.

        On server ``using`` (default: the server that holds ``key``); None when no
        registered Document is bound to it.
        """
        for document in self.documents_for_index(key, using):
            binding = self.binding(document)
            if binding is not None:
                return binding.index
        return None

    # -- resolution -------------------------------------------------------------------------

    @staticmethod
    def servers_for(key: str) -> list[str]:
        """Return the aliases of the servers whose INDICES (in force now) list ``key``."""
        return djangoes.connections.servers_for_index(key)

    @staticmethod
    def choose_server(key: str, using: str | None) -> str | None:
        """Return the server that holds index ``key`` (``using`` if it serves it)."""
        return djangoes.connections.server_for_index(key, using)

    def binding(self, document: type[Document]) -> Binding | None:
        """Return where ``document``'s index is now; None when it is not registered, or its
        key is not configured or served.

        Raise ImproperlyConfigured when ES_SERVERS or ES_INDICES are invalid.
        """
        handler = djangoes.connections
        state = (handler.generation, self._version)
        if state == self._resolved_for:  # resolved already: no lock (searches ask per hit)
            try:
                return self._ready[document]
            except KeyError:
                pass
        with self._lock:
            if state != self._resolved_for:
                self._bindings = {}
                self._ready = {}
                self._resolved_for = state
            if document not in self._bindings:
                registration = self._documents.get(document)
                if registration is None:
                    return None
                self._bind_key(registration.key)
            binding = self._ready[document] = self._bindings[document]
            return binding

    def _bind_key(self, key: str) -> None:
        """Resolve every Document registered to ``key``; they share one Index per server."""
        handler = djangoes.connections
        configured = key in handler.indices
        settings = handler.get_index_settings(key) if configured else None
        indices: dict[str, dsl.Index] = {}
        sharing = [doc for doc, reg in self._documents.items() if reg.key == key]
        for document in sharing:
            alias = handler.server_for_index(key, self._documents[document].using)
            if settings is None or alias is None:
                self._bindings[document] = None
                continue
            index = indices.get(alias)
            if index is None:
                index = indices[alias] = dsl.Index(settings["NAME"], using=alias)
                if settings["SETTINGS"]:
                    index.settings(**settings["SETTINGS"])
                if settings["ALIASES"]:
                    index.aliases(**{name: {} for name in settings["ALIASES"]})
            self._bindings[document] = Binding(
                key, alias, settings["NAME"], tuple(settings["ALIASES"]), index, len(sharing) > 1
            )
        # Only now that every Document of the key is resolved: Index.document() asks each
        # for its index.
        for document in sharing:
            binding = self._bindings[document]
            if binding is not None:
                binding.index.document(document)

    def _resolved_index(self, document: type) -> dsl.Index | None:
        # The ``_index`` elasticsearch.dsl reads. Invalid settings leave it unnamed here;
        # the Document's own methods (get_index_name(), ...) raise the error with its fix.
        try:
            binding = self.binding(document)  # type: ignore[arg-type]
        except (ImproperlyConfigured, KeyError):
            return None
        return binding.index if binding is not None else None

    def index_body_mappings(self, key: str, using: str) -> dict[str, Any]:
        """Return the ``mappings`` and DSL-declared ``analysis`` for index ``key``."""
        index = self.get_index(key, using)
        if index is None:
            return {}
        body = index.to_dict()
        extra: dict[str, Any] = {}
        if "mappings" in body:
            extra["mappings"] = body["mappings"]
        if len(self.documents_for_index(key)) > 1:
            # Documents sharing an index: each document names its kind (documents.KIND_FIELD).
            properties = extra.setdefault("mappings", {}).setdefault("properties", {})
            properties[KIND_FIELD] = {"type": "keyword"}
        analysis = body.get("settings", {}).get("analysis")
        if analysis:
            extra["analysis"] = analysis
        return extra


registry = DocumentRegistry()
register = registry.register
