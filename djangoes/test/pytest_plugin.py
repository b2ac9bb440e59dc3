"""pytest plugin: with pytest-django, run every test against the test indices.

Registered as the ``djangoes`` pytest11 entry point. For the session it switches every
connection to its test names (``test_<NAME>``; ``test_<NAME>_<worker>`` under pytest-xdist),
creates the test indices with their SETTINGS, and deletes them at the end. Disable it with
``-p no:djangoes``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


def _django_ready(config: pytest.Config) -> bool:
    if not config.pluginmanager.hasplugin("django"):
        return False
    from django.conf import settings

    return settings.configured


@pytest.fixture(scope="session", autouse=True)
def djangoes_test_indices(request: pytest.FixtureRequest) -> Iterator[None]:
    """Use test index names for the whole session and create the test indices."""
    if not _django_ready(request.config):
        yield
        return
    from djangoes.test.utils import setup_djangoes, teardown_djangoes

    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    state = setup_djangoes(suffix=f"_{worker}" if worker else "")
    try:
        yield
    finally:
        teardown_djangoes(state)
