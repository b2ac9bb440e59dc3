"""Test index lifecycle: one object per backend creates and destroys its test indices.

Modelled on Django's ``BaseDatabaseCreation``: the test support asks each backend's
``creation`` to create its indices (under the test names in force) before a run and to
destroy them after, with messages at verbosity 1 and more.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from elastic_transport import AsyncTransport, Transport
from elasticsearch import (
    ApiError,
    AuthenticationException,
    AuthorizationException,
    ConnectionTimeout,
    TransportError,
)
from elasticsearch import ConnectionError as ClientConnectionError

from . import refusals
from .compat import IncompatibleServerError
from .drift import compare
from .guard import WriteGuard

if TYPE_CHECKING:
    from .base import BaseBackend


class TestIndexCreationError(RuntimeError):
    """A test index could not be created (the message says why and what to do)."""

    __test__ = False  # not a test class, for pytest


class BaseIndexCreation:
    """Create and destroy the test indices of one backend.

    Everything here works through the backend's ``client`` (an ``elasticsearch.Elasticsearch``)
    and its ``create_index`` / ``delete_index`` / ``concrete_indices``; a backend whose client
    is another overrides ``describe_index``, ``count_documents``, ``creation_errors`` and
    ``hint``.
    """

    #: Exceptions of the backend's client that creating an index may raise; they are
    #: re-raised as TestIndexCreationError with a hint (see ``hint``).
    creation_errors: tuple[type[BaseException], ...] = (ApiError, TransportError)

    def __init__(self, backend: BaseBackend) -> None:
        self.backend = backend

    def log(self, message: str) -> None:
        """Write ``message`` to stderr, as Django's database creation does."""
        sys.stderr.write(message + "\n")

    def _describe(self, key: str) -> str:
        return f"'{self.backend.get_index(key)['NAME']}' for alias '{self.backend.alias}'"

    def create_test_indices(self, verbosity: int = 1, keepdb: bool = False) -> list[str]:
        """Create every index the backend serves (test names); return their keys.

        An index left by an earlier run is replaced, with a message, unless ``keepdb``
        keeps it.
        """
        created = []
        for key in self.backend.server_indices:
            self.create_test_index(key, verbosity=verbosity, keepdb=keepdb)
            created.append(key)
        return created

    def create_test_index(self, key: str, verbosity: int = 1, keepdb: bool = False) -> None:
        """Create the test index ``key``; replace (or, with ``keepdb``, keep) a leftover.

        With ``keepdb`` an existing index is kept only while it still matches what it would
        be created with (mappings, settings, aliases: see ``index_difference``) and holds no
        documents (see ``count_documents``): a run undoes what its tests wrote, so documents
        found at the start are a stopped run's; otherwise it is recreated, with a message.
        Without ``keepdb`` a leftover of an earlier run is replaced, with a message, as Django
        does for a test database.
        """
        backend = self.backend
        try:
            exists = bool(backend.concrete_indices(backend.get_index(key)["NAME"]))
            if exists and keepdb:
                difference = self.index_difference(key)
                reason: str | None
                if difference is not None:
                    reason = f"it no longer matches its declaration ({difference})"
                else:
                    reason = self._leftover_documents(key)
                if reason is None:
                    if verbosity >= 1:
                        self.log(f"Using existing test index {self._describe(key)}...")
                    return
                self.log(f"Recreating test index {self._describe(key)}: {reason}...")
                backend.delete_index(key)
                backend.create_index(key)
                return
            if verbosity >= 1:
                self.log(f"Creating test index {self._describe(key)}...")
            if exists:
                self.log(
                    f"Got an error creating the test index: index "
                    f"'{backend.get_index(key)['NAME']}' already exists (left by an earlier run)."
                )
                if verbosity >= 1:
                    self.log(f"Destroying old test index {self._describe(key)}...")
                backend.delete_index(key)
            backend.create_index(key)
        except self.creation_errors as exc:
            detail = backend.redact(str(exc)).rstrip(".")
            hint = self.hint(exc)
            raise TestIndexCreationError(
                f"Could not create the test index {self._describe(key)} on {backend!r}: "
                f"{type(exc).__name__}: {detail}.{' ' + hint if hint else ''}"
            ) from exc

    def index_difference(self, key: str) -> str | None:
        """Return how the existing test index ``key`` differs from what it would be created
        with, or None when it matches.

        Everything declared must be there as declared: each mapping entry (fields the index
        gained by dynamic mapping do not count), each setting, each alias.
        """
        backend = self.backend
        live = self.describe_index(key)
        if live is None:
            return "it cannot be read"
        body = backend.get_index_body(key)
        for difference in compare(backend.client, body, live):
            if not difference.only_live:  # fields dynamic mapping added do not count
                return str(difference)
        missing = sorted(set(body.get("aliases") or ()) - set(live.get("aliases") or ()))
        if missing:
            return f"alias(es) {missing} missing"
        return None

    def _leftover_documents(self, key: str) -> str | None:
        """Return why the kept index ``key`` cannot start a run as it is, or None."""
        documents = self.count_documents(key)
        if documents == 0:
            return None
        if documents is None:
            return "its documents cannot be counted, so it may hold an earlier run's"
        return (
            f"it holds {documents} document{'s' if documents != 1 else ''} of an earlier run "
            f"that stopped before undoing them"
        )

    def count_documents(self, key: str) -> int | None:
        """Return how many documents the existing test index ``key`` holds, every earlier
        write and delete counted (None when the backend cannot tell)."""
        name = self.backend.get_index(key)["NAME"]
        client = self.backend.client
        # Deletes an earlier run sent last may not be visible yet: make them so first.
        client.indices.refresh(index=name)
        return int(client.count(index=name)["count"])

    def destroy_test_indices(
        self, keys: list[str] | None = None, verbosity: int = 1, keepdb: bool = False
    ) -> None:
        """Delete the test indices ``keys`` (default: every index served), unless ``keepdb``."""
        for key in self.backend.server_indices if keys is None else keys:
            if keepdb:
                if verbosity >= 1:
                    self.log(f"Preserving test index {self._describe(key)}...")
                continue
            if verbosity >= 1:
                self.log(f"Destroying test index {self._describe(key)}...")
            self.backend.delete_index(key)

    def describe_index(self, key: str) -> dict[str, Any] | None:
        """Return the existing index ``key`` as ``{"mappings", "settings", "aliases"}``
        (the concrete index behind NAME), or None when there is none."""
        backend = self.backend
        concrete = backend.concrete_indices(backend.get_index(key)["NAME"])
        if not concrete:
            return None
        found = backend.client.indices.get(index=concrete[0], flat_settings=True).body
        index = found[concrete[0]]
        return {
            "mappings": index.get("mappings") or {},
            "settings": index.get("settings") or {},
            "aliases": sorted(index.get("aliases") or {}),
        }

    def hint(self, exc: BaseException) -> str:
        """Return what to do about ``exc``, raised while creating a test index."""
        alias = self.backend.alias
        explained = refusals.explain(exc, self.backend)
        if explained is not None:
            return explained[0].upper() + explained[1:]
        if isinstance(exc, ConnectionTimeout):
            return (
                "The node did not answer in time: is it overloaded? Raise "
                f"ES_SERVERS['{alias}']['PARAMS']['request_timeout'] if it is only slow."
            )
        if isinstance(exc, ClientConnectionError):
            return (
                "Is Elasticsearch running? Start a local node with 'scripts/es-node start' or "
                f"point ES_SERVERS['{alias}']['HOSTS'] at a running one."
            )
        if isinstance(exc, AuthenticationException):
            return (
                f"The server refused the credentials: check ES_SERVERS['{alias}'] (USER and "
                f"PASSWORD, API_KEY, or the credentials in PARAMS or HOSTS)."
            )
        if isinstance(exc, AuthorizationException):
            return (
                f"The user of ES_SERVERS['{alias}'] lacks a privilege: it needs to create, "
                f"read and delete the test indices (e.g. the 'all' index privilege on them)."
            )
        if isinstance(exc, IncompatibleServerError):
            return ""  # the message says what to install
        return (
            f"Check the SETTINGS of the indices ES_SERVERS['{alias}'] serves, and the server's log."
        )


