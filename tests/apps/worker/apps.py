"""In a task worker started by the tests: use the test index names, as the tests do."""

import os

from django.apps import AppConfig


class WorkerConfig(AppConfig):
    name = "tests.apps.worker"
    label = "tests_worker"

    def ready(self) -> None:
        from djangoes import connections

        connections.use_test_settings(True, os.environ.get("DJANGOES_WORKER_TEST_SUFFIX", ""))
