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
