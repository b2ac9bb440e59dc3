"""Settings of the latency benchmark (and of its task workers): PostgreSQL
(BENCH_DATABASE_URL), live index names, the Redis broker of DJANGOES_TEST_REDIS_URL.

The distributed rebuild benchmark on a cluster sets BENCH_ES_URLS (its members, comma-separated)
and BENCH_SHARDS (the products index's primaries)."""

import os

from tests.settings import *  # noqa: F403
from tests.settings import TASKS_DATABASE_BACKEND, database

DATABASES = {"default": database(os.environ["BENCH_DATABASE_URL"])}
ES_INDICES["products"]["NAME"] = "bench_latency_products"  # noqa: F405
ES_INDICES["products"]["ALIASES"] = ["bench_latency_products_read"]  # noqa: F405
ES_INDICES["articles"]["NAME"] = "bench_latency_articles"  # noqa: F405
if os.environ.get("BENCH_ES_URLS"):
    ES_SERVERS = {alias: dict(server) for alias, server in ES_SERVERS.items()}  # noqa: F405
    ES_SERVERS["default"]["HOSTS"] = os.environ["BENCH_ES_URLS"].split(",")
if os.environ.get("BENCH_SHARDS"):
    products = ES_INDICES["products"]  # noqa: F405
    products["SETTINGS"] = {
        **products["SETTINGS"],
        "number_of_shards": int(os.environ["BENCH_SHARDS"]),
    }
if TASKS_DATABASE_BACKEND:
    TASKS = {"default": {"BACKEND": TASKS_DATABASE_BACKEND}}
# The benchmarks use no API integration, whose extras the bench's virtualenv does not install.
INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "rest_framework"]  # noqa: F405
ROOT_URLCONF = "tests.benchmarks.urls"
