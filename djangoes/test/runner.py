"""A DiscoverRunner that runs the suite against test indices, each test isolated."""

from __future__ import annotations

import sys
import unittest
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.test import runner as django_runner

from .. import connections
from ..adapters.django import parallel_worker_id
from ..backends.creation import TestIndexCreationError
from . import undo
from .undo import TestScope
from .utils import destroy_test_indices, setup_djangoes, teardown_djangoes

# What a parallel worker needs from the runner that forked it.
_worker_options: dict[str, Any] = {"keepdb": False, "verbosity": 0}


class TestScopes:
    """Open a ``TestScope`` per test, and one per test class for what ``setUpClass`` (and
    ``setUpTestData``) wrote, closed by a class cleanup after ``tearDownClass``.

    A class's scope is opened before its ``setUpClass`` runs: it is the scope opened when
    the previous class's scope closed (or at the start of the run).
    """

    __test__ = False  # not a test class, for pytest

    def __init__(self) -> None:
        self.current: TestScope | None = None
        self.classes: set[type] = set()
        self.tests: dict[int, TestScope] = {}

    def begin(self) -> None:
        self.current = TestScope("class").open()

    def end(self) -> None:
        for scope in self.tests.values():
            scope.close()
        self.tests.clear()
        if self.current is not None:
            self.current.close()
            self.current = None

    def start_test(self, test: Any) -> None:
        if not isinstance(test, unittest.TestCase):
            return
        cls = type(test)
        if cls not in self.classes:
            self.classes.add(cls)
            if self.current is None:
                self.begin()
            cls.addClassCleanup(self._class_done, self.current)
        self.tests[id(test)] = TestScope.of_test(test).open()

    def stop_test(self, test: Any) -> None:
        scope = self.tests.pop(id(test), None)
        if scope is not None:
            scope.close()

    def _class_done(self, scope: TestScope | None) -> None:
        if scope is None or scope is not self.current:
            return  # a class whose cleanups run after another class took its scope
        scope.close()
        self.current = TestScope("class").open()


_active: list[TestScopes] = []


@contextmanager
def test_scopes() -> Iterator[TestScopes]:
    """Give the tests run in the block (by a result of ``scoped_result_class``) scopes."""
    scopes = TestScopes()
    scopes.begin()
    _active.append(scopes)
    try:
        yield scopes
    finally:
        _active.remove(scopes)
        scopes.end()
        undo.flush()  # a parallel worker ends without tearing anything down


class ScopedResultMixin:
    """A test result that opens and closes the scopes of the running ``test_scopes()``."""

    def startTest(self, test: Any) -> None:
        super().startTest(test)  # type: ignore[misc]
        if _active:
            _active[-1].start_test(test)

    def stopTest(self, test: Any) -> None:
        try:
            if _active:
                _active[-1].stop_test(test)
        finally:
            super().stopTest(test)  # type: ignore[misc]


_result_classes: dict[type, type] = {}


def scoped_result_class(base: type[unittest.TestResult]) -> type[unittest.TestResult]:
    """Return ``base`` with ``ScopedResultMixin`` (one class per base)."""
    if base not in _result_classes:
        _result_classes[base] = type(f"Scoped{base.__name__}", (ScopedResultMixin, base), {})
    return _result_classes[base]


class RemoteTestRunner(django_runner.RemoteTestRunner):
    """Run a parallel worker's share of the suite with test scopes."""

    resultclass = scoped_result_class(django_runner.RemoteTestResult)

    def run(self, test: Any) -> Any:
        with test_scopes():
            return super().run(test)


def _init_worker(*args: Any, **kwargs: Any) -> None:
    """Set up a parallel worker: Django's databases, then this worker's own test indices."""
    django_runner.ParallelTestSuite.init_worker(*args, **kwargs)
    setup_djangoes(
        suffix=f"_{parallel_worker_id()}",
        keepdb=_worker_options["keepdb"],
        verbosity=max(0, _worker_options["verbosity"] - 1),
    )


class ParallelTestSuite(django_runner.ParallelTestSuite):
    init_worker = _init_worker
    runner_class = RemoteTestRunner


class DiscoverRunner(django_runner.DiscoverRunner):
    """Switch Elasticsearch to test indices alongside the test databases.

    Use it as ``TEST_RUNNER = "djangoes.test.DiscoverRunner"``. Every index is created under
    its test name (``test_<NAME>``) before the run and deleted after; with ``--parallel``
    each worker has its own indices (``test_<NAME>_<worker>``). With ``--keepdb`` the test
    indices are kept for the next run (recreated when they no longer match their
    declaration). The documents each test writes are removed after it, those each class
    writes in ``setUpClass``/``setUpTestData`` after the class (see docs/testing.md).
    """

    parallel_test_suite = ParallelTestSuite

    def setup_databases(self, **kwargs: Any) -> Any:
        old_config = super().setup_databases(**kwargs)
        _worker_options.update(keepdb=self.keepdb, verbosity=self.verbosity)
        try:
            self._djangoes_state = setup_djangoes(verbosity=self.verbosity, keepdb=self.keepdb)
        except TestIndexCreationError as exc:
            # As Django does when the test database cannot be created: say why once, stop.
            super().teardown_databases(old_config)
            sys.stderr.write(f"Got an error creating the test indices: {exc}\n")
            sys.exit(2)
        return old_config

    def get_resultclass(self) -> Any:
        base: type[unittest.TestResult] = super().get_resultclass() or unittest.TextTestResult
        return scoped_result_class(base)

    def run_suite(self, suite: Any, **kwargs: Any) -> Any:
        if isinstance(suite, django_runner.ParallelTestSuite):
            return super().run_suite(suite, **kwargs)  # the workers open the scopes
        with test_scopes():
            return super().run_suite(suite, **kwargs)

    def teardown_databases(self, old_config: Any, **kwargs: Any) -> None:
        state = self._djangoes_state
        try:
            # Parallel workers made their own indices and cannot clean up after themselves.
            workers = self.parallel if isinstance(self.parallel, int) else 0
            for worker in range(1, workers + 1):
                connections.use_test_settings(True, suffix=f"_{worker}")
                destroy_test_indices(verbosity=self.verbosity, keepdb=self.keepdb)
        finally:
            connections.use_test_settings(True, suffix="")
            try:
                teardown_djangoes(state, verbosity=self.verbosity)
            finally:
                super().teardown_databases(old_config, **kwargs)
