"""Settings of the test project: the Elasticsearch node comes from DJANGOES_TEST_URL, the
database from DJANGOES_TEST_DATABASE_URL (``postgres://user:password@host:port/name``, as
scripts/pg prints it; unset: SQLite in memory)."""

import os
from urllib.parse import unquote, urlsplit

ES_URL = os.environ.get("DJANGOES_TEST_URL", "http://127.0.0.1:9200")


def database(url: str) -> dict:
    """Return the DATABASES entry for ``url``; an empty URL is SQLite in memory."""
    if not url:
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError(
            f"DJANGOES_TEST_DATABASE_URL={url!r} is not a postgres:// URL; unset it for SQLite."
        )
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/"),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
    }


SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
DATABASES = {"default": database(os.environ.get("DJANGOES_TEST_DATABASE_URL", ""))}
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "djangoes_dsl",
    "tests.apps.shop",
    "tests.apps.blog",
]

ES_SERVERS = {
    "default": {
        "HOSTS": [ES_URL],
        "PARAMS": {"request_timeout": 30},
        "INDICES": ["products", "articles"],
    },
}

ES_INDICES = {
    "products": {
        "NAME": "djangoes_products",
        "ALIASES": ["djangoes_products_read"],
        "SETTINGS": {
            "number_of_shards": 1,
            "number_of_replicas": 0,
            "analysis": {
                "analyzer": {
                    "title_text": {
                        "type": "custom",
                        "tokenizer": "standard",
                        "filter": ["lowercase"],
                    }
                }
            },
        },
    },
    "articles": {
        "NAME": "djangoes_articles",
        "SETTINGS": {"number_of_shards": 1, "number_of_replicas": 0},
    },
}

# Undo each test's documents after it (djangoes.test); DJANGOES_TEST_ISOLATION=0 in the
# environment switches it off, to measure what it costs.
DJANGOES_TEST_ISOLATION = os.environ.get("DJANGOES_TEST_ISOLATION", "1") != "0"
