"""Embeddings: a vector field computed from a document's other fields by the project's model.

A Document declares ``fields.Embedding(source=[...], embedder=...)``. The embedder is the
project's: an object (or a dotted path to one, or to a class made on first use) with

- ``embed(texts: list[str]) -> list[list[float]]``: one vector per text, in order;
- ``dims``: the vectors' length; ``model``: a name for the model and its version.

The library never ships or downloads a model. The field's mapping (``dense_vector`` with
``dims``, ``similarity``, ``index_options``) is derived from the embedder, and the model's
name is kept in the field's ``meta``: a change of model or dims changes the index's
fingerprint and needs a rebuild (``search_index status``).

Vectors are computed where a chunk of documents is built (:meth:`Document.read_actions`: fills,
outbox drains, queued and inline delivery alike), with one ``embed()`` call per chunk and field.
Each document also stores a hash of the text it was embedded from (and of the model and
dims): a row whose text did not change keeps the vector its document has, read back with one
``mget`` per chunk, and the embedder is not called for it. An embedder that raises fails the
chunk like a node that refuses it: the operations are kept in the outbox and retried.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from elasticsearch import NotFoundError

from .adapters import mapping_fields
from .steps import Steps

__all__ = [
    "HASH_SUFFIX",
    "Embedder",
    "EmbedderError",
    "EmbedderUnavailable",
    "embed_sources",
    "embedding_fields",
    "hash_field_name",
]

#: The keyword field next to an embedding ``<name>`` that holds the hash of its source text.
HASH_SUFFIX = "_source_hash"


@runtime_checkable
class Embedder(Protocol):
    """What a Document's embedding field needs of the project's model."""

    dims: int
    model: str

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Return one vector of ``dims`` floats per text, in order."""
        ...


class EmbedderError(Exception):
    """Raised when an embedder answers with the wrong number or length of vectors (the
    operations are kept in the outbox as refused, until the embedder is fixed)."""


class EmbedderUnavailable(Exception):
    """Raised when an embedder raised: the operations are kept in the outbox and retried,
    as when a node is down."""


def hash_field_name(name: str) -> str:
    """Return the name of the field that holds the source-text hash of embedding ``name``."""
    return f"{name}{HASH_SUFFIX}"


