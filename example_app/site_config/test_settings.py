"""Settings for the example site's tests (`cd example_app && pytest`).

The djangoes pytest plugin switches every index to its test name (test_catalog_books), creates
it with the configured SETTINGS before the session and deletes it afterwards.
"""

import os

from .settings import *  # noqa: F403
from .settings import ES_SERVERS

# scripts/es-node prints the node's URL; the test scripts export it as DJANGOES_TEST_URL.
ES_SERVERS["default"]["HOSTS"] = [
    os.environ.get("DJANGOES_TEST_URL") or os.environ.get("DJANGOES_URL") or "http://127.0.0.1:9200"
]

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
