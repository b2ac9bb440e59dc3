"""The backend contract: what ``connections[alias]`` is, whatever client it wraps."""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..signals import prepare_index_body
from .creation import BaseIndexCreation


def redact_host(host: Any) -> str:
    """Return ``host`` as text with any user name and password removed."""
    if isinstance(host, dict):
        scheme = host.get("scheme", "http")
        return f"{scheme}://{host.get('host', 'localhost')}:{host.get('port', 9200)}"
    parts = urlsplit(str(host))
    if parts.username is None and parts.password is None:
        return str(host)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class BaseBackend:
    """A configured server and the indices it serves.

    Subclasses provide ``client``, ``close()``, and, for the test support that creates and
    deletes test indices (through ``creation``), ``create_index(key)``, ``delete_index(key)``
    and ``concrete_indices(name)``. Settings arrive already resolved by the handler (test
    names when test settings are active).
    """

    #: The class of ``creation``: the object that creates and destroys test indices.
    creation_class: type[BaseIndexCreation] = BaseIndexCreation

    def __init__(
        self,
        alias: str,
        server: dict[str, Any],
        server_indices: dict[str, dict[str, Any]],
        write_guard: frozenset[str] | None = None,
    ) -> None:
        self.alias = alias
        self.server = server
        self.server_indices = server_indices
        self.write_guard = write_guard
        self.creation = self.creation_class(self)

    def __repr__(self) -> str:
        hosts = [redact_host(host) for host in self.server.get("HOSTS", [])]
        return f"<{type(self).__name__} alias={self.alias!r} hosts={hosts!r}>"

    __str__ = __repr__

    @property
    def client(self) -> Any:
        raise NotImplementedError("A backend must provide 'client'.")

    def close(self) -> None:
        """Release the client's connections."""

    def create_index(self, key: str, *, replace: bool = False) -> str:
        """Create index ``key`` (see ``get_index_body``); return its name."""
        raise NotImplementedError("A backend must provide 'create_index()'.")

    def delete_index(self, key: str) -> list[str]:
        """Delete index ``key`` if it exists; return the concrete indices deleted."""
        raise NotImplementedError("A backend must provide 'delete_index()'.")

    def concrete_indices(self, name: str) -> list[str]:
        """Return the concrete indices behind ``name`` (an index or alias); [] if none."""
        raise NotImplementedError("A backend must provide 'concrete_indices()'.")

    def refresh(self, *, index: Any = None, **kwargs: Any) -> Any:
        """Refresh this connection's indices (or ``index``)."""
        raise NotImplementedError("A backend must provide 'refresh()'.")

    @property
    def index_names(self) -> list[str]:
        """Return the index names this server serves, in configured order, each once."""
        return list(dict.fromkeys(index["NAME"] for index in self.server_indices.values()))

    @property
    def alias_names(self) -> list[str]:
        """Return the aliases of the indices this server serves, in configured order, each once."""
        return list(
            dict.fromkeys(
                alias for index in self.server_indices.values() for alias in index["ALIASES"]
            )
        )

    @property
    def indices(self) -> list[str]:
        """Return the names to query: each index's aliases where set, else its name; each once."""
        return list(
            dict.fromkeys(
                name
                for index in self.server_indices.values()
                for name in (index["ALIASES"] or [index["NAME"]])
            )
        )

    def get_index(self, key: str) -> dict[str, Any]:
        """Return the settings (NAME, ALIASES, SETTINGS) of index ``key`` on this server."""
        from ..exceptions import IndexDoesNotExist

        try:
            return self.server_indices[key]
        except KeyError:
            raise IndexDoesNotExist(
                f"The index '{key}' is not served by ES_SERVERS['{self.alias}']: "
                f"add it to its INDICES (served now: {sorted(self.server_indices)})."
            ) from None

    def get_index_body(self, key: str, *, with_aliases: bool = True) -> dict[str, Any]:
        """Return the body that creates index ``key``: settings, aliases and mappings.

        Receivers of ``djangoes.signals.prepare_index_body`` may add to it (mappings).
        """
        index = self.get_index(key)
        body: dict[str, Any] = {}
        if index["SETTINGS"]:
            body["settings"] = copy.deepcopy(index["SETTINGS"])
        if with_aliases and index["ALIASES"]:
            body["aliases"] = {alias: {} for alias in index["ALIASES"]}
        prepare_index_body.send(sender=type(self), backend=self, key=key, body=body)
        return body

    def get_indices_with_settings(self) -> dict[str, dict[str, Any]]:
        """Return ``{index name: creation body}`` for every index this server serves."""
        return {
            index["NAME"]: self.get_index_body(key) for key, index in self.server_indices.items()
        }

    def redact(self, text: str) -> str:
        """Return ``text`` with every credential of this server's settings masked."""
        for secret in _secrets(self.server):
            text = text.replace(secret, "***")
        return text

    def _default_index(self, index: Any) -> Any:
        if index is not None:
            return index
        names = self.indices
        if not names:
            # An empty index list would reach Elasticsearch as "all indices".
            raise TypeError(
                f"The connection '{self.alias}' serves no indices (its INDICES setting is "
                f"empty), so there is no default: pass index=."
            )
        return names

    def _single_index(self, index: Any, operation: str) -> Any:
        if index is not None:
            return index
        names = self.index_names
        if len(names) != 1:
            raise TypeError(
                f"{operation}() needs index=: the connection '{self.alias}' serves "
                f"{len(names)} indices ({names}), so there is no single default."
            )
        return names[0]


_SECRET_PARAMS = ("basic_auth", "http_auth", "api_key", "bearer_auth")


def _secrets(server: dict[str, Any]) -> list[str]:
    """Return the credential strings in a server's HOSTS and PARAMS, longest first."""
    found: list[str] = []
    params = server.get("PARAMS") or {}
    for name in _SECRET_PARAMS:
        value = params.get(name)
        if isinstance(value, str):
            found.append(value)
            if ":" in value:  # "user:password"
                found.append(value.split(":", 1)[1])
        elif isinstance(value, (tuple, list)):
            found.extend(str(part) for part in value[1:])  # keep the user name readable
    for host in server.get("HOSTS") or ():
        if isinstance(host, str):
            password = urlsplit(host).password
            if password:
                found.append(password)
    return sorted({secret for secret in found if secret}, key=len, reverse=True)
