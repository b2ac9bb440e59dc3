"""The default backend: the official ``elasticsearch`` client."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from contextvars import ContextVar
from functools import cache
from typing import Any, ClassVar, Protocol

from django.core.exceptions import ImproperlyConfigured
from django.views.decorators.debug import sensitive_variables
from elastic_transport import HttpHeaders, SerializationError, Transport
from elasticsearch import (
    BadRequestError,
    Elasticsearch,
)

from ..credentials import client_credentials
from .arguments import client_argument_problems
from .base import BaseBackend
from .compat import incompatible_server
from .creation import BaseIndexCreation
from .guard import UnreadableBody, WriteGuard


class RequestObserver(Protocol):
    """What ``GuardedTransport.observer`` is (see ``djangoes.test.journal.Observer``)."""

    def observe(
        self, transport: Transport, method: str, target: str, kwargs: dict[str, Any]
    ) -> AbstractContextManager[Callable[[Any], None]]: ...


# The API method being called, for the guard's messages ("'indices.create' (PUT /x)").
_endpoint_id: ContextVar[str | None] = ContextVar("djangoes_endpoint_id", default=None)


class DjangoesElasticsearch(Elasticsearch):
    """The official client; while tests run, its transport refuses writes to live indices.

    A server that refuses the client's API version (a client newer than the server) raises
    ``djangoes.backends.compat.IncompatibleServerError`` with a message saying what to install.
    """

    _djangoes_alias: str | None = None

    def perform_request(self, method: str, path: str, **kwargs: Any) -> Any:
        token = _endpoint_id.set(kwargs.get("endpoint_id"))
        try:
            return super().perform_request(method, path, **kwargs)
        except BadRequestError as exc:
            incompatible = incompatible_server(
                super().perform_request, exc, method, path, self._djangoes_alias, **kwargs
            )
            if incompatible is None:
                raise
            raise incompatible from exc
        finally:
            _endpoint_id.reset(token)

    def options(self, **kwargs: Any) -> DjangoesElasticsearch:
        client = super().options(**kwargs)
        client._djangoes_alias = self._djangoes_alias
        return client


class GuardedTransport(Transport):
    """A transport that asks its ``write_guard`` (when set) before sending anything.

    The check sits below every way of sending a request: API methods, raw
    ``client.perform_request``, clients made by ``client.options(...)`` (they share the
    transport), helpers, and ``client.transport.perform_request`` itself.
    """

    write_guard: WriteGuard | None = None
    #: While test names are in force, what the test support does around each request it
    #: lets through: send what the test committed, refresh before reads, record writes.
    observer: ClassVar[RequestObserver | None] = None

    def perform_request(self, method: str, target: str, **kwargs: Any) -> Any:
        guard = self.write_guard
        if guard is None:
            return super().perform_request(method, target, **kwargs)
        serialized: list[bytes] = []

        def body_bytes() -> bytes | None:
            data = self._body_bytes(kwargs.get("body"), kwargs.get("headers"))
            if data:
                serialized.append(data)
            return data

        on_success = guard.check(method, target, body_bytes, endpoint_id=_endpoint_id.get())
        if serialized:  # send the very bytes the guard read (JSON serializers pass bytes on)
            kwargs["body"] = serialized[0]
        observer = self.observer
        if observer is None:
            response = super().perform_request(method, target, **kwargs)
        else:
            with observer.observe(self, method, target, kwargs) as seen:
                response = super().perform_request(method, target, **kwargs)
                seen(response)
        if on_success is not None and 200 <= response.meta.status < 300:
            on_success()
        return response

    def _body_bytes(self, body: Any, headers: Any) -> bytes | None:
        """Return the body exactly as it will be sent (None when there is none)."""
        if body is None:
            return None
        request_headers = HttpHeaders(headers if isinstance(headers, Mapping) else None)
        mimetype = request_headers.get("content-type") or ""
        if "json" not in mimetype:  # Elasticsearch also reads YAML, CBOR and Smile bodies
            raise UnreadableBody(f"its content type {mimetype!r} is not JSON")
        encoding = request_headers.get("content-encoding", "identity")
        if encoding != "identity":
            raise UnreadableBody(f"it is sent with the content encoding {encoding!r}")
        try:
            return self.serializers.dumps(body, mimetype=mimetype)
        except SerializationError as exc:
            raise UnreadableBody(f"it cannot be serialized ({exc})") from None


@cache
def guarded_transport_class(base: type[Transport]) -> type[GuardedTransport]:
    """Return ``base`` (a ``transport_class`` given in PARAMS) with the guard added."""
    if issubclass(base, GuardedTransport):
        return base
    return type(f"Guarded{base.__name__}", (GuardedTransport, base), {})


class ElasticsearchIndexCreation(BaseIndexCreation):
    """Create and destroy test indices with the official client; explain its errors."""


class ElasticsearchBackend(BaseBackend):
    """Wrap an ``elasticsearch.Elasticsearch`` built from HOSTS and PARAMS.

    PARAMS pass straight to the client (``basic_auth``, ``api_key``, ``ca_certs``,
    ``request_timeout``, ``max_retries``, ...). The client is built on first use.
    """

    client_class = DjangoesElasticsearch
    creation_class = ElasticsearchIndexCreation

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client: DjangoesElasticsearch | None = None
        self._client_lock = threading.Lock()

    @property
    def client(self) -> DjangoesElasticsearch:
        """Return the client, building it on first use (one per backend, shared by threads)."""
        client = self._client
        if client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = self._build_client()
                client = self._client
        return client

    @classmethod
    def validate_settings(cls, alias: str, server: dict[str, Any]) -> list[ImproperlyConfigured]:
        """Return what ``client_class`` says about HOSTS and PARAMS, by setting path.

        Its argument names and declared types, then the errors it raises when built with
        them (building a client opens no connection).
        """
        return [*client_argument_problems(cls.client_class, alias, server)]

    @sensitive_variables()
    def _build_client(self) -> DjangoesElasticsearch:
        # The handler checked HOSTS and PARAMS with the client (validate_settings) first.
        params = {**self.server["PARAMS"], **client_credentials(self.server)}
        params["transport_class"] = guarded_transport_class(
            params.get("transport_class", Transport)
        )
        client = self.client_class(hosts=list(self.server["HOSTS"]) or None, **params)
        self._guard(client)
        client._djangoes_alias = self.alias
        return client

    def _guard(self, client: DjangoesElasticsearch) -> None:
        """Make the client's transport refuse writes to ``write_guard`` (None: refuse none)."""
        transport = client.transport
        if self.write_guard is None:
            if isinstance(transport, GuardedTransport):
                transport.write_guard = None
            return
        if not isinstance(transport, GuardedTransport):
            raise ImproperlyConfigured(
                f"ES_SERVERS['{self.alias}'] built a client whose transport cannot refuse "
                f"writes to live indices in tests; remove 'transport_class' from PARAMS."
            )
        transport.write_guard = WriteGuard(self.write_guard, [*self.index_names, *self.alias_names])

    def take_client(self, other: BaseBackend) -> bool:
        """Take over the client of ``other``, the backend this one replaces; see the base class.

        The client's write guard is set anew from this backend's names.
        """
        if (
            not isinstance(other, ElasticsearchBackend)
            or other.client_class is not self.client_class
        ):
            return False
        with other._client_lock:
            client = other._client
            if client is None:
                return False
            with self._client_lock:
                self._guard(client)  # raises before anything moved: ``other`` closes it
                self._client = client
            other._client = None
        return True

    def close(self) -> None:
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # -- index-aware shortcuts: ``index=`` defaults to this connection's indices ----------

    # Reads default to ``indices`` (aliases where configured); single-document writes and
    # reads default to the NAME of the one index served, which stays the write target even
    # when a rebuild turned it into an alias.

    def search(self, *, index: Any = None, **kwargs: Any) -> Any:
        """Search this connection's indices (or ``index``)."""
        return self.client.search(index=self._default_index(index), **kwargs)

    def count(self, *, index: Any = None, **kwargs: Any) -> Any:
        """Count documents in this connection's indices (or ``index``)."""
        return self.client.count(index=self._default_index(index), **kwargs)

    def msearch(self, *, index: Any = None, **kwargs: Any) -> Any:
        """Run several searches; searches without an index use this connection's indices.

        A connection serving no indices sends ``searches`` as they are (each header then
        names its index).
        """
        if index is None and self.indices:
            index = self.indices
        return self.client.msearch(index=index, **kwargs)

    def mget(self, *, index: Any = None, **kwargs: Any) -> Any:
        """Get several documents from the connection's single index (or ``index``)."""
        return self.client.mget(index=self._single_index(index, "mget"), **kwargs)

    def get(self, *, id: str, index: Any = None, **kwargs: Any) -> Any:
        """Get one document from the connection's single index (or ``index``)."""
        return self.client.get(index=self._single_index(index, "get"), id=id, **kwargs)

    def exists(self, *, id: str, index: Any = None, **kwargs: Any) -> Any:
        """Tell whether a document exists in the connection's single index (or ``index``)."""
        return self.client.exists(index=self._single_index(index, "exists"), id=id, **kwargs)

    def index(self, *, index: Any = None, **kwargs: Any) -> Any:
        """Index one document into the connection's single index (or ``index``)."""
        return self.client.index(index=self._single_index(index, "index"), **kwargs)

    def update(self, *, id: str, index: Any = None, **kwargs: Any) -> Any:
        """Update one document in the connection's single index (or ``index``)."""
        return self.client.update(index=self._single_index(index, "update"), id=id, **kwargs)

    def delete(self, *, id: str, index: Any = None, **kwargs: Any) -> Any:
        """Delete one document from the connection's single index (or ``index``)."""
        return self.client.delete(index=self._single_index(index, "delete"), id=id, **kwargs)

    def bulk(self, *, operations: Any, index: Any = None, **kwargs: Any) -> Any:
        """Send bulk ``operations``; actions without ``_index`` go to the single index."""
        if index is None and len(self.index_names) == 1:
            index = self.index_names[0]
        if index is not None:
            kwargs["index"] = index
        return self.client.bulk(operations=operations, **kwargs)

    def server_version(self) -> str:
        """Return the version number of the node this client talks to."""
        nodes = self.client.nodes.info(
            node_id="_local", metric="_none", filter_path="nodes.*.version"
        )
        return next(iter(nodes["nodes"].values()))["version"]
