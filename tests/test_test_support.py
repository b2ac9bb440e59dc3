"""The DiscoverRunner, the test case classes and the pytest plugin, each run for real.

A throwaway Django project is written to a temporary directory and tested in a child process
(``python -m django test`` or ``python -m pytest``). Its indices have their own names, so the
child's creation and deletion of test indices cannot disturb this suite.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import elasticsearch
import pytest

from tests.settings import ES_URL

ANALYZER = {"type": "custom", "tokenizer": "standard", "filter": ["lowercase"]}

SETTINGS = """
import os

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET_KEY = "throwaway"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
DATABASES = {{
    "default": {{
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.path.join(HERE, "db.sqlite3"),
        "TEST": {{"NAME": os.path.join(HERE, "test_db.sqlite3")}},
    }}
}}
INSTALLED_APPS = ["django.contrib.contenttypes"]
TEST_RUNNER = "djangoes.test.DiscoverRunner"
ES_SERVERS = {{"default": {{"HOSTS": [{url!r}], "INDICES": ["catalog", "journal"]}}}}
ES_INDICES = {{
    "catalog": {{
        "NAME": "tp_catalog_{tag}",
        "ALIASES": ["tp_catalog_read_{tag}"],
        "SETTINGS": {{
            "number_of_shards": 1,
            "number_of_replicas": 0,
            "analysis": {{"analyzer": {{"tp_text": {analyzer!r}}}}},
        }},
    }},
    "journal": {{"NAME": "tp_journal_{tag}", "SETTINGS": {{"number_of_replicas": 0}}}},
}}
"""

CASES = """
import json
import os

from django import test

from djangoes import LiveIndexWriteError, connections
from djangoes import test as es_test


def record(case):
    backend = connections["default"]
    client = backend.client
    name = backend.index_names[0]
    settings = client.indices.get_settings(index=name)[name]["settings"]["index"]
    tokens = client.indices.analyze(index=name, analyzer="tp_text", text="Hello WORLD")
    backend.index(index=name, id=case, document={"title": case}, refresh=True)
    try:
        client.index(index=connections.indices["catalog"]["NAME"], document={"leak": True})
        guarded = False
    except LiveIndexWriteError:
        guarded = True
    data = {
        "case": case,
        "pid": os.getpid(),
        "test_mode": connections.test_mode,
        "names": backend.index_names,
        "aliases": backend.alias_names,
        "server_aliases": sorted(client.indices.get_alias(index=name)[name]["aliases"]),
        "analyzer": settings["analysis"]["analyzer"]["tp_text"],
        "shards": settings["number_of_shards"],
        "tokens": [token["token"] for token in tokens["tokens"]],
        "count": backend.count(index=name)["count"],
        "guarded": guarded,
    }
    with open(os.environ["TP_REPORT"], "a") as report:
        report.write(json.dumps(data) + "\\n")


class MixinCase(es_test.TestCase):
    def test_class_indices(self):
        record("mixin_testcase")


class MixinTransactionCase(es_test.TransactionTestCase):
    def test_class_indices(self):
        record("mixin_transaction")


class MixinSimpleCase(es_test.SimpleTestCase):
    def test_class_indices(self):
        record("mixin_simple")


class PlainCase(test.SimpleTestCase):
    def test_plain(self):
        record("plain")


class OtherPlainCase(test.SimpleTestCase):
    def test_other(self):
        record("other_plain")
