"""Settings of the test project: the Elasticsearch node comes from DJANGOES_TEST_URL, the
database from DJANGOES_TEST_DATABASE_URL (``postgres://user:password@host:port/name``, as
scripts/pg prints it; unset: SQLite in memory)."""

import os
from importlib.util import find_spec
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

# The task engines of queued delivery, where installed: the database backend of Django's tasks
# framework (django-tasks-db), and Celery with the Redis broker of scripts/redis.
if find_spec("django_tasks_db") is not None:
    TASKS_DATABASE_APP = "django_tasks_db"
    TASKS_DATABASE_BACKEND = "django_tasks_db.DatabaseBackend"
else:
    TASKS_DATABASE_APP = TASKS_DATABASE_BACKEND = ""
if TASKS_DATABASE_APP:
    if find_spec("django.tasks") is None:
        INSTALLED_APPS.append("django_tasks")
    INSTALLED_APPS.append(TASKS_DATABASE_APP)

# The API integrations (djangoes_dsl.contrib): DRF's browsable API renders templates.
INSTALLED_APPS.append("rest_framework")
ROOT_URLCONF = "tests.api_urls"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]

REDIS_URL = os.environ.get("DJANGOES_TEST_REDIS_URL", "redis://127.0.0.1:6380/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A web process must not wait for a broker that is down: the batch stays in the outbox.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

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
