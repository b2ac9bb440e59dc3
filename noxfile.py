"""The test matrix: each session installs its own Django and client and runs the suite
against real Elasticsearch nodes started by scripts/es-node, on SQLite or on a PostgreSQL
cluster started by scripts/pg.

Run everything with ``scripts/test``; one session with e.g.
``scripts/test -s "tests(py3.11-django5.2-es8)"``.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from typing import Any

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True

ES8_SERVER = os.environ.get("DJANGOES_ES8_VERSION", "8.19.21")
# The 9.x server of the 9.x client sessions; an empty DJANGOES_ES9_VERSION leaves them out.
ES9_SERVER = os.environ.get("DJANGOES_ES9_VERSION", "9.5.3")
# The nodes of one run take six HTTP ports from DJANGOES_ES_PORT_BASE on (8.x: BASE to BASE+2,
# 9.x: BASE+3 to BASE+5; their transport ports are 100 higher), so checkouts with other bases
# (and DJANGOES_PG_PORT, the PostgreSQL cluster's port) can run at once on one machine.
PORT_BASE = int(os.environ.get("DJANGOES_ES_PORT_BASE", "9200"))
PORTS = {"8": PORT_BASE, "9": PORT_BASE + 3}
PG_PORT = os.environ.get("DJANGOES_PG_PORT", "5433")
# The Redis broker of the Celery tests (scripts/redis), and the three-node cluster's first
# HTTP port (its nodes take CLUSTER_PORT .. CLUSTER_PORT+2; started by the tests themselves).
REDIS_PORT = os.environ.get("DJANGOES_REDIS_PORT", "6380")
CLUSTER_PORT = int(os.environ.get("DJANGOES_CLUSTER_ES_PORT", str(PORT_BASE + 10)))

# Client 9.x only talks to 9.x servers; client 8.x talks to 8.x (and 9.x) servers.
CLIENTS = {
    "8.18": "elasticsearch>=8.18,<8.19",
    "8": "elasticsearch>=8.19,<9",
    "9": "elasticsearch>=9,<10",
}
DJANGO = {"5.2": "Django>=5.2,<6.0", "6.0": "Django>=6.0,<6.1", "6.1": "Django>=6.1,<6.2"}
# The task engines of queued delivery, and the worker of Django's tasks framework:
# django-tasks-db (with the django-tasks backport on 5.2, django.tasks itself from 6.0 on),
# and Celery.
TASK_ENGINES = {
    "5.2": ["django-tasks>=0.12", "django-tasks-db>=0.13", "celery[redis]>=5.4"],
    "6.0": ["django-tasks-db>=0.13", "celery[redis]>=5.4"],
    "6.1": ["django-tasks-db>=0.13", "celery[redis]>=5.4"],
}

MATRIX = [
    nox.param("3.11", "5.2", "8.18", "sqlite", id="py3.11-django5.2-es8.18"),
    nox.param("3.11", "5.2", "8", "sqlite", id="py3.11-django5.2-es8"),
    nox.param("3.12", "6.0", "8", "sqlite", id="py3.12-django6.0-es8"),
    nox.param("3.11", "5.2", "8", "postgres", id="py3.11-django5.2-es8-postgres"),
    nox.param("3.12", "6.0", "8", "postgres", id="py3.12-django6.0-es8-postgres"),
]
if ES9_SERVER:
    MATRIX += [
        nox.param("3.11", "5.2", "9", "sqlite", id="py3.11-django5.2-es9"),
        nox.param("3.12", "6.0", "9", "sqlite", id="py3.12-django6.0-es9"),
        nox.param("3.13", "6.1", "9", "sqlite", id="py3.13-django6.1-es9"),
        nox.param("3.13", "6.1", "9", "postgres", id="py3.13-django6.1-es9-postgres"),
    ]


# The default run (scripts/test, and CI) covers every Django version (5.2, 6.0, 6.1), Python
# (3.11, 3.12, 3.13), client line (8.18, 8.19, 9.x), server line and database at least once,
# with the real task workers (both PostgreSQL sessions) and the three-node cluster (the newest
# PostgreSQL session). Every other session runs by name, e.g.
# ``scripts/test -s "tests(py3.12-django6.0-es9)"``, or all of the suite's with ``-s tests``.
if ES9_SERVER:
    DEFAULT_SESSIONS = [
        "lint",
        "tests(py3.11-django5.2-es8.18)",
        "tests(py3.12-django6.0-es8-postgres)",
        "tests(py3.13-django6.1-es9-postgres)",
        "example(py3.13-django6.1-es9)",
    ]
else:
    DEFAULT_SESSIONS = [
        "lint",
        "tests(py3.11-django5.2-es8.18)",
        "tests(py3.12-django6.0-es8-postgres)",
        "example(py3.11-django5.2-es8)",
    ]
nox.options.sessions = DEFAULT_SESSIONS

# The password of the secured test node: local to this machine, only for the test suite.
SECURE_PASSWORD = "djangoes-test-secret"


def timed(run: Callable[..., None]) -> Callable[..., None]:
    """Note the session's name, outcome and seconds in $DJANGOES_TEST_TIMES (scripts/test
    prints them at the end)."""

    @functools.wraps(run)
    def session(session: nox.Session, **kwargs: Any) -> None:
        began = time.monotonic()
        outcome = "failed"
        try:
            run(session, **kwargs)
            outcome = "passed"
        finally:
            times = os.environ.get("DJANGOES_TEST_TIMES")
            if times:
                with open(times, "a") as out:
                    out.write(f"{session.name} {outcome} {time.monotonic() - began:.0f}\n")

    return session


def start_service(session: nox.Session, script: str, *args: str) -> str:
    """Start (or reuse) a service with its project script and return the URL it prints."""
    out = session.run(f"scripts/{script}", "start", *args, external=True, silent=True)
    return out.strip().splitlines()[-1]


def start_node(session: nox.Session, client: str, offset: int = 0, password: str = "") -> str:
    """Start (or reuse) a node whose version suits ``client`` and return its URL.

    ``offset`` picks another port (a second node); ``password`` turns security on.
    """
    major = "9" if client == "9" else "8"
    version = ES9_SERVER if major == "9" else ES8_SERVER
    args = ["--version", version, "--port", str(PORTS[major] + offset)]
    if password:
        args += ["--password", password]
    return start_service(session, "es-node", *args)


#: The fault suite's own node (started, killed and restarted by the tests themselves).
FAULT_PORT = PORT_BASE + 6


def node_env(session: nox.Session, client: str) -> dict[str, str]:
    """Start the main, a second and a secured node; return the suite's environment."""
    return {
        "DJANGOES_TEST_URL": start_node(session, client),
        "DJANGOES_TEST_URL_2": start_node(session, client, offset=1),
        "DJANGOES_TEST_SECURE_URL": start_node(session, client, 2, SECURE_PASSWORD),
        "DJANGOES_TEST_SECURE_PASSWORD": SECURE_PASSWORD,
        "DJANGOES_FAULT_ES_PORT": str(FAULT_PORT),
    }


