"""Settings of the benchmark runs of djangoes (a file database, live index names)."""

import os

from tests.settings import *  # noqa: F403

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("BENCH_DB", "/tmp/djangoes-bench/db.sqlite3"),
    }
}
ES_INDICES["products"]["NAME"] = "bench_products"  # noqa: F405
ES_INDICES["products"]["ALIASES"] = ["bench_products_read"]  # noqa: F405
ES_INDICES["articles"]["NAME"] = "bench_articles"  # noqa: F405