class EmbedderSpec:
    """An embedder given as an object, a class, or a dotted path to either; resolved (and a
    class instantiated) on first use, so that a model is loaded only when it embeds."""

    def __init__(self, spec: Any, dims: int | None = None, model: str | None = None) -> None:
        self.spec = spec
        self.declared_dims = dims
        self.declared_model = model
        self._found: Any = None
        self._instance: Any = None

    def describe(self) -> str:
        return self.spec if isinstance(self.spec, str) else repr(self.spec)

    def found(self) -> Any:
        """Return the imported object or class (ImproperlyConfigured when it cannot be)."""
        if self._found is None:
            if isinstance(self.spec, str):
                try:
                    self._found = import_string(self.spec)
                except ImportError as exc:
                    raise ImproperlyConfigured(
                        f"The embedder '{self.spec}' cannot be imported ({exc}): give "
                        f"fields.Embedding(embedder=...) the dotted path of an object or class "
                        f"with embed(texts), dims and model."
                    ) from exc
            else:
                self._found = self.spec
        return self._found

    def _attribute(self, name: str) -> Any:
        value = getattr(self.found(), name, None)
        if value is None:
            raise ImproperlyConfigured(
                f"The embedder {self.describe()} has no '{name}': give it a '{name}' attribute "
                f"or pass {name}= to fields.Embedding."
            )
        return value

    @property
    def dims(self) -> int:
        """The embedder's dims (the field's ``dims=`` when the embedder has none)."""
        found = getattr(self.found(), "dims", None)
        if found is None:
            found = (
                self.declared_dims if self.declared_dims is not None else self._attribute("dims")
            )
        return int(found)

    @property
    def model(self) -> str:
        found = getattr(self.found(), "model", None) or self.declared_model
        return str(found if found is not None else self._attribute("model"))

    def embed(self, texts: list[str]) -> list[list[float]]:
        if self._instance is None:
            found = self.found()
            self._instance = found() if isinstance(found, type) else found
        embed = getattr(self._instance, "embed", None)
        function: Callable[[list[str]], Any] = embed if embed is not None else self._instance
        try:
            answer = function(texts)
        except Exception as exc:
            raise EmbedderUnavailable(
                f"The embedder {self.describe()} failed on {len(texts)} text(s): "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        vectors = [[float(value) for value in vector] for vector in answer]
        if len(vectors) != len(texts):
            raise EmbedderError(
                f"The embedder {self.describe()} returned {len(vectors)} vectors for "
                f"{len(texts)} texts."
            )
        dims = self.dims
        for vector in vectors:
            if len(vector) != dims:
                raise EmbedderError(
                    f"The embedder {self.describe()} returned a vector of {len(vector)} "
                    f"values; its dims are {dims}."
                )
        return vectors


def embedding_fields(document: type) -> dict[str, Any]:
    """Return ``{name: field}`` for the Embedding fields of a Document's mapping."""
    cached = document.__dict__.get("_djangoes_embeddings")
    if cached is None:
        cached = {
            name: field
            for name, field in mapping_fields(document).items()
            if getattr(field, "_djangoes_embedder", None) is not None
        }
        document._djangoes_embeddings = cached  # type: ignore[attr-defined]
    return cached


def computed_field_names(document: type) -> frozenset[str]:
    """Return the names of the fields the Document computes itself (embeddings and their
    hashes): not read from a row."""
    names = set()
    for name in embedding_fields(document):
        names |= {name, hash_field_name(name)}
    return frozenset(names)


def source_text(source: dict[str, Any], names: Sequence[str]) -> str:
    """Return the text an embedding is computed from: the named values, one per line."""
    parts: list[str] = []
    for name in names:
        value = source.get(name)
        if value is None or value == "":
            continue
        if isinstance(value, list | tuple):
            parts.extend(str(item) for item in value if item not in (None, ""))
        else:
            parts.append(str(value))
    return "\n".join(parts)


def text_hash(text: str, model: str, dims: int) -> str:
    """Return the hash stored with a vector: of its text, the model and the dims."""
    return hashlib.sha256(f"{model}\x00{dims}\x00{text}".encode()).hexdigest()


def embed_sources(document: type, ids: list[str], sources: list[dict[str, Any]]) -> int:
    """Add the embedding fields of ``document`` to ``sources`` (``_source`` dicts, whose
    ``_id`` are ``ids``), in place; return the number of texts sent to embedders.

    Per field: one ``mget`` of the stored hashes and vectors, and one ``embed()`` call for
    the texts whose hash differs. A document whose text is empty has no vector.
    """
    fields = embedding_fields(document)
    if not fields or not sources:
        return 0
    embedded = 0
    stored = _stored(document, ids, fields)
    for name, field in fields.items():
        spec: EmbedderSpec = field._djangoes_embedder
        model, dims = spec.model, spec.dims
        hash_name = hash_field_name(name)
        wanted: list[int] = []
        texts: list[str] = []
        for position, (doc_id, source) in enumerate(zip(ids, sources, strict=True)):
            text = source_text(source, field._djangoes_source)
            if not text:
                continue
            digest = text_hash(text, model, dims)
            source[hash_name] = digest
            old = stored.get(doc_id, {})
            if old.get(hash_name) == digest and isinstance(old.get(name), list):
                source[name] = old[name]
                continue
            wanted.append(position)
            texts.append(text)
        if texts:
            for position, vector in zip(wanted, spec.embed(texts), strict=True):
                sources[position][name] = vector
            embedded += len(texts)
    return embedded


def _stored(document: type, ids: list[str], fields: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return ``{id: _source}`` (the embeddings and their hashes) of the documents ``ids`` in
    the Document's index; empty when the index is not there yet."""
    request = _mget(document, ids, fields)
    if request is None:
        return {}
    from djangoes import connections

    using, options = request
    try:
        return _found(connections[using].client.mget(**options))
    except NotFoundError:
        return {}


async def _astored(
    document: type, ids: list[str], fields: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """:func:`_stored`, read with the async client of the running event loop."""
    request = _mget(document, ids, fields)
    if request is None:
        return {}
    from djangoes import connections

    using, options = request
    try:
        return _found(await connections[using].async_client.mget(**options))
    except NotFoundError:
        return {}


def _mget(
    document: type, ids: list[str], fields: dict[str, Any]
) -> tuple[str, dict[str, Any]] | None:
    """Return the connection and the arguments of the ``mget`` of :func:`_stored`; None when
    the Document is bound to no index."""
    binding = document.get_binding()  # type: ignore[attr-defined]
    if binding is None:
        return None
    includes = [part for name in fields for part in (name, hash_field_name(name))]
    # source_includes named: Elasticsearch 9.2+ returns the vectors only then.
    return binding.using, {"index": binding.name, "ids": ids, "source_includes": includes}


def _found(response: Any) -> dict[str, dict[str, Any]]:
    return {
        doc["_id"]: doc.get("_source") or {} for doc in response.get("docs", []) if doc.get("found")
    }


def embedding_field(document: type, name: str | None = None) -> tuple[str, Any]:
    """Return ``(name, field)`` of the Document's embedding ``name`` (default: its only one)."""
    found = embedding_fields(document)
    if name is not None:
        if name not in found:
            raise ValueError(
                f"field={name!r} is not an embedding of {document.__name__}: "
                f"give one of {sorted(found)}."
            )
        return name, found[name]
    if len(found) != 1:
        raise ValueError(
            f"{document.__name__} has no fields.Embedding: declare one to search by similarity."
            if not found
            else f"{document.__name__} has the embeddings {sorted(found)}: name one with field=."
        )
    return next(iter(found.items()))


@dataclass(frozen=True)
class EmbedText:
    """The request for the vector of one text: ``execute()`` calls the embedder; the async
    ``aexecute()`` calls it in a thread of the event loop's default executor
    (``asyncio.to_thread``: the embedder reads no database, and a slow model holds neither
    the loop nor the thread where Django runs the async views' sync code)."""

    spec: EmbedderSpec
    text: str

    def execute(self) -> list[float]:
        return self.spec.embed([self.text])[0]

    async def aexecute(self) -> list[float]:
        return await asyncio.to_thread(self.execute)


@dataclass(frozen=True)
class StoredVector:
    """The request for the vector a document stores (None when it has none): one ``mget``,
    with the sync client or, in ``aexecute()``, the event loop's async client."""

    document: type
    name: str
    field: Any
    doc_id: str

    def execute(self) -> Any:
        return self._vector(_stored(self.document, [self.doc_id], {self.name: self.field}))

    async def aexecute(self) -> Any:
        return self._vector(await _astored(self.document, [self.doc_id], {self.name: self.field}))

    def _vector(self, stored: dict[str, dict[str, Any]]) -> Any:
        vector = stored.get(self.doc_id, {}).get(self.name)
        return vector if isinstance(vector, list) else None


@dataclass(frozen=True)
class RowText:
    """The request for the text a row's embedding is computed from. The document's values may
    read related rows: ``aexecute()`` reads them with ``sync_to_async``, in the thread where
    Django runs the sync ORM for async code."""

    document: type
    field: Any
    instance: Any

    def execute(self) -> str:
        return source_text(self.document.source(self.instance), self.field._djangoes_source)  # type: ignore[attr-defined]

    async def aexecute(self) -> str:
        return await sync_to_async(self.execute)()


def query_vector_steps(document: type, name: str, query: Any) -> Steps:
    """Return the steps (djangoes_dsl.steps) that compute the vector to search with and the
    id of the document to leave out (or None).

    ``query`` is a text (embedded with one call) or a model instance: its document's stored
    vector, else the embedding of its text.
    """
    field = embedding_fields(document)[name]
    spec: EmbedderSpec = field._djangoes_embedder
    if isinstance(query, str):
        if not query.strip():
            raise ValueError("The text to search by similarity is empty: give some words.")
        return (yield EmbedText(spec, query)), None
    doc_id = document.document_id(query.pk)  # type: ignore[attr-defined]
    stored = yield StoredVector(document, name, field, doc_id)
    if stored is not None:
        return stored, doc_id
    text = yield RowText(document, field, query)
    if not text:
        raise ValueError(
            f"{type(query).__name__} {query.pk} has no text in {list(field._djangoes_source)} "
            f"to find similar rows by."
        )
    return (yield EmbedText(spec, text)), doc_id


async def aexecute(request: Any) -> Any:
    """Answer a request of the async steps of a vector search: a query vector's
    (``aexecute()``) or an async search's (``execute()``)."""
    method = getattr(request, "aexecute", None)
    return await (method() if method is not None else request.execute())
