"""Explain a client that is newer than the server it talks to.

elasticsearch-py 9.x asks every server for its 9.x API (``compatible-with=9`` in the Accept
and Content-Type headers); an 8.x server refuses that with a 400 whose body names a
``media_type_header_exception`` — or, for a HEAD request (``indices.exists`` and the like),
with a bare ``BadRequestError(400, 'None')``. The client that the backend builds turns either
into one :class:`IncompatibleServerError` saying which versions meet and what to install, so
management commands, signal indexing and the test runner all show the same clear message.
"""

from __future__ import annotations

import re
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
    perform_request: Any, exc: ApiError, method: str, path: str, alias: str | None, **kwargs: Any
) -> IncompatibleServerError | None:
    """Return the error to raise instead of ``exc`` when it means "client too new"; else None.

    ``perform_request`` sends a request as the client does but without this check. A HEAD
    request's 400 has no body to tell why: it is sent again as a GET (both only read). The
    server is then asked for its version, in a way every version answers.
    """
    body = exc.body
    if not body and method.upper() == "HEAD":
        try:
            perform_request("GET", path, **kwargs)
        except ApiError as again:
            body = again.body
        except Exception:
            return None
    text = str(body)
    if "media_type_header_exception" not in text:
        return None
    asked = re.search(r"but found (\d+)", text)
    api = f"{asked.group(1)}.x" if asked else f"{CLIENT_MAJOR}.x"
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
        server_version, server_major = "", 8
    where = f"ES_SERVERS['{alias}']" if alias else "The server"
    server = f"Elasticsearch {server_version}" if server_version else "an older Elasticsearch"
    message = (
        f"{where} is {server}, which refuses the requests of the installed elasticsearch-py "
        f"{CLIENT_VERSION}: the client asks for the {api} API, newer than the server's. "
        f"Install a client of the server's major version: pip install "
        f"'{_pip_spec(server_major)}' (an 8.x client talks to 8.x and 9.x servers)."
    )
    return IncompatibleServerError(message, exc.meta, body)
