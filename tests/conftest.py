"""Suite-wide set-up: the suite needs a real Elasticsearch node and says which one it used."""

from __future__ import annotations

import importlib.metadata
import json
import os
import urllib.error
import urllib.request

import elasticsearch
import pytest

from tests.settings import DATABASES, ES_URL

# Run in a child `django test` process by test_dsl_runner.py, not by pytest.
collect_ignore = ["runner_cases", "isolation_cases", "interrupted_cases"]

HOW_TO_START = (
    "Start one with 'scripts/es-node start' (it prints the URL) and export "
    "DJANGOES_TEST_URL=<that URL>, or run the whole suite with 'scripts/test'."
)


def node_version(url: str) -> str:
    """Return the version of the node at ``url``; raise OSError if it does not answer."""
    request = urllib.request.Request(f"{url}/_nodes/_local?filter_path=nodes.*.version")
    with urllib.request.urlopen(request, timeout=10) as response:
        nodes = json.load(response)["nodes"]
    return next(iter(nodes.values()))["version"]


def pytest_configure(config: pytest.Config) -> None:
    require_xdist_groups(config)
    if config.option.help or getattr(config.option, "collectonly", False):
        return
    try:
        version = node_version(ES_URL)
    except (OSError, urllib.error.URLError, KeyError, ValueError) as exc:
        pytest.exit(
            f"No Elasticsearch node answers at {ES_URL} ({exc}). The suite runs against a "
            f"real node and does not skip. {HOW_TO_START}",
            returncode=3,
        )
    config.stash[_VERSION] = version


_VERSION = pytest.StashKey[str]()


def pytest_report_header(config: pytest.Config) -> list[str]:
    version = config.stash.get(_VERSION, "unknown")
    client = elasticsearch.__versionstr__
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    database = DATABASES["default"]
    lines = [
        f"elasticsearch server {version} at {ES_URL}; elasticsearch-py client {client}",
        f"database: {database['ENGINE'].rsplit('.', 1)[-1]} {database['NAME']}",
    ]
    if workers:
        lines.append(f"xdist workers: {workers}")
    return lines


# Under pytest-xdist (--dist loadgroup, as noxfile.py runs the suite), tests that share one
# service of their own (the fault node, the three-node cluster, the task workers and their
# broker) run one after another on one worker, and the tests of a class stay together on one
# worker, as Django's --parallel keeps a TestCase class in one process; everything else is
# spread over the workers, each with its own test indices.
SERIAL_MARKERS = ("faults", "cluster", "workers")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own, which reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.get_closest_marker(name) for name in SERIAL_MARKERS):
            item.add_marker(pytest.mark.xdist_group("services"))
        elif getattr(item, "cls", None) is not None:
            cls = item.cls  # type: ignore[attr-defined]
            item.add_marker(pytest.mark.xdist_group(f"{cls.__module__}.{cls.__qualname__}"))


def require_xdist_groups(config: pytest.Config) -> None:
    """Refuse to run when pytest-xdist's --dist loadgroup could not keep a group together: it
    adds the group to a test's id (``Item._nodeid``), which pytest 9.2 no longer reads, and the
    tests of one service would then run at once on both workers and fail at random."""
    if getattr(config.option, "dist", None) != "loadgroup" or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    probe = object.__new__(pytest.Function)
    probe._nodeid = "probe@group"  # what pytest-xdist's worker does to a grouped test
    try:
        grouped = probe.nodeid == "probe@group"
    except AttributeError:
        grouped = False
    if not grouped:
        raise pytest.UsageError(
            f"pytest-xdist {importlib.metadata.version('pytest-xdist')} cannot group tests under "
            f"pytest {pytest.__version__} (--dist loadgroup): install the versions the 'test' "
            "extra of pyproject.toml allows (pip install -e '.[test]')."
        )


@pytest.fixture
def broken_product_mapping():
    """During the test every product document fails to index ('sku' becomes a long); the
    index is made anew as declared after it."""
    from tests.apps.shop.search_indices import ProductDocument
    from tests.indexing_utils import broken_mapping

    with broken_mapping(ProductDocument):
        yield


# -- queued delivery with real task workers (tests/workers.py) --------------------------------


@pytest.fixture(scope="module", params=["django_tasks", "celery"])
def task_worker(request: pytest.FixtureRequest, django_db_setup: None):
    """A real worker of each task engine, delivering to the suite's node, for a module."""
    yield from running_worker(request)


def running_worker(request: pytest.FixtureRequest, extra_env: dict[str, str] | None = None):
    """Start a worker of the engine ``request.param`` (with more environment); yield it and
    stop it (a module's ``task_worker`` fixture)."""
    from tests import workers

    if request.param == workers.CELERY:
        workers.require_redis()
        workers.flush_broker()
        import tests.celery_app  # noqa: F401  # the app the web process enqueues to
    worker = workers.TaskWorker(
        request.param, ES_URL, name=f"{request.module.__name__}", extra_env=extra_env or {}
    )
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def queued(task_worker):
    """Queued delivery to ``task_worker``'s engine for one test; the test's operations are
    all delivered before its data goes."""
    from django.test import override_settings

    from tests import indexing_utils, workers
    from tests.indexing_utils import delivered

    overrides: dict = {
        "DJANGOES_DELIVERY": task_worker.engine,
        "DJANGOES_OUTBOX_CLAIM_LEASE": workers.TEST_CLAIM_LEASE,
    }
    if task_worker.engine == workers.DJANGO_TASKS:
        overrides["TASKS"] = workers.tasks_settings()
    with override_settings(**overrides):
        indexing_utils.workers_deliver = True
        try:
            yield task_worker
        finally:
            indexing_utils.workers_deliver = False
        try:
            workers.wait_for(delivered, "the worker to deliver the outbox", timeout=60)
        except AssertionError:
            raise AssertionError(
                f"{task_worker.engine} worker log:\n{task_worker.tail()}"
            ) from None


@pytest.fixture(scope="session")
def fault_node():
    """The fault suite's own node (tests/faults.py), started once, stopped by its PID."""
    from tests.faults import start_fault_node

    node = start_fault_node()
    yield node
    node.stop()
