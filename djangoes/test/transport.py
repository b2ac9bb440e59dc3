"""The transport of the clients built while test names are in force.

A backend's ``creation`` builds its client with :func:`guarded_transport_class` when test names
come into force (``ElasticsearchIndexCreation.client_params``) and gives it the live-write guard
(``prepare_client``); clients built under live names keep their own transport, untouched.
Around every request it sends, the test transport

1. classifies it once (``djangoes.backends.requests.ApiRequest``);
2. asks the guard, which refuses anything that could change a live index;
3. lets the undo log of the run (``djangoes.test.undo``), when one is open, do its work: send
   what the code under test committed and what closed scopes left to undo, refresh before a
   search, and record what the request wrote.

The request and its response pass through unchanged: the undo log sends its own requests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from asgiref.sync import sync_to_async
from elastic_transport import AsyncTransport, HttpHeaders, SerializationError, Transport

from ..backends.guard import UnreadableBody, WriteGuard
from ..backends.requests import ApiRequest
from . import undo

__all__ = ["AsyncGuardedTransport", "GuardedTransport", "TestTransport", "guarded_transport_class"]

#: A checked request and what to call once it succeeded.
_Checked = tuple[ApiRequest, "Callable[[], None] | None"]


class TestTransport(Transport):
    """What the test transports share: the guard's check before a request, its callback
    after; the sync and the asyncio transport differ only in how they wait."""

    #: Set by the creation object that installed the transport.
    write_guard: WriteGuard | None = None
    #: The clients tell this transport which API each request calls (READS_API_CALL).
    reads_api_call = True

    def _check(self, method: str, target: str, kwargs: dict[str, Any]) -> _Checked:
        """Classify and check the request (raise if the guard refuses it); return it and
        what to call once it succeeded."""
        guard = self.write_guard
        serialized: list[bytes] = []

        def body_bytes() -> bytes | None:
            data = self._body_bytes(kwargs.get("body"), kwargs.get("headers"))
            if data:
                serialized.append(data)
            return data

        request = ApiRequest.of(method, target, body_bytes)
        on_success = guard.check(request) if guard is not None else None
        if serialized:  # send the very bytes the guard read (JSON serializers pass bytes on)
            kwargs["body"] = serialized[0]
        return request, on_success

    def _done(self, checked: _Checked, response: Any) -> None:
        request, on_success = checked
        observer = undo.observer()
        if observer is not None:
            observer.after(self, request, response)
        if on_success is not None and 200 <= response.meta.status < 300:
            on_success()

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


class GuardedTransport(TestTransport):
    """A transport that checks every request with ``write_guard`` and tells the undo log."""

    def perform_request(self, method: str, target: str, **kwargs: Any) -> Any:
        checked = self._check(method, target, kwargs)
        observer = undo.observer()
        if observer is not None:
            observer.before(self, checked[0])
        response = super().perform_request(method, target, **kwargs)
        self._done(checked, response)
        return response


class AsyncGuardedTransport(TestTransport, AsyncTransport):
    """The asyncio transport of the test clients: the same checks, the same undo log.

    The undo log's work before a request (sending what the code under test committed, what
    closed scopes left to undo, a refresh before a search) is synchronous and may read the
    test's database rows: it runs through ``sync_to_async(thread_sensitive=True)``, in the
    thread that holds the test's database connection. Only clients built under test names
    have this transport; production clients never wait on a thread.
    """

    async def perform_request(self, method: str, target: str, **kwargs: Any) -> Any:  # type: ignore[override]
        checked = self._check(method, target, kwargs)
        observer = undo.observer()
        if observer is not None:
            await sync_to_async(observer.before, thread_sensitive=True)(self, checked[0])
        response = await super().perform_request(method, target, **kwargs)  # type: ignore[misc]
        self._done(checked, response)
        return response


@cache
def guarded_transport_class(base: type[Transport]) -> type[TestTransport]:
    """Return ``base`` (the client's ``transport_class``: ``Transport`` by default,
    ``AsyncTransport`` for the asyncio client) with the test transport's checks added."""
    if issubclass(base, TestTransport):
        return base
    guarded = AsyncGuardedTransport if issubclass(base, AsyncTransport) else GuardedTransport
    return type(f"Guarded{base.__name__}", (guarded, base), {})
