"""Keep Elasticsearch credentials out of Django's error reports.

Django's ``SafeExceptionReporterFilter`` hides a setting whose *key* looks secret (``PASSWORD``,
``API_KEY``, and keys with ``AUTH`` such as ``basic_auth``). It cannot see a
password inside a ``HOSTS`` URL, and it shows
the local variables of every frame on the DEBUG page (and in HTML e-mails to ADMINS) unless
the function was marked with ``sensitive_variables``. Use this filter to close those gaps::

    DEFAULT_EXCEPTION_REPORTER_FILTER = "djangoes.debug.SafeExceptionReporterFilter"

It masks, wherever they appear in settings and in frame variables (with DEBUG on or off), the
credentials of every server of ``ES_SERVERS``: passwords, API keys and tokens, the user
information of ``HOSTS`` URLs, and the base64 form a client sends in an ``Authorization``
header, also inside bytes such as the request buffer of ``http.client`` when a node is down,
and however a long value is wrapped over lines on the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.template.defaultfilters import pprint
from django.utils.module_loading import import_string
from django.views import debug

from .credentials import CREDENTIAL_KEYS, CREDENTIAL_PARAMS, mask, secrets_of, split_url

__all__ = ["SafeExceptionReporterFilter", "exposed_credentials"]

_SECRET_KEYS = frozenset(CREDENTIAL_KEYS) | frozenset(CREDENTIAL_PARAMS)


class _Masked:
    """A value shown as ``text`` (its repr), for frame variables that held a credential."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _joined(text: str) -> str:
    """Return a printed value with the lines ``pprint`` wrapped a long text or bytes over
    (``b'...'\n b'...'``) joined again."""
    return re.sub(r"""['"]\)?\s*\n\s*\(?[bBrRuU]*['"]""", "", text)


def _configured_secrets() -> list[str]:
    servers = getattr(settings, "ES_SERVERS", None)
    if not isinstance(servers, Mapping):
        return []
    found: set[str] = set()
    for server in servers.values():
        found.update(secrets_of(server))
    return sorted(found, key=len, reverse=True)


class SafeExceptionReporterFilter(debug.SafeExceptionReporterFilter):
    """Django's filter, and no ``ES_SERVERS`` credential in settings or frame variables."""

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        cleansed = super().cleanse_setting(key, value)
        secrets = _configured_secrets()
        if key == "ES_SERVERS" and isinstance(cleansed, Mapping):
            cleansed = {
                alias: self._cleanse_server(server) if isinstance(server, Mapping) else server
                for alias, server in cleansed.items()
            }
        return self._mask(cleansed, secrets) if secrets else cleansed

    def _cleanse_server(self, server: Mapping[Any, Any]) -> dict[Any, Any]:
        result = {}
        for name, value in server.items():
            if name in _SECRET_KEYS:
                value = self.cleansed_substitute
            elif name == "PARAMS" and isinstance(value, Mapping):
                value = {
                    param: self.cleansed_substitute if param in _SECRET_KEYS else item
                    for param, item in value.items()
                }
            elif name == "HOSTS":
                value = self._cleanse_hosts(value)
            result[name] = value
        return result

    def _cleanse_hosts(self, hosts: Any) -> Any:
        if isinstance(hosts, str):
            return self._cleanse_url(hosts)
        if isinstance(hosts, (list, tuple)):
            return type(hosts)(self._cleanse_url(h) if isinstance(h, str) else h for h in hosts)
        return hosts

    def _cleanse_url(self, url: str) -> str:
        parts = split_url(url)
        if parts.userinfo is None:
            return url
        scheme = f"{parts.scheme}://" if parts.scheme else ""
        return f"{scheme}{self.cleansed_substitute}@{parts.netloc}{parts.rest}"

    def _mask(self, value: Any, secrets: Iterable[str]) -> Any:
        if isinstance(value, str):
            return mask(value, secrets, self.cleansed_substitute)
        if isinstance(value, Mapping):
            return {key: self._mask(item, secrets) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self._mask(item, secrets) for item in value)
        return value

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        variables = super().get_traceback_frame_variables(request, tb_frame)
        secrets = _configured_secrets()
        if not secrets:
            return variables
        return [(name, self._cleanse_variable(value, secrets)) for name, value in variables]

    def _cleanse_variable(self, value: Any, secrets: list[str]) -> Any:
        """Return ``value`` as a report may show it: no credential, however it is printed.

        Texts and bytes (an ``http.client`` request buffer holds the ``Authorization``
        header) are masked before they are printed, since ``pprint`` wraps a long one over
        lines and may cut a credential in two; what still shows one, printed or with its
        wrapped lines joined, is not shown at all.
        """
        masked = self._mask_value(value, secrets)
        try:
            text = pprint(masked)
        except Exception:  # as Django: a repr that raises is shown as such
            return masked
        cleansed = mask(text, secrets, self.cleansed_substitute)
        if any(secret in _joined(cleansed) for secret in secrets):
            return _Masked(self.cleansed_substitute)
        if cleansed != text or masked is not value:
            return _Masked(cleansed)
        return value

    def _mask_value(self, value: Any, secrets: list[str]) -> Any:
        if isinstance(value, str):
            found = mask(value, secrets, self.cleansed_substitute)
            return value if found == value else found
        if isinstance(value, (bytes, bytearray)):
            text = bytes(value).decode("latin-1")
            found = mask(text, secrets, self.cleansed_substitute)
            return value if found == text else type(value)(found.encode("latin-1"))
        if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
            items = [self._mask_value(item, secrets) for item in value]
            if all(new is old for new, old in zip(items, value, strict=True)):
                return value
            return type(value)(items)
        if isinstance(value, dict):
            pairs = {key: self._mask_value(item, secrets) for key, item in value.items()}
            if all(pairs[key] is item for key, item in value.items()):
                return value
            return pairs
        return value


def exposed_credentials(reporter_filter: Any = None) -> list[str]:
    """Return the ``ES_SERVERS`` entries whose credentials an error report would show.

    ``reporter_filter`` is an exception reporter filter instance; by default the one
    ``DEFAULT_EXCEPTION_REPORTER_FILTER`` names. Each server's settings go through its
    ``cleanse_setting()`` as they do in a report, and whatever credential is still readable
    counts.
    """
    if reporter_filter is None:
        reporter_filter = import_string(settings.DEFAULT_EXCEPTION_REPORTER_FILTER)()
    servers = getattr(settings, "ES_SERVERS", None)
    if not isinstance(servers, Mapping):
        return []
    cleansed = reporter_filter.cleanse_setting("ES_SERVERS", servers)
    exposed = []
    for alias, server in servers.items():
        shown = cleansed.get(alias) if isinstance(cleansed, Mapping) else cleansed
        text = repr(shown)
        if any(secret in text for secret in secrets_of(server, encoded=False)):
            exposed.append(f"ES_SERVERS[{alias!r}]")
    return exposed
