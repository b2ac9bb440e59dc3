"""Settings of the latency benchmark: PostgreSQL (BENCH_DATABASE_URL), live index names."""

import os

from tests.settings import *  # noqa: F403
from tests.settings import database

DATABASES = {"default": database(os.environ["BENCH_DATABASE_URL"])}
ES_INDICES["products"]["NAME"] = "bench_latency_products"  # noqa: F405
ES_INDICES["products"]["ALIASES"] = ["bench_latency_products_read"]  # noqa: F405
ES_INDICES["articles"]["NAME"] = "bench_latency_articles"  # noqa: F405
