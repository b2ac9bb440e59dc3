"""The Celery app of the test project, shaped as a Django project's usually is.

The tests' own process imports it so that tasks go to the suite's Redis broker; the workers
the tests start run ``celery -A tests.celery_app worker`` with tests/worker_settings.py.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

app = Celery("tests")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