class ElasticsearchIndexCreation(BaseIndexCreation):
    """Create and destroy test indices with the official client; explain its errors."""

    def client_params(
        self, params: dict[str, Any], *, asynchronous: bool = False
    ) -> dict[str, Any]:
        """Return the client arguments ``params`` with, while test names are in force, the
        test transport (``djangoes.test.transport``) around their ``transport_class``
        (``AsyncTransport`` by default for the ``asynchronous`` client)."""
        if self.backend.write_guard is None:
            return params
        from ..test.transport import guarded_transport_class

        base = params.get("transport_class", AsyncTransport if asynchronous else Transport)
        return {**params, "transport_class": guarded_transport_class(base)}

    def can_take_client(self, other: BaseBackend) -> bool:
        """Return whether a client built for ``other`` may serve this backend: not across a
        switch between live and test names, whose transports differ."""
        return (other.write_guard is None) == (self.backend.write_guard is None)

    def prepare_client(self, client: Any) -> None:
        """Give the test transport of ``client`` the live-write guard of the names in force
        (nothing to do under live names)."""
        backend = self.backend
        if backend.write_guard is None:
            return
        from ..test.transport import TestTransport

        transport = client.transport
        if not isinstance(transport, TestTransport):
            raise ImproperlyConfigured(
                f"ES_SERVERS['{backend.alias}'] built a client whose transport cannot refuse "
                f"writes to live indices in tests; remove 'transport_class' from PARAMS."
            )
        transport.write_guard = WriteGuard(
            backend.write_guard, [*backend.index_names, *backend.alias_names]
        )
