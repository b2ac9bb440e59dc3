"""Settings for the example site's tests (`cd example_app && pytest`).

The djangoes pytest plugin switches every index to its test name (test_catalog_books), creates
it with the configured SETTINGS before the session and deletes it afterwards.
"""

import os
import tempfile

from .settings import *  # noqa: F403
from .settings import ES_SERVERS

# scripts/es-node prints the node's URL; the test scripts export it as DJANGOES_TEST_URL.
ES_SERVERS["default"]["HOSTS"] = [
    os.environ.get("DJANGOES_TEST_URL") or os.environ.get("DJANGOES_URL") or "http://127.0.0.1:9200"
]

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A file, not SQLite's shared in-memory database: the live server's request threads then use
# their own connections (a shared in-memory connection cannot be closed from those threads).
DATABASES["default"]["TEST"] = {  # noqa: F405
    "NAME": os.path.join(tempfile.gettempdir(), f"djangoes-example-test-{os.getpid()}.sqlite3")
}
