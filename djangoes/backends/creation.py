"""Test index lifecycle: one object per backend creates and destroys its test indices.

Modelled on Django's ``BaseDatabaseCreation``: the test support asks each backend's
``creation`` to create its indices (under the test names in force) before a run and to
destroy them after, with messages at verbosity 1 and more.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import BaseBackend


class TestIndexCreationError(RuntimeError):
    """A test index could not be created (the message says why and what to do)."""


class BaseIndexCreation:
    """Create and destroy the test indices of one backend."""

    #: Exceptions of the backend's client that creating an index may raise; they are
    #: re-raised as TestIndexCreationError with a hint (see ``hint``).
    creation_errors: tuple[type[BaseException], ...] = ()

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
        """Create the test index ``key``; replace (or, with ``keepdb``, keep) a leftover."""
        backend = self.backend
        try:
            exists = bool(backend.concrete_indices(backend.get_index(key)["NAME"]))
            if exists and keepdb:
                if verbosity >= 1:
                    self.log(f"Using existing test index {self._describe(key)}...")
                return
            if verbosity >= 1:
                self.log(f"Creating test index {self._describe(key)}...")
            if exists:
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

    def hint(self, exc: BaseException) -> str:
        """Return what to do about ``exc``, raised while creating a test index."""
        return "See the server's log."
