"""Settings of the benchmark runs of djangoes (a file database, live index names).

The database is PostgreSQL when BENCH_DATABASE_URL is set (``postgres://...``), else the
SQLite file BENCH_DB.
"""

import os

from tests.settings import *  # noqa: F403
from tests.settings import database

if os.environ.get("BENCH_DATABASE_URL"):
    DATABASES = {"default": database(os.environ["BENCH_DATABASE_URL"])}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("BENCH_DB", "/tmp/djangoes-bench/db.sqlite3"),
        }
    }
ES_INDICES["products"]["NAME"] = "bench_products"  # noqa: F405
ES_INDICES["products"]["ALIASES"] = ["bench_products_read"]  # noqa: F405
ES_INDICES["articles"]["NAME"] = "bench_articles"  # noqa: F405
# The nested-relation benchmark's native Document (tests/benchmarks/nested.py).
ES_INDICES["nested_products"] = {  # noqa: F405
    "NAME": "bench_nested_products",
    "SETTINGS": {"number_of_shards": 1, "number_of_replicas": 0},
}
ES_SERVERS = {alias: dict(server) for alias, server in ES_SERVERS.items()}  # noqa: F405
ES_SERVERS["default"]["INDICES"] = [*ES_SERVERS["default"]["INDICES"], "nested_products"]
# The benchmarks use no API integration, whose extras the bench's virtualenv does not install.
INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "rest_framework"]  # noqa: F405
