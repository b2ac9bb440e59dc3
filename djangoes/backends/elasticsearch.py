"""The default backend: the official ``elasticsearch`` client."""

from __future__ import annotations

import threading
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.views.decorators.debug import sensitive_variables
from elasticsearch import (
    BadRequestError,
    Elasticsearch,
)

from ..credentials import client_credentials
from .arguments import client_argument_problems
from .async_client import DjangoesAsyncElasticsearch, LoopClients, require_async_http
from .base import BaseBackend
from .compat import incompatible_server
from .creation import ElasticsearchIndexCreation
from .requests import READS_API_CALL, api_call


class DjangoesElasticsearch(Elasticsearch):
    """The official client, telling its transport which API each request calls.

    A server that refuses the client's API version (a client newer than the server) raises
    ``djangoes.backends.compat.IncompatibleServerError`` with a message saying what to install.
    """

    _djangoes_alias: str | None = None

    def perform_request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            if not getattr(self.transport, READS_API_CALL, False):
                # A transport that does not declare READS_API_CALL: no context to set up.
                return super().perform_request(method, path, **kwargs)
            # The transport learns which API is called (see djangoes.backends.requests).
            with api_call(kwargs.get("endpoint_id"), kwargs.get("path_parts")):
                return super().perform_request(method, path, **kwargs)
        except BadRequestError as exc:
            incompatible = incompatible_server(
                super().perform_request, exc, method, path, self._djangoes_alias, **kwargs
            )
            if incompatible is None:
                raise
            raise incompatible from exc

    def options(self, **kwargs: Any) -> DjangoesElasticsearch:
        client = super().options(**kwargs)
        client._djangoes_alias = self._djangoes_alias
        return client


class ElasticsearchBackend(BaseBackend):
    """Wrap an ``elasticsearch.Elasticsearch`` built from HOSTS and PARAMS.

    PARAMS pass straight to the client (``basic_auth``, ``api_key``, ``ca_certs``,
    ``request_timeout``, ``max_retries``, ...). The client is built on first use.
    """

    client_class = DjangoesElasticsearch
    async_client_class = DjangoesAsyncElasticsearch
    creation_class = ElasticsearchIndexCreation
    creation: ElasticsearchIndexCreation

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client: DjangoesElasticsearch | None = None
        self._client_lock = threading.Lock()
        self._async_clients = LoopClients(self._build_async_client)

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

    @property
    def async_client(self) -> DjangoesAsyncElasticsearch:
        """Return the ``AsyncElasticsearch`` of the running event loop, built on first use
        there from the same settings (see ``djangoes.backends.async_client``).

        Raise ImproperlyConfigured naming the extra to install when aiohttp is missing, and
        RuntimeError outside a running event loop.
        """
        return self._async_clients.get(self.alias)

    def async_clients(self) -> list[DjangoesAsyncElasticsearch]:
        """Return the async clients built so far whose loops are not closed."""
        return self._async_clients.all()

    @classmethod
    def validate_settings(cls, alias: str, server: dict[str, Any]) -> list[ImproperlyConfigured]:
        """Return what ``client_class`` says about HOSTS and PARAMS, by setting path.

        Its argument names and declared types, then the errors it raises when built with
        them (building a client opens no connection).
        """
        return [*client_argument_problems(cls.client_class, alias, server)]

    def _build_client(self) -> DjangoesElasticsearch:
        return self._build(self.client_class)  # type: ignore[no-any-return]

    def _build_async_client(self) -> DjangoesAsyncElasticsearch:
        return self._build(self.async_client_class, asynchronous=True)  # type: ignore[no-any-return]

    @sensitive_variables()
    def _build(self, client_class: type[Any], *, asynchronous: bool = False) -> Any:
        # The handler checked HOSTS and PARAMS with the client (validate_settings) first.
        params = {**self.server["PARAMS"], **client_credentials(self.server)}
        if asynchronous:
            require_async_http(self.alias, params)
        params = self.creation.client_params(params, asynchronous=asynchronous)
        client = client_class(hosts=list(self.server["HOSTS"]) or None, **params)
        self.creation.prepare_client(client)
        client._djangoes_alias = self.alias
        return client

    def take_client(self, other: BaseBackend) -> bool:
        """Take over the client of ``other``, the backend this one replaces; see the base class.

        Not across a switch between live and test names (``creation.can_take_client``); the
        client's write guard is set anew from this backend's names.
        """
        if (
            not isinstance(other, ElasticsearchBackend)
            or other.client_class is not self.client_class
            or not self.creation.can_take_client(other)
        ):
            return False
        with other._client_lock:
            client = other._client
            if client is None:
                return False
            with self._client_lock:
                self.creation.prepare_client(client)  # raises before anything moved
                self._client = client
            other._client = None
        return True

    def close(self) -> None:
        """Close the sync client, and each async client in its own loop (see
        ``LoopClients.close``)."""
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()
        self._async_clients.close()

    async def aclose(self) -> None:
        """Close the running loop's async client now, and the others as ``close()`` does."""
        await self._async_clients.aclose()

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
