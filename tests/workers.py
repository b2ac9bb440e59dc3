"""Real task workers for the tests of queued delivery and distributed rebuilds.

A worker is a child process of the test run — django-tasks-db's ``db_worker`` on the test
database, or a ``celery worker`` on the Redis broker of ``scripts/redis`` — started with
tests/worker_settings.py (the test database, the test index names, the node the test
names) and stopped, or SIGKILLed, by its PID. Its output goes to a log file that a failing
test prints.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from djangoes import connections

ROOT = Path(__file__).resolve().parent.parent
DJANGO_TASKS, CELERY = "django_tasks", "celery"
ENGINES = (DJANGO_TASKS, CELERY)
#: The claim lease of the workers the tests start (and of the tests' own drains): a claim of a
#: worker killed mid-task expires this soon.
TEST_CLAIM_LEASE = 8.0

HOW_TO_START_REDIS = (
    "Start one with 'scripts/redis start' (it prints the URL) and export "
    "DJANGOES_TEST_REDIS_URL=<that URL>, or run the whole suite with 'scripts/test'."
)


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 120.0) -> None:
    """Poll ``condition`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout:.0f}s waiting for {what}.")
        time.sleep(0.05)


def require_redis() -> str:
    """Return the broker URL; fail (never skip) when no Redis answers there."""
    import pytest
    import redis

    url = settings.CELERY_BROKER_URL
    try:
        redis.Redis.from_url(url, socket_timeout=5).ping()
    except redis.RedisError as exc:
        pytest.fail(f"No Redis answers at {url} ({exc}). {HOW_TO_START_REDIS}", pytrace=False)
    return url


def flush_broker() -> None:
    """Drop every message of the test broker (left by an earlier test or run)."""
    import redis

    redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=5).flushdb()


def tasks_settings() -> dict[str, Any]:
    """The TASKS setting of the tests that enqueue to django-tasks-db's worker."""
    import pytest

    if not settings.TASKS_DATABASE_BACKEND:
        pytest.fail(
            "No database backend of Django's tasks framework is installed: pip install "
            "django-tasks-db.",
            pytrace=False,
        )
    return {"default": {"BACKEND": settings.TASKS_DATABASE_BACKEND}}


@dataclass
class TaskWorker:
    """A worker process of ``engine`` delivering to the node at ``es_url``."""

    engine: str
    es_url: str
    es_timeout: float = 30.0
    name: str = "worker"
    #: The worker's settings module, and more environment for it.
    settings_module: str = "tests.worker_settings"
    extra_env: dict[str, str] = field(default_factory=dict)
    interval: float = 0.05
    process: subprocess.Popen[bytes] | None = None
    log: Path = field(default_factory=lambda: Path(tempfile.mkstemp(suffix=".log")[1]))
    events: list[str] = field(default_factory=list)

    def command(self) -> list[str]:
        if self.engine == DJANGO_TASKS:
            return [
                sys.executable,
                "-m",
                "django",
                "db_worker",
                "--interval",
                str(self.interval),
                "--no-startup-delay",
                "--no-reload",
                "--worker-id",
                f"{self.name}-{os.getpid()}",
            ]
        return [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.celery_app",
            "worker",
            "--pool",
            "solo",  # the task runs in the worker process: a SIGKILL of it ends the task
            "--loglevel",
            "INFO",
            "--hostname",
            f"{self.name}-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": self.settings_module,
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "DJANGOES_WORKER_DATABASE_NAME": connection.settings_dict["NAME"],
            # A pytest-xdist worker's test index names carry its suffix: the worker's too.
            "DJANGOES_WORKER_TEST_SUFFIX": connections.test_suffix,
            "DJANGOES_WORKER_ES_URL": self.es_url,
            "DJANGOES_WORKER_ES_TIMEOUT": str(self.es_timeout),
            "DJANGOES_OUTBOX_CLAIM_LEASE": str(TEST_CLAIM_LEASE),
            **self.extra_env,
        }

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was not started"
        return self.process.pid

    def start(self) -> TaskWorker:
        """Start the worker; return once it takes tasks."""
        ready = "ready." if self.engine == CELERY else "Starting worker"
        offset = self.log.stat().st_size
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command(), cwd=ROOT, env=self.environment(), stdout=out, stderr=out
            )
        self.events.append(f"started (pid {self.pid})")
        try:
            wait_for(
                lambda: ready in self.log.read_text(errors="replace")[offset:] or not self.alive,
                f"the {self.engine} worker to be ready",
                timeout=90,
            )
        except AssertionError:
            self.stop()
            raise AssertionError(f"{self.engine} worker did not start:\n{self.tail()}") from None
        if not self.alive:
            raise AssertionError(f"{self.engine} worker ended at start:\n{self.tail()}")
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """Stop the worker by its PID (SIGTERM: it finishes its task), SIGKILL if it hangs."""
        if not self.alive:
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
        self.events.append(f"stopped (pid {self.pid})")

    def kill(self) -> None:
        """SIGKILL the worker, wherever it is, and reap it."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.events.append(f"killed (pid {self.pid})")

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def redis_port() -> int:
    return urllib.parse.urlsplit(settings.CELERY_BROKER_URL).port or 6379


def redis_script(action: str) -> str:
    """Run ``scripts/redis ACTION`` for the test broker's port; return what it prints."""
    done = subprocess.run(
        [str(ROOT / "scripts" / "redis"), action, "--port", str(redis_port())],
        capture_output=True,
        text=True,
        check=action != "stop",
    )
    return done.stdout.strip()
