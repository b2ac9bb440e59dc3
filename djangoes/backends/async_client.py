"""The asyncio client of a backend: one per event loop, built from the same settings.

An ``AsyncElasticsearch`` holds a pool of HTTP connections (aiohttp sessions) that belong to
the event loop it was first used in; another loop cannot use them. So a backend keeps one
async client per running loop (:class:`LoopClients`), built on first use in that loop from
the server's HOSTS and PARAMS, the test transport installed by the backend's ``creation`` as
for the sync client.

Each client is closed when its loop shuts down: ``asyncio.run()``, ``asyncio.Runner`` (which
pytest-asyncio uses), asgiref's ``async_to_sync`` and ASGI servers such as uvicorn finalize a
loop's asynchronous generators before closing it (``loop.shutdown_asyncgens()``), and the
client is closed from one such generator that lives as long as the loop. A loop closed by
hand without ``shutdown_asyncgens()`` should close the client itself first
(``await backend.aclose()``). After a fork the connection handler builds new backends: the
child never touches its parent's clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import AsyncGenerator, Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from elasticsearch import AsyncElasticsearch

from .requests import READS_API_CALL, api_call

__all__ = ["ASYNC_EXTRA", "DjangoesAsyncElasticsearch", "LoopClients", "require_async_http"]

#: The extra that installs what the async client needs.
ASYNC_EXTRA = "djangoes[async]"


class DjangoesAsyncElasticsearch(AsyncElasticsearch):
    """The official asyncio client, telling its transport which API each request calls."""

    _djangoes_alias: str | None = None

    async def perform_request(self, method: str, path: str, **kwargs: Any) -> Any:
        if not getattr(self.transport, READS_API_CALL, False):
            # A transport that does not declare READS_API_CALL: no context to set up per request.
            return await super().perform_request(method, path, **kwargs)
        # The transport learns which API is called (see djangoes.backends.requests); the
        # context variable belongs to the task, so concurrent requests do not mix.
        with api_call(kwargs.get("endpoint_id"), kwargs.get("path_parts")):
            return await super().perform_request(method, path, **kwargs)

    def options(self, **kwargs: Any) -> DjangoesAsyncElasticsearch:
        client = super().options(**kwargs)
        client._djangoes_alias = self._djangoes_alias
        return client


def require_async_http(alias: str, params: dict[str, Any]) -> None:
    """Raise ImproperlyConfigured naming the extra to install when the async client's HTTP
    library (aiohttp, elasticsearch-py's default for asyncio) is missing.

    A ``node_class`` in PARAMS other than aiohttp's brings its own library: nothing to check.
    """
    node_class = params.get("node_class", "aiohttp")
    if node_class != "aiohttp" and getattr(node_class, "__name__", "") != "AiohttpHttpNode":
        return
    try:
        import aiohttp  # noqa: F401
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"The async client of ES_SERVERS['{alias}'] needs aiohttp, which is not "
            f"installed: pip install '{ASYNC_EXTRA}'. ({exc})"
        ) from exc


class LoopClients:
    """The async clients of one backend, one per running event loop.

    ``build()`` makes a new client; it is called in the loop the client will serve.
    """

    def __init__(self, build: Callable[[], DjangoesAsyncElasticsearch]) -> None:
        self._build = build
        self._clients: dict[asyncio.AbstractEventLoop, _Entry] = {}
        self._lock = threading.Lock()

    def get(self, alias: str) -> DjangoesAsyncElasticsearch:
        """Return the client of the running loop, building it on first use there."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                f"connections['{alias}'].async_client was used outside a running event loop: "
                f"an async client belongs to the loop it runs in. Use it from async code "
                f"(an async view, a coroutine), or use connections['{alias}'].client."
            ) from None
        entry = self._clients.get(loop)
        if entry is not None:
            return entry.client
        with self._lock:
            for old in [old for old in self._clients if old.is_closed()]:
                del self._clients[old]  # closed with its loop already, or left by hand
            entry = self._clients.get(loop)
            if entry is None:
                entry = self._clients[loop] = _Entry(self._build(), loop, self._forget)
            return entry.client

    def all(self) -> list[DjangoesAsyncElasticsearch]:
        """Return the clients of the loops that are not closed."""
        with self._lock:
            return [entry.client for loop, entry in self._clients.items() if not loop.is_closed()]

    def _forget(self, loop: asyncio.AbstractEventLoop, entry: _Entry) -> None:
        with self._lock:
            if self._clients.get(loop) is entry:  # not a client built since in its place
                del self._clients[loop]

    def close(self) -> None:
        """Close every client, each in its own loop; return at once.

        The running loop's client is closed by a task of that loop; another running loop's,
        by a task sent to it. A loop that is not running closes its client when it shuts
        down.
        """
        with self._lock:
            entries, self._clients = list(self._clients.values()), {}
        for entry in entries:
            entry.close_soon()

    async def aclose(self) -> None:
        """Close the running loop's client now (the others as ``close()`` does)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            entries, self._clients = list(self._clients.values()), {}
        for entry in entries:
            if entry.loop is loop:
                await entry.finalizer.aclose()
            else:
                entry.close_soon()


# Tasks closing clients: referenced until done (the loop keeps only weak references).
_closing: set[asyncio.Future[Any]] = set()


class _Entry:
    """A client and the asynchronous generator that closes it when its loop shuts down."""

    def __init__(
        self,
        client: DjangoesAsyncElasticsearch,
        loop: asyncio.AbstractEventLoop,
        forget: Callable[[asyncio.AbstractEventLoop, _Entry], None],
    ) -> None:
        self.client = client
        self.loop = loop
        loop_ref = weakref.ref(loop)

        async def close_with_loop() -> AsyncGenerator[None]:
            try:
                yield
            finally:
                found = loop_ref()
                if found is not None:
                    forget(found, self)
                await client.close()

        # Started here, in the loop's thread while it runs, so that the loop tracks it and
        # finalizes it (closing the client) in ``shutdown_asyncgens()``; it stops at its
        # ``yield`` without awaiting anything.
        self.finalizer = close_with_loop()
        with contextlib.suppress(StopIteration):
            self.finalizer.__anext__().send(None)  # type: ignore[attr-defined]

    def close_soon(self) -> None:
        loop = self.loop
        if loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            task = loop.create_task(self.finalizer.aclose())
        elif loop.is_running():
            task = asyncio.run_coroutine_threadsafe(self.finalizer.aclose(), loop)  # type: ignore[assignment]
        else:
            return  # closed by the loop's shutdown_asyncgens()
        _closing.add(task)
        task.add_done_callback(_closing.discard)