"""


class Project:
    """A throwaway Django project with uniquely named indices on the suite's node."""

    def __init__(self, root: Path, url: str = ES_URL) -> None:
        self.root = root
        self.tag = uuid.uuid4().hex[:8]
        self.live = f"tp_catalog_{self.tag}"
        self.report = root / "report.jsonl"
        settings = SETTINGS.format(url=url, tag=self.tag, analyzer=ANALYZER)
        (root / "tp_settings.py").write_text(settings)
        (root / "tp_cases.py").write_text(CASES)
        (root / "test_tp.py").write_text("from tp_cases import *  # noqa: F403\n")
        (root / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
        self.client = elasticsearch.Elasticsearch(ES_URL)

    def run(self, *command: str, returncode: int = 0) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "PYTHONPATH": str(self.root),
            "DJANGO_SETTINGS_MODULE": "tp_settings",
            "TP_REPORT": str(self.report),
        }
        env.pop("PYTEST_XDIST_WORKER", None)
        env.pop("PYTEST_XDIST_WORKER_COUNT", None)
        result = subprocess.run(
            [sys.executable, "-m", *command],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == returncode, result.stdout + result.stderr
        return result

    def records(self) -> dict[str, dict]:
        lines = self.report.read_text().splitlines()
        return {record["case"]: record for record in map(json.loads, lines)}

    def existing(self) -> list[str]:
        found = self.client.indices.get(
            index=f"*{self.tag}*", ignore_unavailable=True, allow_no_indices=True
        )
        return sorted(found.body)

    def cleanup(self) -> None:
        self.client.indices.delete(
            index=f"*{self.tag}*", ignore_unavailable=True, allow_no_indices=True
        )
        self.client.close()


@pytest.fixture
def project(tmp_path):
    project = Project(tmp_path)
    # A live index with a document: the runs must leave it exactly as it is.
    project.client.indices.create(index=project.live)
    project.client.index(index=project.live, id="live", document={"title": "live"}, refresh=True)
    yield project
    project.cleanup()


def assert_live_untouched(project: Project) -> None:
    assert project.existing() == [project.live]  # every test index is gone
    hits = project.client.search(index=project.live)["hits"]["hits"]
    assert [hit["_id"] for hit in hits] == ["live"]
    assert (
        project.client.indices.get_settings(index=project.live)[project.live]["settings"][
            "index"
        ].get("analysis")
        is None
    )


def assert_test_index(record: dict, project: Project, suffix: str = "") -> None:
    assert record["test_mode"] is True
    assert record["names"] == [f"test_tp_catalog_{project.tag}{suffix}",
                               f"test_tp_journal_{project.tag}{suffix}"]  # fmt: skip
    assert record["aliases"] == [f"test_tp_catalog_read_{project.tag}{suffix}"]
    assert record["server_aliases"] == record["aliases"]  # created with its ALIASES
    assert record["analyzer"] == ANALYZER  # created with its analysis SETTINGS
    assert record["shards"] == "1"
    assert record["tokens"] == ["hello", "world"]
    assert record["guarded"] is True


# -- the Django test runner ------------------------------------------------------------------


def test_discover_runner_creates_and_deletes_test_indices(project):
    result = project.run("django", "test", "tp_cases", "-v", "2")
    records = project.records()
    assert set(records) == {
        "mixin_testcase", "mixin_transaction", "mixin_simple", "plain", "other_plain"
    }  # fmt: skip
    for record in records.values():
        assert_test_index(record, project)
    # Every test, of a djangoes class or a plain one, finds its own document and nothing
    # of the tests before it: each test's documents are undone after it.
    for case, record in records.items():
        assert record["count"] == 1, case
    assert "Ran 5 tests" in result.stderr
    assert_live_untouched(project)


def test_discover_runner_in_parallel_gives_each_worker_its_indices(project):
    project.run("django", "test", "tp_cases", "--parallel", "2")
    records = project.records()
    assert len(records) == 5
    pids = {record["pid"] for record in records.values()}
    assert len(pids) == 2
    suffixes = {record["names"][0].rsplit("_", 1)[1] for record in records.values()}
    assert suffixes == {"1", "2"}
    for record in records.values():
        assert_test_index(record, project, suffix="_" + record["names"][0].rsplit("_", 1)[1])
    assert_live_untouched(project)


def test_the_test_case_classes_alone_create_and_delete_their_indices(project):
    # The plain Django runner: only djangoes' test case classes switch and create.
    project.run(
        "django", "test", "tp_cases.MixinCase", "tp_cases.MixinTransactionCase",
        "tp_cases.MixinSimpleCase", "--testrunner", "django.test.runner.DiscoverRunner",
    )  # fmt: skip
    records = project.records()
    assert set(records) == {"mixin_testcase", "mixin_transaction", "mixin_simple"}
    for record in records.values():
        assert_test_index(record, project)
        assert record["count"] == 1  # fresh, empty indices per class
    assert_live_untouched(project)


# -- the pytest plugin -----------------------------------------------------------------------


def test_pytest_plugin_creates_and_deletes_test_indices(project):
    result = project.run("pytest", "-v", "test_tp.py")
    assert "5 passed" in result.stdout
    records = project.records()
    assert len(records) == 5
    for record in records.values():
        assert_test_index(record, project)
    # Each test finds only its own document: those of the tests before it were undone.
    for case, record in records.items():
        assert record["count"] == 1, case
    assert_live_untouched(project)


def test_pytest_plugin_under_xdist_gives_each_worker_its_indices(project):
    result = project.run("pytest", "-n", "2", "test_tp.py")
    assert "5 passed" in result.stdout
    records = project.records()
    assert len({record["pid"] for record in records.values()}) == 2
    suffixes = {record["names"][0].rsplit("_", 1)[1] for record in records.values()}
    assert suffixes == {"gw0", "gw1"}
    for record in records.values():
        assert_test_index(record, project, suffix="_" + record["names"][0].rsplit("_", 1)[1])
    assert_live_untouched(project)


def test_pytest_plugin_can_be_disabled(project):
    project.root.joinpath("test_off.py").write_text(
        textwrap.dedent(
            """
            from djangoes import connections

            def test_live_names():
                assert not connections.test_mode
                assert connections["default"].index_names[0].startswith("tp_catalog_")
            """
        )
    )
    result = project.run("pytest", "-p", "no:djangoes", "test_off.py")
    assert "1 passed" in result.stdout
    assert_live_untouched(project)


# -- Elasticsearch down when the tests start -------------------------------------------------


@pytest.fixture
def unreachable_project(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    project = Project(tmp_path, url=f"http://127.0.0.1:{port}")
    yield project
    project.client.close()


@pytest.mark.parametrize(
    "command",
    [("django", "test", "tp_cases"), ("pytest", "test_tp.py"), ("pytest", "-n", "2", "test_tp.py")],
    ids=["runner", "pytest", "pytest-xdist"],
)
def test_a_node_that_is_down_fails_the_run_once_early_with_the_fix(unreachable_project, command):
    # As Django does when the test database cannot be created: one message, exit status 2,
    # no test run, not a traceback per test.
    result = unreachable_project.run(*command, returncode=2)
    output = result.stdout + result.stderr
    assert "Got an error creating the test indices" in output
    assert "Is Elasticsearch running? Start a local node with 'scripts/es-node start'" in output
    assert output.count("Is Elasticsearch running?") <= 2  # xdist: the worker's, then the end
    assert "passed" not in output
    assert "Ran " not in output
    assert len(output.splitlines()) < 60, output
