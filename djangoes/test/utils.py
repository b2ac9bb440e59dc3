"""Switch connections to test names and create or destroy the test indices."""

from __future__ import annotations

from dataclasses import dataclass

from elasticsearch import ApiError, ConnectionError, TransportError

from .. import connections as default_connections
from ..handler import ConnectionHandler


@dataclass(frozen=True)
class TestState:
    """What ``setup_djangoes`` changed, for ``teardown_djangoes`` to undo."""

    handler: ConnectionHandler
    previous: tuple[bool, str]
    created: tuple[tuple[str, str], ...]


def _creation_failed(alias: str, handler: ConnectionHandler, exc: Exception) -> RuntimeError:
    if isinstance(exc, ConnectionError):
        hint = (
            "Is Elasticsearch running? Start a local node with 'scripts/es-node start' or "
            f"point ES_SERVERS['{alias}']['HOSTS'] at a running one."
        )
    elif "media_type_header_exception" in str(exc):
        hint = (
            "The elasticsearch-py client is newer than the server: install a client whose "
            "major version is not above the server's (e.g. 'elasticsearch>=8.18,<9' for 8.x)."
        )
    else:
        hint = "Check ES_INDICES SETTINGS and the server's log."
    return RuntimeError(
        f"Could not create the test indices on {handler[alias]!r}: "
        f"{type(exc).__name__}: {exc}. {hint}"
    )


def create_test_indices(handler: ConnectionHandler | None = None) -> list[tuple[str, str]]:
    """Create every index of every server under its current (test) name; replace leftovers.

    Return ``[(alias, key), ...]`` of what was created.
    """
    handler = handler or default_connections
    created = []
    for alias in handler:
        backend = handler[alias]
        for key in backend.server_indices:
            try:
                backend.delete_index(key)
                backend.create_index(key)
            except (ApiError, TransportError) as exc:
                raise _creation_failed(alias, handler, exc) from exc
            created.append((alias, key))
    return created


def destroy_test_indices(
    handler: ConnectionHandler | None = None, created: list[tuple[str, str]] | None = None
) -> None:
    """Delete the test indices (all of them, or those in ``created``)."""
    handler = handler or default_connections
    if created is None:
        created = [(alias, key) for alias in handler for key in handler[alias].server_indices]
    for alias, key in created:
        handler[alias].delete_index(key)


def setup_djangoes(
    suffix: str = "", create: bool = True, handler: ConnectionHandler | None = None
) -> TestState:
    """Switch every connection to its test index names and (by default) create the indices.

    ``suffix`` is appended to every test name, so parallel test processes do not collide.
    """
    handler = handler or default_connections
    previous = handler.use_test_settings(True, suffix=suffix)
    created = create_test_indices(handler) if create else []
    return TestState(handler, previous, tuple(created))


def teardown_djangoes(state: TestState, destroy: bool = True) -> None:
    """Delete the test indices ``setup_djangoes`` created and restore the previous names."""
    try:
        if destroy:
            destroy_test_indices(state.handler, list(state.created))
    finally:
        enabled, suffix = state.previous
        state.handler.use_test_settings(enabled, suffix=suffix)
