"""What per-test isolation of index contents costs: N small tests, with and without it.

    python -m tests.benchmarks.isolation [--tests 200] [--runs 3]   (DJANGOES_TEST_URL: the node)

Writes a module of N pytest-django tests (each saves a row, which is indexed at once, and
finds it with a search) and runs it in child pytest sessions, alternately with
``DJANGOES_TEST_ISOLATION`` on and off (the refresh before a search happens in both), on the
suite's settings with index names of their own (tests/isolation_settings.py). Prints the
session times of each (the fastest is the least disturbed by other load on the machine), and
the time spent in the cleanup itself (``Journal.pop``, timed in the sessions with isolation).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

MODULE = """
import pytest

from tests.apps.shop.models import Product
from tests.apps.shop.search_indices import ProductDocument

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("n", range({tests}))
def test_save_and_find(n):
    Product.objects.create(sku=f"SKU-{{n}}", title=f"item{{n}} lamp")
    hits = ProductDocument.search().query("match", title=f"item{{n}}").execute()
    assert [hit.sku for hit in hits] == [f"SKU-{{n}}"]
"""


# Loaded in the child sessions: time every cleanup (Journal.pop) and report the sum.
CONFTEST = """
import time

from djangoes.test import journal

spent = [0.0]
original = journal.Journal.pop


def timed_pop(self, scope, keep=False):
    start = time.perf_counter()
    try:
        return original(self, scope, keep)
    finally:
        spent[0] += time.perf_counter() - start


journal.Journal.pop = timed_pop


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(f"cleanup seconds: {spent[0]:.3f}")
"""


def session(directory: Path, isolation: bool) -> tuple[float, float]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGOES_ISOLATION_TAG": f"bench{uuid.uuid4().hex[:8]}",
        "DJANGOES_RUNNER_DB": str(directory / "db.sqlite3"),
        "DJANGOES_TEST_ISOLATION": "1" if isolation else "0",
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--ds=tests.isolation_settings", "test_many.py"],
        cwd=directory, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    match = re.search(r"(\d+) passed in ([\d.]+)s", done.stdout)
    cleanup = re.search(r"cleanup seconds: ([\d.]+)", done.stdout)
    if done.returncode or not match or not cleanup:
        raise SystemExit(f"the benchmark session failed:\n{done.stdout[-3000:]}{done.stderr}")
    return float(match[2]), float(cleanup[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        (directory / "test_many.py").write_text(MODULE.format(tests=args.tests))
        (directory / "pytest.ini").write_text("[pytest]\n")
        (directory / "conftest.py").write_text(CONFTEST)
        times: dict[bool, list[float]] = {True: [], False: []}
        cleanup: list[float] = []
        for _ in range(args.runs):
            for isolation in (False, True):
                took, spent = session(directory, isolation)
                times[isolation].append(took)
                if isolation:
                    cleanup.append(spent)
    without, with_ = min(times[False]), min(times[True])
    print(f"{args.tests} tests, {args.runs} sessions each (seconds per session):")
    print(
        f"  without isolation: fastest {without:.2f}  median "
        f"{statistics.median(times[False]):.2f}  all {times[False]}"
    )
    print(
        f"  with isolation:    fastest {with_:.2f}  median "
        f"{statistics.median(times[True]):.2f}  all {times[True]}"
    )
    print(f"  fastest against fastest: {100 * (with_ - without) / without:+.1f}%")
    spent = statistics.median(cleanup)
    print(
        f"  time in the cleanup: median {spent:.2f} s per session "
        f"({1000 * spent / args.tests:.1f} ms per test, "
        f"{100 * spent / without:.1f}% of the fastest session without isolation)"
    )


if __name__ == "__main__":
    main()
