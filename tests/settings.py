"""Settings of the test project; the Elasticsearch node comes from DJANGOES_TEST_URL."""

import os

ES_URL = os.environ.get("DJANGOES_TEST_URL", "http://127.0.0.1:9200")

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
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
