"""Settings of django-elasticsearch-dsl's run of the nested-relation benchmark."""

from tests.benchmarks.dedsl_settings import *  # noqa: F403

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django_elasticsearch_dsl",
    "tests.apps.shop",
    "tests.benchmarks.dedsl_nested_app",
]
