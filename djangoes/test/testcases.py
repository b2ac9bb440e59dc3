"""Django test cases whose classes run against freshly created test indices."""

from __future__ import annotations

from typing import Any

from django import test

from .utils import setup_djangoes, teardown_djangoes


class DjangoesTestMixin:
    """Create the test indices (with their SETTINGS) before the class, delete them after.

    Each test class gets empty indices; tests within a class share them.
    """

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()  # type: ignore[misc]
        state = setup_djangoes(suffix=cls._djangoes_suffix())
        cls.addClassCleanup(teardown_djangoes, state)  # type: ignore[attr-defined]

    @classmethod
    def _djangoes_suffix(cls) -> str:
        from .. import connections

        # Keep the suffix a parallel worker (runner or pytest-xdist) has already chosen.
        return connections.test_suffix


class SimpleTestCase(DjangoesTestMixin, test.SimpleTestCase):
    pass


class TransactionTestCase(DjangoesTestMixin, test.TransactionTestCase):
    pass


class TestCase(DjangoesTestMixin, test.TestCase):
    pass


__all__: list[Any] = ["SimpleTestCase", "TestCase", "TransactionTestCase"]
