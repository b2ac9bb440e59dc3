"""Tests like Django's database tests: what a test indexes is visible in it and gone after it.

The first part runs here, in the suite's session. The second runs the modules written the
way the Django and pytest-django docs teach (tests/test_search_in_tests.py and
tests/isolation_cases) in child processes — in parallel, shuffled, reversed, one test at a
time — and the keepdb / reuse-db lifecycles, with index names of their own
(tests/isolation_settings.py).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import unittest
import uuid
from pathlib import Path

import elasticsearch
import pytest
from django.db import connection as db_connection
from django.db import transaction
from django.test import TestCase

from djangoes import connections
from djangoes.test import TestScope, create_test_indices, keep_documents
from djangoes.test import runner as djangoes_runner
from djangoes.transactions import waits_for_commit
from tests.alone import parse
from tests.apps.shop.models import Product
from tests.apps.shop.search_indices import ProductDocument
from tests.indexing_utils import count_requests
from tests.settings import ES_URL

ROOT = Path(__file__).resolve().parent.parent


def titles(text: str = "") -> list[str]:
    search = ProductDocument.search()
    if text:
        search = search.query("match", title=text)
    return sorted(hit.title for hit in search[:100].execute())


def ids() -> list[str]:
    backend = connections["default"]
    response = backend.search(index=ProductDocument.get_read_index(), size=100)
    return sorted(hit["_id"] for hit in response["hits"]["hits"])


# -- in this session -------------------------------------------------------------------------


def test_a_write_is_searchable_at_once_without_a_refresh():
    backend = connections["default"]
    name = ProductDocument.get_index_name()
    backend.index(index=name, id="w1", document={"title": "written"})
    assert backend.count(index=name)["count"] == 1
    assert ids() == ["w1"]


@pytest.mark.django_db
def test_the_test_transaction_is_the_commit_boundary_only_under_test_names():
    assert not waits_for_commit(db_connection)  # only the test's own blocks are open
    with transaction.atomic():
        assert waits_for_commit(db_connection)  # a block of the code under test
    previous = connections.use_test_settings(False)
    try:
        # Test names off: the test's transaction is a transaction like any other.
        assert waits_for_commit(db_connection)
        with count_requests(ProductDocument) as requests:
            Product.objects.create(sku="OFF-1", title="Not sent")
        assert requests.paths == []  # waiting for a commit that never comes
    finally:
        connections.use_test_settings(*previous)


@pytest.mark.django_db
def test_a_save_in_a_test_transaction_is_one_bulk_request():
    with count_requests(ProductDocument) as requests:
        Product.objects.create(sku="ONE-1", title="One request")
    assert requests.count("_bulk") == 1
    assert titles("request") == ["One request"]


def test_scopes_undo_what_they_wrote_or_hand_it_on():
    backend = connections["default"]
    name = ProductDocument.get_index_name()
    with TestScope("outer"):
        backend.index(index=name, id="outer", document={"title": "outer"})
        with TestScope("kept", keep=True):
            backend.index(index=name, id="kept", document={"title": "kept"})
        assert ids() == ["kept", "outer"]
        with TestScope("undone"):
            backend.index(index=name, id="undone", document={"title": "undone"})
            backend.index(index=name, id="outer", document={"title": "changed"})
            backend.delete(index=name, id="kept")
            assert ids() == ["outer", "undone"]
        assert ids() == ["kept", "outer"]
        assert backend.get(index=name, id="outer")["_source"] == {"title": "outer"}
    assert ids() == []


class ClassDocumentsTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.lamp = Product.objects.create(sku="LAMP-5", title="Desk lamp")

    def test_1_recreating_the_index_empties_it(self):
        create_test_indices()
        self.assertEqual(titles(), [])

    def test_2_the_class_documents_are_back(self):
        self.assertEqual(titles(), ["Desk lamp"])


@pytest.mark.django_db(transaction=True)
def test_what_a_kept_test_wrote_stays_for_the_rest_of_its_class():
    """A class of two tests run in this order by the runner's own result and scopes: what
    the first (``@keep_documents``) wrote is there in the second and gone after the class."""
    seen: dict[str, list[str]] = {}

    class Kept(TestCase):
        @keep_documents
        def test_1_kept(self):
            Product.objects.create(sku="KEPT-5", title="Kept stool")

        def test_2_sees_it(self):
            seen["in the class"] = titles("stool")

    suite = unittest.TestSuite([Kept("test_1_kept"), Kept("test_2_sees_it")])
    result = djangoes_runner.scoped_result_class(unittest.TestResult)()
    with djangoes_runner.test_scopes():
        suite.run(result)
    assert result.wasSuccessful(), result.errors + result.failures
    assert result.testsRun == 2
    assert seen["in the class"] == ["Kept stool"]
    assert titles("stool") == []


# -- in child processes ----------------------------------------------------------------------


class Child:
    """Runs of the suite's test modules against index names of their own."""

    def __init__(self, tmp_path: Path) -> None:
        self.tag = f"iso{uuid.uuid4().hex[:8]}"
        self.tmp_path = tmp_path
        self.client = elasticsearch.Elasticsearch(ES_URL)
        self.products = f"{self.tag}_djangoes_products"

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "DJANGOES_ISOLATION_TAG": self.tag,
            "DJANGOES_RUNNER_DB": str(self.tmp_path / "db.sqlite3"),
            "PYTHONPATH": str(ROOT),
        }
        for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_ADDOPTS"):
            env.pop(name, None)
        return env

    def run(self, *command: str, returncode: int = 0) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", *command],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == returncode, result.stdout + result.stderr
        return result

    def django(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("django", "test", *args, "--settings=tests.isolation_settings", "--noinput")

    def pytest(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(
            "pytest", "--ds=tests.isolation_settings", "-p", "no:cacheprovider", "-q", *args
        )

    def indices(self) -> list[str]:
        found = self.client.indices.get(
            index=f"{self.tag}_*", ignore_unavailable=True, allow_no_indices=True
        )
        return sorted(found.body)

    def documents(self) -> int:
        """Return how many documents the kept test indices hold (refreshed first: this client
        is not one of ``connections``)."""
        self.client.indices.refresh(index=f"{self.tag}_*")
        return self.client.count(index=f"{self.tag}_*")["count"]

    def leftover(self, mappings: dict | None = None) -> None:
        """Leave a products test index as a crashed run would (with ``mappings``)."""
        self.client.indices.create(index=self.products, mappings=mappings)

    def cleanup(self) -> None:
        self.client.indices.delete(
            index=f"{self.tag}_*", ignore_unavailable=True, allow_no_indices=True
        )
        self.client.close()


@pytest.fixture
def child(tmp_path):
    child = Child(tmp_path)
    yield child
    child.cleanup()


PYTEST_MODULE = "tests/test_search_in_tests.py"
DJANGO_CASES = "tests.isolation_cases"
#: A test that writes documents and kills its own process (tests/interrupted_cases).
INTERRUPTED = "tests.interrupted_cases"
KILLED = -signal.SIGKILL


def test_the_pytest_module_passes_under_xdist(child):
    result = child.pytest("-n", "2", PYTEST_MODULE)
    assert re.search(r"\b11 passed\b", result.stdout), result.stdout
    assert child.indices() == []


def test_the_pytest_module_passes_in_reverse_order_and_test_by_test(child):
    # One child process (tests/alone.py): the module's tests in reverse order, then each in
    # a run of its own, every run with the indices kept from the run before.
    result = child.run(
        "tests.alone", "pytest", "--ds=tests.isolation_settings", "-p", "no:cacheprovider",
        "-q", "--reuse-db", "--", PYTEST_MODULE,
    )  # fmt: skip
    reverse, *alone = parse(result.stdout)
    tests = reverse["tests"]
    assert len(tests) == 11
    assert (reverse["code"], reverse["failed"]) == (0, [])
    # (pytest-django runs TestCase tests before transactional ones, whatever the order given)
    assert sorted(reverse["passed"]) == sorted(tests)
    assert [run["tests"] for run in alone] == [[test] for test in tests]
    for run in alone:  # the indices kept from the run before are empty again
        assert (run["code"], run["passed"], run["failed"]) == (0, run["tests"], []), run
    assert child.documents() == 0


def test_the_django_cases_pass_in_parallel_shuffled_reversed_and_alone(child):
    for options in (["--parallel", "2", "--shuffle", "1"], ["--shuffle", "2"]):
        result = child.django(DJANGO_CASES, *options)
        assert "Ran 9 tests" in result.stderr, options
        assert re.search(r"\bOK\b", result.stderr), options
    # One child process (tests/alone.py): the cases in reverse order, then each in a run of
    # its own with --keepdb.
    result = child.run("tests.alone", "django", "--settings=tests.isolation_settings", DJANGO_CASES)
    reverse, *alone = parse(result.stdout)
    tests = reverse["tests"]
    assert len(tests) == 9
    assert all(test.startswith(f"{DJANGO_CASES}.") for test in tests)
    assert (reverse["ran"], reverse["failed"]) == (9, [])
    assert [run["tests"] for run in alone] == [[test] for test in tests]
    for run in alone:  # the indices kept from the run before are empty again
        assert (run["ran"], run["failed"]) == (1, []), run
    assert child.documents() == 0


# -- keepdb / reuse-db -----------------------------------------------------------------------


def test_keepdb_keeps_the_test_indices_and_recreates_one_that_no_longer_matches(child):
    first = child.django(DJANGO_CASES, "--keepdb")
    assert f"Creating test index '{child.products}' for alias 'default'..." in first.stderr
    assert f"Preserving test index '{child.products}' for alias 'default'..." in first.stderr
    assert child.indices() == [f"{child.tag}_djangoes_articles", child.products]

    second = child.django(DJANGO_CASES, "--keepdb", "--parallel", "2")
    assert f"Using existing test index '{child.products}' for alias 'default'..." in second.stderr
    assert "Creating test index" not in second.stderr.replace("_1'", "").replace("_2'", "")

    child.client.indices.delete(index=child.products)
    child.leftover({"properties": {"title": {"type": "keyword"}}})
    third = child.django(DJANGO_CASES, "--keepdb")
    assert (
        f"Recreating test index '{child.products}' for alias 'default': it no longer matches "
        f"its declaration (field "
    ) in third.stderr
    mapping = child.client.indices.get_mapping(index=child.products)
    assert mapping[child.products]["mappings"]["properties"]["title"]["type"] == "text"


def test_a_run_killed_midway_leaves_the_next_kept_run_an_empty_index(child):
    child.django(f"{DJANGO_CASES}.test_catalogue.NoDatabaseTests", "--keepdb")  # kept, empty
    child.run(
        "django", "test", INTERRUPTED, "--keepdb", "--settings=tests.isolation_settings",
        "--noinput", returncode=KILLED,
    )  # fmt: skip
    assert child.documents() == 2  # the class's row and the test's, never undone

    result = child.django(f"{DJANGO_CASES}.test_catalogue.NoDatabaseTests", "--keepdb")
    assert (
        f"Recreating test index '{child.products}' for alias 'default': it holds 2 documents "
        f"of an earlier run that stopped before undoing them..."
    ) in result.stderr
    assert child.documents() == 0


def test_without_keepdb_a_leftover_index_is_replaced_with_a_message(child):
    child.leftover({"properties": {"title": {"type": "keyword"}}})
    child.client.index(index=child.products, id="stale", document={"title": "stale"})
    result = child.django(DJANGO_CASES)
    assert (
        f"Got an error creating the test index: index '{child.products}' already exists "
        f"(left by an earlier run)."
    ) in result.stderr
    assert f"Destroying old test index '{child.products}' for alias 'default'..." in result.stderr
    assert child.indices() == []


def test_reuse_db_keeps_the_test_indices_and_checks_them(child):
    def run(*args: str) -> str:
        result = child.pytest(*args, PYTEST_MODULE)
        assert "11 passed" in result.stdout
        return result.stdout + result.stderr

    first = run("--reuse-db", "-vv")  # -q -vv: verbosity 1
    assert f"Creating test index '{child.products}' for alias 'default'..." in first
    assert child.indices() == [f"{child.tag}_djangoes_articles", child.products]

    second = run("--reuse-db", "-vv")
    assert f"Using existing test index '{child.products}' for alias 'default'..." in second

    child.client.indices.delete(index=child.products)
    child.leftover({"properties": {"title": {"type": "keyword"}}})
    third = run("--reuse-db")  # said at any verbosity
    assert f"Recreating test index '{child.products}' for alias 'default'" in third

    fourth = run("--reuse-db", "--create-db", "-vv")
    assert f"Creating test index '{child.products}' for alias 'default'..." in fourth
    assert "Using existing" not in fourth
