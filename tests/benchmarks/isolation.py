"""What per-test isolation of index contents costs: N small tests, with and without it.

    python -m tests.benchmarks.isolation [--tests 200] [--runs 3]   (DJANGOES_TEST_URL: the node)

Writes a module of N pytest-django tests (each saves a row, which is indexed at once, and
finds it with a search) and runs it in child pytest sessions, alternately with
``DJANGOES_TEST_ISOLATION`` on and off (the refresh before a search happens in both), on the
suite's settings with index names of their own (tests/isolation_settings.py). Prints the
session times of each, their fastest (the least disturbed by other load on the machine) and
median, and the overhead.
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


def session(directory: Path, isolation: bool) -> float:
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
    if done.returncode or not match:
        raise SystemExit(f"the benchmark session failed:\n{done.stdout[-3000:]}{done.stderr}")
    return float(match[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        (directory / "test_many.py").write_text(MODULE.format(tests=args.tests))
        (directory / "pytest.ini").write_text("[pytest]\n")
        times: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.runs):
            for isolation in (False, True):
                times[isolation].append(session(directory, isolation))
    print(f"{args.tests} tests, {args.runs} sessions each (seconds per session):")
    for isolation, label in ((False, "without isolation"), (True, "with isolation   ")):
        runs = times[isolation]
        print(
            f"  {label}: fastest {min(runs):.2f}  median {statistics.median(runs):.2f}  all {runs}"
        )
    for name, pick in (("fastest", min), ("median", statistics.median)):
        without, with_ = pick(times[False]), pick(times[True])
        print(f"  overhead ({name} against {name}): {100 * (with_ - without) / without:+.1f}%")


if __name__ == "__main__":
    main()
