"""Django test cases whose classes run against freshly created test indices."""

from __future__ import annotations

from typing import Any

from django import test

from .utils import TestState, create_test_indices, setup_djangoes, teardown_djangoes


class DjangoesTestMixin:
    """Create the test indices (with their SETTINGS) before the class, delete them after.

    Each test class gets empty indices; tests within a class share them. When the runner or
    the pytest plugin made the same indices for the whole run, they are left in place after
    the class (emptied), for the tests that follow.
    """

    @classmethod
    def setUpClass(cls) -> None:
        # Before Django's own set-up: should it fail, the class cleanup still restores names.
        state = setup_djangoes(suffix=cls._djangoes_suffix())
        cls.addClassCleanup(_teardown_class, state)  # type: ignore[attr-defined]
        super().setUpClass()  # type: ignore[misc]

    @classmethod
    def _djangoes_suffix(cls) -> str:
        from .. import connections

        # Keep the suffix a parallel worker (runner or pytest-xdist) has already chosen.
        return connections.test_suffix


def _teardown_class(state: TestState) -> None:
    if state.previous == (True, state.handler.test_suffix):
        create_test_indices(state.handler)  # the run's indices: replace them with empty ones
    else:
        teardown_djangoes(state)


class SimpleTestCase(DjangoesTestMixin, test.SimpleTestCase):
    pass


class TransactionTestCase(DjangoesTestMixin, test.TransactionTestCase):
    pass


class TestCase(DjangoesTestMixin, test.TestCase):
    pass


__all__: list[Any] = ["SimpleTestCase", "TestCase", "TransactionTestCase"]
