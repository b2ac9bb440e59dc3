"""Settings of the example site: a book catalogue searched through djangoes.

Only what a development site needs; the search configuration is the part to copy.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# A development-only key: this site binds to 127.0.0.1 and is never deployed.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-app-insecure-development-key")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "djangoes_dsl",
    "catalog",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "site_config.urls"
WSGI_APPLICATION = "site_config.wsgi.application"
ASGI_APPLICATION = "site_config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("EXAMPLE_APP_DB", BASE_DIR / "db.sqlite3"),
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"

# -- search ---------------------------------------------------------------------------------

# scripts/example and scripts/es-node print the node's URL; DJANGOES_URL points the site at it.
ES_SERVERS = {
    "default": {
        "HOSTS": [os.environ.get("DJANGOES_URL", "http://127.0.0.1:9200")],
        "PARAMS": {"request_timeout": 30},
        "INDICES": ["books"],
    },
}

ES_INDICES = {
    "books": {
        # Writes go to NAME; searches go to the alias. After `search_index rebuild` NAME is
        # itself an alias of a timestamped index, swapped atomically on the next rebuild.
        "NAME": "catalog_books",
        "ALIASES": ["catalog_books_read"],
        "SETTINGS": {
            "number_of_shards": 1,
            "number_of_replicas": 0,
            "analysis": {
                "analyzer": {
                    # Built only from what every Elasticsearch distribution has (no
                    # analysis-common module needed): the standard tokenizer and lowercase.
                    "book_text": {
                        "type": "custom",
                        "tokenizer": "standard",
                        "filter": ["lowercase"],
                    },
                },
                "normalizer": {
                    "lowercase": {"type": "custom", "filter": ["lowercase"]},
                },
            },
        },
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        # Indexing failures are logged with the document ids: show them in the console.
        "djangoes_dsl": {"handlers": ["console"], "level": "WARNING"},
    },
}
