"""Explain a client that is newer than the server it talks to.

elasticsearch-py 9.x asks every server for its 9.x API (``compatible-with=9`` in the Accept
and Content-Type headers); an 8.x server refuses that with a 400 whose body names a
``media_type_header_exception`` — or, for a HEAD request (``indices.exists`` and the like),
with a bare ``BadRequestError(400, 'None')``. The client that the backend builds turns either
into one :class:`IncompatibleServerError` saying which versions meet and what to install, so
management commands, signal indexing and the test runner all show the same clear message.
"""

from __future__ import annotations

from typing import Any

import elasticsearch
from elasticsearch import ApiError, BadRequestError

__all__ = ["IncompatibleServerError", "incompatible_server"]

CLIENT_VERSION = elasticsearch.__versionstr__
CLIENT_MAJOR = int(CLIENT_VERSION.split(".")[0])


class IncompatibleServerError(BadRequestError):
    """The server refuses the API version of the installed client (a 400, as it came)."""

    def __str__(self) -> str:
        return str(self.message)


def _pip_spec(server_major: int) -> str:
    if server_major <= 8:
        return "elasticsearch>=8.18,<9"
    return f"elasticsearch>={server_major},<{server_major + 1}"


def incompatible_server(
    perform_request: Any, exc: ApiError, alias: str | None
) -> IncompatibleServerError | None:
    """Return the error to raise instead of ``exc`` when it means "client too new"; else None.

    ``perform_request`` sends a raw request without the client's compatibility headers: it
    asks the server for its version.
    """
    body = exc.body
    if body and "media_type_header_exception" not in str(body):
        return None
    try:
        # "*/*" is left alone by the client: the server answers in its own version.
        response = perform_request(
            "GET",
            "/_nodes/_local",
            params={"filter_path": "nodes.*.version"},
            headers={"accept": "*/*"},
        )
        server_version = str(next(iter(response.body["nodes"].values()))["version"])
        server_major = int(server_version.split(".")[0])
    except Exception:
        server_version, server_major = "", 0
    if server_major >= CLIENT_MAJOR or (not server_version and not body):
        return None  # not a version mismatch (or nothing tells it is one)
    where = f"ES_SERVERS['{alias}']" if alias else "the server"
    if server_version:
        message = (
            f"{where} is Elasticsearch {server_version}, which refuses requests of the "
            f"installed elasticsearch-py {CLIENT_VERSION}: a {CLIENT_MAJOR}.x client talks "
            f"only to {CLIENT_MAJOR}.x servers. Install a client of the server's major "
            f"version: pip install '{_pip_spec(server_major)}' (an 8.x client talks to 8.x "
            f"and 9.x servers)."
        )
    else:
        message = (
            f"{where} refuses requests of the installed elasticsearch-py {CLIENT_VERSION}: "
            f"the client is newer than the server. Install a client whose major version is "
            f"not above the server's, e.g. pip install 'elasticsearch>=8.18,<9' for an 8.x "
            f"server."
        )
    return IncompatibleServerError(message, exc.meta, body)
