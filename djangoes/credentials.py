"""Credentials in server settings: where they can be given, and how they are kept out of sight.

A server's credentials can be given as ``USER`` / ``PASSWORD`` or ``API_KEY`` (the way Django's
``DATABASES`` takes them), in ``PARAMS`` (``basic_auth``, ``http_auth``, ``api_key``,
``bearer_auth``), or as the user information of a ``HOSTS`` URL. Every text djangoes shows
(reprs, messages, log lines) goes through ``redact_url`` or ``mask``.

URLs are split here rather than with ``urllib.parse``: a password may hold ``#``, ``/``, ``?``
or ``@``, which ``urlsplit`` takes for the end of the host part, so it would show the rest of
the password as a path or fragment. Here everything before the last ``@`` of the authority is
user information, and a URL without a scheme is split the same way.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

__all__ = [
    "CREDENTIAL_KEYS",
    "CREDENTIAL_PARAMS",
    "MASK",
    "SplitURL",
    "client_credentials",
    "mask",
    "redact_url",
    "secrets_of",
    "split_url",
]

#: What masked text shows instead of a credential.
MASK = "***"

#: Server keys that hold credentials (Django's error reports hide keys like these on their own).
CREDENTIAL_KEYS = ("USER", "PASSWORD", "API_KEY")

#: Client arguments (``PARAMS``) that hold credentials.
CREDENTIAL_PARAMS = ("basic_auth", "http_auth", "api_key", "bearer_auth")

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


@dataclass(frozen=True)
class SplitURL:
    """A node URL in parts: ``scheme://userinfo@host:port/path?query#fragment``.

    ``scheme`` and ``userinfo`` are None when absent. ``port`` is the text after the host's
    colon, as written (it may not be a number). ``rest`` is the path, query and fragment.
    """

    scheme: str | None
    userinfo: str | None
    host: str
    port: str | None
    rest: str

    @property
    def netloc(self) -> str:
        """Return ``host[:port]``, without user information."""
        return self.host if self.port is None else f"{self.host}:{self.port}"


def split_url(url: str) -> SplitURL:
    """Split ``url`` into its parts, taking everything before the last ``@`` as user info.

    Never raises: any text splits into some parts.
    """
    match = _SCHEME.match(url)
    scheme = match.group(1) if match else None
    remainder = url[match.end() :] if match else url
    userinfo = None
    at = remainder.rfind("@")
    if at >= 0:
        userinfo, remainder = remainder[:at], remainder[at + 1 :]
    end = len(remainder)
    for separator in "/?#":
        position = remainder.find(separator)
        if 0 <= position < end:
            end = position
    authority, rest = remainder[:end], remainder[end:]
    host, port = authority, None
    if authority.startswith("["):  # an IPv6 literal: [::1]:9200
        close = authority.find("]")
        if close >= 0:
            host = authority[: close + 1]
            tail = authority[close + 1 :]
            port = tail[1:] if tail.startswith(":") else None
    elif ":" in authority:
        host, port = authority.rsplit(":", 1)
    return SplitURL(scheme, userinfo, host, port, rest)


def redact_url(host: Any) -> str:
    """Return a ``HOSTS`` entry (URL or dict) as text without any user name or password."""
    if isinstance(host, Mapping):
        scheme = host.get("scheme", "http")
        return f"{scheme}://{host.get('host', 'localhost')}:{host.get('port', 9200)}"
    text = str(host)
    parts = split_url(text)
    if parts.userinfo is None:
        return text
    scheme = f"{parts.scheme}://" if parts.scheme else ""
    return f"{scheme}{parts.netloc}{parts.rest}"


def _userinfo_secrets(userinfo: str) -> list[str]:
    """Return the password of ``user:password`` (raw and decoded); the whole text without ':'."""
    _user, colon, password = userinfo.partition(":")
    found = [password, unquote(password)] if colon else [userinfo, unquote(userinfo)]
    return [secret for secret in found if secret]


def secrets_of(server: Any, *, encoded: bool = True) -> list[str]:
    """Return every credential string of a server's settings, longest first.

    User names stay readable; passwords, keys and tokens are returned, from ``PASSWORD``,
    ``API_KEY``, the credential ``PARAMS`` and the user information of ``HOSTS`` URLs (as
    written and percent-decoded). With ``encoded``, the base64 forms a client sends in an
    ``Authorization`` header (``user:password``, ``id:api_key``) are returned too. Values of
    any shape are accepted: this also serves to mask settings that failed validation.
    """
    found: list[str] = []
    pairs: list[tuple[str, str]] = []

    def add(value: Any, *, keep_first: bool = False) -> None:
        if isinstance(value, str):
            found.append(value)
            if ":" in value:  # "user:password"
                found.append(value.split(":", 1)[1])
        elif isinstance(value, (bytes, bytearray)):
            add(bytes(value).decode("utf-8", "replace"))
        elif isinstance(value, (tuple, list)):
            if len(value) == 2 and all(isinstance(part, str) for part in value):
                pairs.append((value[0], value[1]))
            for position, part in enumerate(value):
                if not (keep_first and position == 0):
                    add(part)
        elif isinstance(value, Mapping):
            for part in value.values():
                add(part)

    if not isinstance(server, Mapping):
        return []
    add(server.get("PASSWORD"))
    add(server.get("API_KEY"))
    if isinstance(server.get("API_KEY"), str):
        add(_decoded(server["API_KEY"]))  # the encoded form is base64 of "id:api_key"
    if isinstance(server.get("USER"), str) and isinstance(server.get("PASSWORD"), str):
        pairs.append((server["USER"], server["PASSWORD"]))
    params = server.get("PARAMS")
    if isinstance(params, Mapping):
        for name in CREDENTIAL_PARAMS:
            # A (user, password) pair: the user name stays readable.
            add(params.get(name), keep_first=name in ("basic_auth", "http_auth"))
            if isinstance(params.get(name), str):
                # basic_auth: the base64 of "user:password"; api_key: of "id:api_key".
                add(_decoded(params[name]))
        headers = params.get("headers")
        if isinstance(headers, Mapping):
            for name, value in headers.items():
                if str(name).lower() == "authorization" and isinstance(value, str):
                    add(value)
                    token = value.split(" ", 1)[-1]  # "Basic <token>", "ApiKey <token>"
                    add(token)
                    add(_decoded(token))
    hosts = server.get("HOSTS")
    for host in [hosts] if isinstance(hosts, str) else hosts if isinstance(hosts, Iterable) else ():
        if isinstance(host, str):
            userinfo = split_url(host).userinfo
            if userinfo:
                found.extend(_userinfo_secrets(userinfo))
                user, _, password = userinfo.partition(":")
                pairs.append((unquote(user), unquote(password)))
    if encoded:
        for first, second in pairs:
            found.append(base64.b64encode(f"{first}:{second}".encode()).decode())
        found.extend(
            base64.b64encode(secret.encode()).decode() for secret in list(found) if ":" in secret
        )
    return sorted({secret for secret in found if secret}, key=len, reverse=True)


def _decoded(token: str) -> str | None:
    try:
        return base64.b64decode(token, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None


def mask(text: str, secrets: Iterable[str], replacement: str = MASK) -> str:
    """Return ``text`` with each of ``secrets`` (longest first) replaced by ``replacement``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, replacement)
    return text


def client_credentials(server: Mapping[str, Any]) -> dict[str, Any]:
    """Return the client arguments for a server's ``USER`` / ``PASSWORD`` or ``API_KEY``."""
    if server.get("USER") is not None:
        return {"basic_auth": (server["USER"], server.get("PASSWORD", ""))}
    if server.get("API_KEY") is not None:
        key = server["API_KEY"]
        return {"api_key": tuple(key) if isinstance(key, (list, tuple)) else key}
    return {}
