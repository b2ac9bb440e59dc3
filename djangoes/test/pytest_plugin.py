"""pytest plugin: with pytest-django, run every test against the test indices, isolated.

Registered as the ``djangoes`` pytest11 entry point. For the session it switches every
connection to its test names (``test_<NAME>``; ``test_<NAME>_<worker>`` under pytest-xdist),
creates the test indices with their SETTINGS (``--reuse-db`` keeps them from the last run,
checked against their declaration; ``--create-db`` recreates them), and deletes them at the
end (kept with ``--reuse-db``). The documents each test writes are undone after it, those a
module or class fixture (or ``setUpTestData``) writes after the module or class. Disable it
with ``-p no:djangoes``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace

import pytest


def _django_ready(config: pytest.Config) -> bool:
    if not config.pluginmanager.hasplugin("django"):
        return False
    from django.conf import settings

    return settings.configured


def pytest_sessionstart(session: pytest.Session) -> None:
    """Under pytest-xdist, fail once in the controller when a server cannot be reached: the
    workers' own message would be lost in their crash reports."""
    config = session.config
    if os.environ.get("PYTEST_XDIST_WORKER") or not getattr(config.option, "numprocesses", None):
        return
    if not _django_ready(config):
        return
    from elasticsearch import ConnectionError as ClientConnectionError

    from djangoes import connections

    for alias in connections:
        backend = connections[alias]
        try:
            backend.client.cluster.health(timeout="1s")
        except ClientConnectionError as exc:
            pytest.exit(
                f"Got an error creating the test indices: {backend!r} cannot be reached "
                f"({backend.redact(str(exc))}). {backend.creation.hint(exc)}",
                returncode=2,
            )


def _uncaptured(config: pytest.Config) -> AbstractContextManager[object]:
    """Let the test-index messages through to the terminal, as Django's runner prints them."""
    capture = config.pluginmanager.getplugin("capturemanager")
    return capture.global_and_fixture_disabled() if capture is not None else nullcontext()


def _observing() -> bool:
    from djangoes.test import undo

    return undo.observer() is not None


@pytest.fixture(scope="session", autouse=True)
def djangoes_test_indices(request: pytest.FixtureRequest) -> Iterator[None]:
    """Use test index names for the whole session and create the test indices."""
    config = request.config
    if not _django_ready(config):
        yield
        return
    from djangoes.backends.creation import TestIndexCreationError
    from djangoes.test.utils import setup_djangoes, teardown_djangoes

    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    # As pytest-django does for the database: --reuse-db keeps the indices after the run,
    # and reuses them unless --create-db.
    reuse = bool(config.getoption("reuse_db", False))
    keepdb = reuse and not config.getoption("create_db", False)
    verbosity = max(0, config.option.verbose)
    with _uncaptured(config):
        try:
            state = setup_djangoes(
                suffix=f"_{worker}" if worker else "", keepdb=keepdb, verbosity=verbosity
            )
        except TestIndexCreationError as exc:
            # Once, early, with the cause: not as the error of every test of the session.
            pytest.exit(f"Got an error creating the test indices: {exc}", returncode=2)
    try:
        yield
    finally:
        with _uncaptured(config):
            teardown_djangoes(replace(state, keepdb=reuse), verbosity=verbosity)


def _scope(request: pytest.FixtureRequest, label: str, keep: bool = False) -> Iterator[None]:
    if not _django_ready(request.config) or not _observing():
        yield
        return
    from djangoes.test.undo import TestScope

    with TestScope(label, keep=keep):
        yield


@pytest.fixture(scope="module", autouse=True)
def djangoes_module_documents(
    request: pytest.FixtureRequest, djangoes_test_indices: None
) -> Iterator[None]:
    """Undo the documents written while the module ran (its module fixtures' included)."""
    yield from _scope(request, request.node.nodeid)


@pytest.fixture(scope="class", autouse=True)
def djangoes_class_documents(
    request: pytest.FixtureRequest, djangoes_module_documents: None
) -> Iterator[None]:
    """Undo the documents written while the class ran (``setUpTestData`` included)."""
    if request.cls is None:
        yield
        return
    yield from _scope(request, request.node.nodeid)


@pytest.fixture(autouse=True)
def djangoes_test_documents(
    request: pytest.FixtureRequest, djangoes_class_documents: None
) -> Iterator[None]:
    """Undo the documents the test wrote; ``djangoes.test.keep_documents`` keeps them."""
    from djangoes.test.undo import keeps_documents

    keep = keeps_documents(getattr(request, "function", None), request.cls)
    yield from _scope(request, request.node.nodeid, keep=keep)
