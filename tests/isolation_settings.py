"""Settings of the child runs of tests/test_test_isolation.py: the suite's settings with test
index names of their own (prefixed with DJANGOES_ISOLATION_TAG), so a child run never
touches the indices of the run that started it.

The indices never refresh on their own (``refresh_interval: -1``): what a run sees of an
earlier run's writes and undos is then only what the library made visible, whatever the
timing between the runs."""

import copy
import os

from tests.runner_settings import *  # noqa: F403
from tests.settings import ES_INDICES as SUITE_INDICES

TAG = os.environ.get("DJANGOES_ISOLATION_TAG", "iso")

ES_INDICES = copy.deepcopy(SUITE_INDICES)
for _index in ES_INDICES.values():
    _index["SETTINGS"] = {**_index.get("SETTINGS", {}), "refresh_interval": "-1"}
    _index["TEST"] = {
        "NAME": f"{TAG}_{_index['NAME']}",
        "ALIASES": [f"{TAG}_{alias}" for alias in _index.get("ALIASES", [])],
    }

DJANGOES_TEST_ISOLATION = os.environ.get("DJANGOES_TEST_ISOLATION", "1") != "0"
