"""Settings of the processes that rebuild tests start: one SQLite file, the test's indices.

tests/rebuild_processes.py sets the environment: the database file, and the index name and
read alias the test process uses (its test names), which are the live names here.
"""

import os

from tests.settings import *  # noqa: F403
from tests.settings import ES_INDICES

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["DJANGOES_PROCESS_DB"],
        "OPTIONS": {"timeout": 60},
    }
}
ES_INDICES = {
    **ES_INDICES,
    "products": {
        **ES_INDICES["products"],
        "NAME": os.environ["DJANGOES_PROCESS_INDEX"],
        "ALIASES": [os.environ["DJANGOES_PROCESS_READ_INDEX"]],
    },
}
# A save whose index or journal write fails raises: a test sees it.
DJANGOES_INDEXING_ERRORS = "raise"
