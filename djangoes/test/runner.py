"""A DiscoverRunner that runs the suite against test indices."""

from __future__ import annotations

from typing import Any

from django.test import runner as django_runner

from .. import connections
from ..adapters.django import parallel_worker_id
from .utils import destroy_test_indices, setup_djangoes, teardown_djangoes


def _init_worker(*args: Any, **kwargs: Any) -> None:
    """Set up a parallel worker: Django's databases, then this worker's own test indices."""
    django_runner.ParallelTestSuite.init_worker(*args, **kwargs)
    setup_djangoes(suffix=f"_{parallel_worker_id()}")


class ParallelTestSuite(django_runner.ParallelTestSuite):
    init_worker = _init_worker


class DiscoverRunner(django_runner.DiscoverRunner):
    """Switch Elasticsearch to test indices alongside the test databases.

    Use it as ``TEST_RUNNER = "djangoes.test.DiscoverRunner"``. Every index is created under
    its test name (``test_<NAME>``) before the run and deleted after; with ``--parallel``
    each worker has its own indices (``test_<NAME>_<worker>``). With ``--keepdb`` the test
    indices are kept for the next run.
    """

    parallel_test_suite = ParallelTestSuite

    def setup_databases(self, **kwargs: Any) -> Any:
        old_config = super().setup_databases(**kwargs)
        self._djangoes_state = setup_djangoes(verbosity=self.verbosity, keepdb=self.keepdb)
        return old_config

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
