"""The transport of the clients built while test names are in force.

A backend's ``creation`` builds its client with :func:`guarded_transport_class` when test names
come into force (``BaseIndexCreation.client_params``) and gives it the live-write guard
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

from collections.abc import Mapping
from functools import cache
from typing import Any

from elastic_transport import HttpHeaders, SerializationError, Transport

from ..backends.guard import UnreadableBody, WriteGuard
from ..backends.requests import ApiRequest
from . import undo

__all__ = ["GuardedTransport", "guarded_transport_class"]


class GuardedTransport(Transport):
    """A transport that checks every request with ``write_guard`` and tells the undo log."""

    #: Set by the creation object that installed the transport.
    write_guard: WriteGuard | None = None

    def perform_request(self, method: str, target: str, **kwargs: Any) -> Any:
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
        observer = undo.observer()
        if observer is None:
            response = super().perform_request(method, target, **kwargs)
        else:
            observer.before(self, request)
            response = super().perform_request(method, target, **kwargs)
            observer.after(self, request, response)
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
    """Return ``base`` (the client's ``transport_class``, ``Transport`` by default) with the
    test transport's checks added."""
    if issubclass(base, GuardedTransport):
        return base
    return type(f"Guarded{base.__name__}", (GuardedTransport, base), {})
