"""Django test cases that run against the test indices, each test's documents undone."""

from __future__ import annotations

from typing import Any

from django import test

from .. import connections
from ..adapters.django import parallel_worker_id
from . import undo
from .undo import TestScope
from .utils import setup_djangoes, teardown_djangoes


class DjangoesTestMixin:
    """Run the class against the test indices; undo each test's documents after it.

    When test names are not in force yet (a runner other than ``djangoes.test.DiscoverRunner``,
    no pytest plugin), the class switches to them and creates the test indices (with their
    SETTINGS) before it runs, and deletes them after. Otherwise it uses the run's indices.
    Either way the documents written in ``setUpClass``/``setUpTestData`` are undone after
    the class, and those of each test after the test, as Django rolls back their rows.
    """

    @classmethod
    def setUpClass(cls) -> None:
        # Before Django's own set-up: should it fail, the class cleanup still undoes this.
        if connections.test_mode:
            if undo.observer() is None:
                undo.install()
            scope = TestScope(cls.__qualname__).open()
            cls.addClassCleanup(scope.close)  # type: ignore[attr-defined]
        else:
            worker = parallel_worker_id()  # Django's runner in parallel: one suffix each
            state = setup_djangoes(suffix=f"_{worker}" if worker else connections.test_suffix)
            cls.addClassCleanup(teardown_djangoes, state)  # type: ignore[attr-defined]
        super().setUpClass()  # type: ignore[misc]

    def run(self, result: Any = None) -> Any:
        """Run the test in a scope of its own (``djangoes.test.keep_documents`` keeps its
        documents for the class)."""
        with TestScope.of_test(self):
            return super().run(result)  # type: ignore[misc]


class SimpleTestCase(DjangoesTestMixin, test.SimpleTestCase):
    pass


class TransactionTestCase(DjangoesTestMixin, test.TransactionTestCase):
    pass


class TestCase(DjangoesTestMixin, test.TestCase):
    pass


__all__: list[Any] = ["DjangoesTestMixin", "SimpleTestCase", "TestCase", "TransactionTestCase"]
