"""Settings of the benchmark runs of django-elasticsearch-dsl (its own virtualenv)."""

import os

ES_URL = os.environ.get("DJANGOES_TEST_URL", "http://127.0.0.1:9200")
SECRET_KEY = "bench-only"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
if os.environ.get("BENCH_DATABASE_URL"):  # PostgreSQL, as in djangoes's settings
    from tests.settings import database

    DATABASES = {"default": database(os.environ["BENCH_DATABASE_URL"])}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("BENCH_DB", "/tmp/djangoes-bench/db.sqlite3"),
        }
    }
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django_elasticsearch_dsl",
    "tests.apps.shop",
    "tests.benchmarks.dedsl_app",
]
ELASTICSEARCH_DSL = {"default": {"hosts": [ES_URL], "request_timeout": 60}}