@nox.session(python="3.11")
@timed
def lint(session: nox.Session) -> None:
    """ruff (pinned: formatting must not drift between runs) and mypy on both packages."""
    session.install(
        "ruff==0.17.6", "mypy>=1.10", "django-stubs>=5.0", "-e", ".[drf,ninja]", CLIENTS["8"]
    )
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy", "djangoes", "djangoes_dsl")


@nox.session(name="tests")
@nox.parametrize(("python", "django", "client", "database"), MATRIX)
@timed
def tests(session: nox.Session, django: str, client: str, database: str) -> None:
    """The library suite; on SQLite in memory, or on PostgreSQL (the sessions named so).

    The PostgreSQL sessions also run the tests of real task workers (django-tasks-db's
    db_worker, a Celery worker on Redis) and of distributed rebuilds; the three-node cluster
    tests run in the newest one.
    """
    extras = "test,postgres" if database == "postgres" else "test"
    session.install("-e", f".[{extras}]", DJANGO[django], CLIENTS[client], *TASK_ENGINES[django])
    env = node_env(session, client)
    select: list[str] = []
    if database == "postgres":
        env["DJANGOES_TEST_DATABASE_URL"] = start_service(session, "pg", "--port", PG_PORT)
        env["DJANGOES_TEST_REDIS_URL"] = start_service(session, "redis", "--port", REDIS_PORT)
        env["DJANGOES_CLUSTER_ES_PORT"] = str(CLUSTER_PORT)
        if session.name != NEWEST_POSTGRES:
            select = ["-m", "not cluster"]
    else:
        # Tests of several processes sharing one database (task workers included) need
        # PostgreSQL: they run in the PostgreSQL sessions and are left out here, explicitly.
        # So does the fault suite, to keep the default run short (it runs on SQLite with
        # -- -m "faults and not postgres").
        select = ["-m", "not postgres and not faults"]
    # Two pytest-xdist workers, each with its own test indices and test database; the tests of
    # a class stay on one worker, and the tests that share a service of their own (the fault
    # node, the cluster, the task workers and their broker) run one after another on one
    # worker (tests/conftest.py).
    select += ["-n", "2", "--dist", "loadgroup"]
    session.run("python", "-m", "pytest", *select, *session.posargs, env=env)


NEWEST_POSTGRES = (
    "tests(py3.13-django6.1-es9-postgres)" if ES9_SERVER else "tests(py3.12-django6.0-es8-postgres)"
)


EXAMPLE_MATRIX = [nox.param("3.11", "5.2", "8", id="py3.11-django5.2-es8")]
if ES9_SERVER:
    EXAMPLE_MATRIX.append(nox.param("3.13", "6.1", "9", id="py3.13-django6.1-es9"))


@nox.session(name="example")
@nox.parametrize(("python", "django", "client"), EXAMPLE_MATRIX)
@timed
def example(session: nox.Session, django: str, client: str) -> None:
    """The example site's own Django tests and its browser tests in headless Chromium."""
    session.run("scripts/install-chromium", external=True)
    session.install("-e", ".[test,browser,example-vectors]", DJANGO[django], CLIENTS[client])
    url = start_node(session, client)
    env = {"DJANGOES_URL": url, "DJANGOES_TEST_URL": url}
    session.chdir("example_app")
    session.run("python", "-m", "pytest", *session.posargs, env=env)
