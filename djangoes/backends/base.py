"""The backend contract: what ``connections[alias]`` is, whatever client it wraps."""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from ..credentials import mask, redact_url, secrets_of
from ..signals import prepare_index_body
from .creation import BaseIndexCreation


def redact_host(host: Any) -> str:
    """Return ``host`` (a HOSTS entry) as text with any user name and password removed."""
    return redact_url(host)


class BaseBackend:
    """A configured server and the indices it serves.

    A subclass provides ``client`` (an ``elasticsearch.Elasticsearch``, or a client with its
    API) and, when it holds connections, ``close()``. Everything else has a default here that
    works through ``client``: index management (``create_index``, ``delete_index``,
    ``concrete_indices``, ``refresh``), the test index lifecycle (``creation``) and the names;
    a subclass may override any of them (docs/configuration.md lists them). Settings arrive
    already resolved by the handler (test names when test settings are active).
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

    @classmethod
    def validate_settings(cls, alias: str, server: dict[str, Any]) -> list[ImproperlyConfigured]:
        """Return the problems of the settings of server ``alias`` that this backend finds.

        ``server`` has its defaults filled in and passed ``djangoes.validation``'s checks of
        the keys every backend shares. Override to check what is particular to the backend
        (the client's PARAMS, OPTIONS); the handler raises the first problem when it loads
        the backend, and ``manage.py check`` reports them all.
        """
        return []

    def __repr__(self) -> str:
        try:
            hosts = [redact_host(host) for host in self.server.get("HOSTS", [])]
        except Exception:  # a repr must not raise, whatever the settings hold
            hosts = ["?"]
        return f"<{type(self).__name__} alias={self.alias!r} hosts={hosts!r}>"

    __str__ = __repr__

    @property
    def client(self) -> Any:
        raise NotImplementedError("A backend must provide 'client'.")

    @property
    def async_client(self) -> Any:
        """Return the asyncio client of the running event loop (one per loop)."""
        raise NotImplementedError("This backend has no asyncio client.")

    def close(self) -> None:
        """Release the client's connections."""

    def take_client(self, other: BaseBackend) -> bool:
        """Take over the client of ``other``, the backend this one replaces; return whether it did.

        The handler calls it after a settings change that left the server's client settings
        as they were (see ``client_settings``), so that the client and its connection pool
        outlive the change; then it closes ``other``, which must not close what was taken.
        The default takes nothing: a new client is built on first use.
        """
        return False

    @staticmethod
    def client_settings(server: dict[str, Any]) -> dict[str, Any]:
        """Return the part of a server's settings its client is built from.

        Everything but the indices it serves: while these are equal, a settings change keeps
        the client (see ``take_client``).
        """
        return {key: value for key, value in server.items() if key not in ("INDICES", "TEST")}

    def create_index(self, key: str, *, replace: bool = False) -> str:
        """Create index ``key`` with its SETTINGS, ALIASES and mappings (see
        ``get_index_body``); return its name.

        With ``replace`` an existing index of that name is deleted first.
        """
        from elasticsearch import ApiError

        from ..exceptions import IndexCreationError
        from .capabilities import explain_creation_error

        name = self.get_index(key)["NAME"]
        if replace:
            self.client.indices.delete(index=name, ignore_unavailable=True)
        body = self.get_index_body(key)
        try:
            self.client.indices.create(index=name, **body)
        except ApiError as exc:
            in_use = exc.error == "resource_already_exists_exception"
            if exc.status_code not in (400, 500) or in_use:
                raise  # refused for access or for a name in use, not for what it declares
            raise IndexCreationError(explain_creation_error(self, key, body, exc), exc) from exc
        return name

    def delete_index(self, key: str) -> list[str]:
        """Delete index ``key`` if it exists; return the concrete indices deleted.

        When NAME is an alias (after a zero-downtime rebuild) the indices behind it go.
        """
        concrete = self.concrete_indices(self.get_index(key)["NAME"])
        if concrete:
            self.client.indices.delete(index=concrete)
        return concrete

    def concrete_indices(self, name: str) -> list[str]:
        """Return the concrete indices behind ``name`` (an index or alias); [] if none."""
        found = self.client.indices.get(index=name, ignore_unavailable=True, allow_no_indices=True)
        return sorted(found.body if hasattr(found, "body") else found)

    def refresh(self, *, index: Any = None, **kwargs: Any) -> Any:
        """Refresh this connection's indices (or ``index``)."""
        return self.client.indices.refresh(index=self._default_index(index), **kwargs)

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
        return mask(text, secrets_of(self.server))

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
