"""In a task worker started by the tests: use the test index names, as the tests do, register
the Documents a test names (DJANGOES_WORKER_DOCUMENTS: JSON of ``{index key: dotted path}``),
and stop at the tests' barrier when they start it with one (tests/barrier.py)."""

import json
import os

from django.apps import AppConfig


class WorkerConfig(AppConfig):
    name = "tests.apps.worker"
    label = "tests_worker"

    def ready(self) -> None:
        from djangoes import connections

        connections.use_test_settings(True, os.environ.get("DJANGOES_WORKER_TEST_SUFFIX", ""))
        from django.utils.module_loading import import_string

        from djangoes_dsl import register

        for key, path in json.loads(os.environ.get("DJANGOES_WORKER_DOCUMENTS", "{}")).items():
            register(key)(import_string(path))
        directory = os.environ.get("DJANGOES_WORKER_BARRIER")
        if directory:
            from django.db.backends.signals import connection_created

            from tests.barrier import WorkerSide

            connection_created.connect(WorkerSide(directory).install, weak=False)
