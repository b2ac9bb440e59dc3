"""Settings for the child `django test` runs of tests/test_dsl_runner.py."""

import os

from tests.settings import *  # noqa: F403

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGOES_RUNNER_DB", "runner.sqlite3"),
        "TEST": {"NAME": os.environ.get("DJANGOES_RUNNER_DB", "runner.sqlite3")},
    }
}
TEST_RUNNER = "djangoes.test.DiscoverRunner"
