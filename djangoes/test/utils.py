"""Switch connections to test names and create or destroy the test indices."""

from __future__ import annotations

from dataclasses import dataclass

from .. import connections as default_connections
from ..handler import ConnectionHandler
from . import undo


@dataclass(frozen=True)
class TestState:
    """What ``setup_djangoes`` changed, for ``teardown_djangoes`` to undo."""

    handler: ConnectionHandler
    previous: tuple[bool, str]
    created: tuple[tuple[str, str], ...]
    keepdb: bool = False


def create_test_indices(
    handler: ConnectionHandler | None = None, verbosity: int = 0, keepdb: bool = False
) -> list[tuple[str, str]]:
    """Create every index of every server under its current (test) name; replace leftovers.

    Each backend's ``creation`` does the work. Return ``[(alias, key), ...]`` of what was
    created (or, with ``keepdb``, kept).
    """
    handler = handler or default_connections
    created: list[tuple[str, str]] = []
    for alias in handler:
        keys = handler[alias].creation.create_test_indices(verbosity=verbosity, keepdb=keepdb)
        created.extend((alias, key) for key in keys)
    return created


def destroy_test_indices(
    handler: ConnectionHandler | None = None,
    created: list[tuple[str, str]] | None = None,
    verbosity: int = 0,
    keepdb: bool = False,
) -> None:
    """Delete the test indices (all of them, or those in ``created``)."""
    handler = handler or default_connections
    per_alias: dict[str, list[str] | None] = {}
    if created is None:
        per_alias = dict.fromkeys(handler)
    else:
        for alias, key in created:
            per_alias.setdefault(alias, []).append(key)  # type: ignore[union-attr]
    for alias, keys in per_alias.items():
        handler[alias].creation.destroy_test_indices(keys, verbosity=verbosity, keepdb=keepdb)


def setup_djangoes(
    suffix: str = "",
    create: bool = True,
    handler: ConnectionHandler | None = None,
    verbosity: int = 0,
    keepdb: bool = False,
) -> TestState:
    """Switch every connection to its test index names and (by default) create the indices.

    ``suffix`` is appended to every test name, so parallel test processes do not collide.
    """
    handler = handler or default_connections
    previous = handler.use_test_settings(True, suffix=suffix)
    if handler is default_connections:
        undo.install()
    created = create_test_indices(handler, verbosity, keepdb) if create else []
    return TestState(handler, previous, tuple(created), keepdb)


def teardown_djangoes(state: TestState, destroy: bool = True, verbosity: int = 0) -> None:
    """Delete the test indices ``setup_djangoes`` created and restore the previous names."""
    try:
        if destroy:
            destroy_test_indices(state.handler, list(state.created), verbosity, state.keepdb)
    finally:
        enabled, suffix = state.previous
        state.handler.use_test_settings(enabled, suffix=suffix)
        if state.handler is default_connections and not enabled:
            undo.uninstall()
