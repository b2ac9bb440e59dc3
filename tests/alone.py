"""Run a module's tests in reverse order, then each of them alone, in this one process; report
each run's outcome as a JSON line on stdout (``ALONE {...}``).

    python -m tests.alone django --settings=MODULE LABEL   # Django's runner (TEST_RUNNER)
    python -m tests.alone pytest [OPTION ...] -- PATH     # pytest, with the options given

Used by tests/test_test_isolation.py, in a child process with settings of its own: every test
passes in reverse order and when it is the only test of its run — a run of its own, which sets
up and tears down the test databases and indices (kept: ``--keepdb`` / ``--reuse-db``) as any
run does — without a process per test. Each run reports the tests it ran, passed and failed.
"""

from __future__ import annotations

import json
import os
import sys
import unittest
from collections.abc import Iterator
from typing import Any

MARK = "ALONE "


def report(**outcome: Any) -> None:
    sys.stdout.write(MARK + json.dumps(outcome) + "\n")
    sys.stdout.flush()


def parse(output: str) -> list[dict[str, Any]]:
    """Return the outcomes reported in ``output``, in order."""
    return [json.loads(line[len(MARK) :]) for line in output.splitlines() if line.startswith(MARK)]


# -- Django's runner ---------------------------------------------------------------------------


def _flat(suite: unittest.TestSuite) -> Iterator[unittest.TestCase]:
    for test in suite:
        if isinstance(test, unittest.TestSuite):
            yield from _flat(test)
        else:
            yield test


def django_runs(settings_module: str, label: str) -> None:
    import django
    from django.conf import settings
    from django.test.utils import get_runner

    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module.removeprefix("--settings=")
    django.setup()

    class Runner(get_runner(settings)):  # type: ignore[misc]
        def suite_result(self, suite: Any, result: Any, **kwargs: Any) -> Any:
            self.outcome = {
                "ran": result.testsRun,
                "failed": [test.id() for test, _ in result.failures + result.errors],
            }
            return super().suite_result(suite, result, **kwargs)

    reverse = Runner(reverse=True, interactive=False, verbosity=1)
    tests = [test.id() for test in _flat(reverse.build_suite([label]))]
    reverse.run_tests([label])
    report(run="reversed", tests=tests, **reverse.outcome)
    for test in tests:
        alone = Runner(keepdb=True, interactive=False, verbosity=1)
        alone.run_tests([test])
        report(run="alone", tests=[test], **alone.outcome)


# -- pytest ------------------------------------------------------------------------------------


class _Outcomes:
    """A pytest plugin noting what one run collected, passed and failed."""

    def __init__(self) -> None:
        self.collected: list[str] = []
        self.passed: list[str] = []
        self.failed: list[str] = []

    def pytest_collection_finish(self, session: Any) -> None:
        self.collected = [item.nodeid for item in session.items]

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.when == "call" and report.passed:
            self.passed.append(report.nodeid)
        elif report.failed:
            self.failed.append(report.nodeid)


def _pytest(arguments: list[str]) -> tuple[int, _Outcomes]:
    import pytest

    outcomes = _Outcomes()
    code = pytest.main(arguments, plugins=[outcomes])
    return int(code), outcomes


def pytest_runs(options: list[str], path: str) -> None:
    _, listing = _pytest(["--collect-only", *options, path])
    tests = listing.collected
    code, reverse = _pytest([*options, *reversed(tests)])
    report(run="reversed", tests=tests, code=code, passed=reverse.passed, failed=reverse.failed)
    for test in tests:
        code, alone = _pytest([*options, test])
        report(run="alone", tests=[test], code=code, passed=alone.passed, failed=alone.failed)


if __name__ == "__main__":
    kind, *rest = sys.argv[1:]
    if kind == "django":
        django_runs(*rest)
    else:
        split = rest.index("--")
        pytest_runs(rest[:split], *rest[split + 1 :])
