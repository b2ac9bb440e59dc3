"""Settings of the ported django-elasticsearch-dsl example: its own settings, as a project that
moves from django-elasticsearch-dsl has them (ELASTICSEARCH_DSL, no ES_SERVERS/ES_INDICES),
with djangoes_dsl in INSTALLED_APPS and djangoes' test runner."""

import os
from urllib.parse import urlsplit

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "djangoes_dsl",
    "tests.ded_example.test_app",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGOES_EXAMPLE_DB", ":memory:"),
    }
}
TEST_RUNNER = "djangoes.test.DiscoverRunner"

# As django-elasticsearch-dsl's example writes it: host:port, no scheme.
ELASTICSEARCH_DSL = {
    "default": {
        "hosts": urlsplit(os.environ.get("DJANGOES_TEST_URL", "http://127.0.0.1:9200")).netloc
    },
}
ELASTICSEARCH_DSL_INDEX_SETTINGS = {"number_of_shards": 1, "number_of_replicas": 0}
# Manufacturer.logo is an ImageField; no image is stored here, so Pillow is not needed.
SILENCED_SYSTEM_CHECKS = ["fields.E210"]
