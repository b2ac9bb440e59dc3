"""Under djangoes.test.DiscoverRunner the same Document calls hit test_<NAME> indices."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from djangoes import connections
from djangoes.test import create_test_indices

# Their child runs use the same test names (test_<NAME>, test_<NAME>_<worker>): under
# pytest-xdist both go to one worker, one after the other.
pytestmark = pytest.mark.xdist_group("django-runner-children")

ROOT = Path(__file__).resolve().parent.parent
LIVE = ["djangoes_products", "djangoes_products_read", "djangoes_articles"]


def run_django_tests(tmp_path, *extra):
    report = tmp_path / "report.jsonl"
    db = tmp_path / "db.sqlite3"
    env = {
        **os.environ,
        "DJANGOES_RUNNER_REPORT": str(report),
        "DJANGOES_RUNNER_DB": str(db),
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-m", "django", "test", "tests.runner_cases",
         "--settings=tests.runner_settings", "-v", "2", *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    # This run's names only: under pytest-xdist other workers hold test_<NAME>_gw<N>.
    run_names = re.compile(r"test_djangoes_(products|articles)(_\d+)?")
    found = existing("test_djangoes_products*,test_djangoes_articles*")
    leftovers = [name for name in found if run_names.fullmatch(name)]
    # The child deleted the test indices this session also uses: make them anew.
    create_test_indices()
    assert result.returncode == 0, result.stdout + result.stderr
    return [json.loads(line) for line in report.read_text().splitlines()], leftovers


def existing(pattern):
    client = connections["default"].client
    return sorted(client.indices.get(index=pattern, allow_no_indices=True, ignore_unavailable=True))


@pytest.fixture(autouse=True)
def no_live_indices():
    client = connections["default"].client
    for name in LIVE:
        assert not client.indices.exists(index=name), f"{name} exists before the run"
    yield
    for name in LIVE:
        assert not client.indices.exists(index=name), f"the run created the live {name}"


def test_runner_uses_test_indices_and_removes_them(tmp_path):
    records, leftovers = run_django_tests(tmp_path)

    by_case = {r["case"]: r for r in records}
    assert by_case["product"]["write"] == "test_djangoes_products"
    assert by_case["product"]["read"] == "test_djangoes_products_read"
    assert by_case["product"]["hit_index"] == "test_djangoes_products"
    assert by_case["article"]["write"] == "test_djangoes_articles"
    assert all(r["test_mode"] for r in records)
    assert leftovers == []


def test_parallel_workers_use_their_own_indices(tmp_path):
    records, leftovers = run_django_tests(tmp_path, "--parallel", "2")

    assert len(records) == 2
    # Every worker writes to its own suffixed names; a worker may run both classes.
    suffix_of_pid = {}
    for r in records:
        match = re.fullmatch(r"test_djangoes_(products|articles)_(\d+)", r["write"])
        assert match, r["write"]
        assert suffix_of_pid.setdefault(r["pid"], match[2]) == match[2]
    assert len(set(suffix_of_pid.values())) == len(suffix_of_pid)
    assert leftovers == []
