"""Settings of the task workers the tests start (tests/workers.py): the test project's, on
the test database and the test index names of the pytest process that started them, and on
the node it names (DJANGOES_WORKER_ES_URL, e.g. the fault suite's own node), with the
indices a test adds for the worker (DJANGOES_WORKER_INDICES: JSON of ES_INDICES entries; their
Documents are registered by tests/apps/worker, from DJANGOES_WORKER_DOCUMENTS)."""

import json
import os

from tests.settings import *  # noqa: F403
from tests.settings import (
    DATABASES,
    ES_INDICES,
    ES_SERVERS,
    INSTALLED_APPS,
    TASKS_DATABASE_BACKEND,
)

DATABASES["default"]["NAME"] = os.environ["DJANGOES_WORKER_DATABASE_NAME"]
ES_SERVERS["default"]["HOSTS"] = os.environ["DJANGOES_WORKER_ES_URL"].split(",")
ES_SERVERS["default"]["PARAMS"] = {
    "request_timeout": float(os.environ.get("DJANGOES_WORKER_ES_TIMEOUT", "30")),
    "max_retries": int(os.environ.get("DJANGOES_WORKER_ES_RETRIES", "0")),
}
for key, index in json.loads(os.environ.get("DJANGOES_WORKER_INDICES", "{}")).items():
    ES_INDICES[key] = index
    ES_SERVERS["default"]["INDICES"] = [*ES_SERVERS["default"]["INDICES"], key]
INSTALLED_APPS = [*INSTALLED_APPS, "tests.apps.worker"]
TASKS = {"default": {"BACKEND": TASKS_DATABASE_BACKEND}}
DJANGOES_OUTBOX_CLAIM_LEASE = float(os.environ.get("DJANGOES_OUTBOX_CLAIM_LEASE", "300"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"djangoes_dsl": {"handlers": ["console"], "level": "INFO"}},
}
DJANGOES_REBUILD_RANGE_LEASE = float(os.environ.get("DJANGOES_REBUILD_RANGE_LEASE", "60"))
# A Celery worker reserves four tasks by default, acknowledged as they start: one killed in the
# middle of a task takes the tasks it reserved with it (until the broker's visibility timeout).
# The distributed tests' workers reserve only the task they run (acknowledged when it ends).
if os.environ.get("DJANGOES_WORKER_ONE_TASK_AT_A_TIME"):
    CELERY_WORKER_PREFETCH_MULTIPLIER = 1
    CELERY_TASK_ACKS_LATE = True
