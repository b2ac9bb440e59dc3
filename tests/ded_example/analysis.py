"""elasticsearch.dsl's ``analyzer`` for the ported example, on the suite's test node.

The suite's node is Elastic's integration-test distribution, which lacks the module
``analysis-common`` (see docs/development.md), so the ``html_strip`` char filter and the
``snowball`` filter the example's analyzer names do not exist there and the index could not
be created. On such a node this builds the same analyzer without them; with
``DJANGOES_ES_ANALYSIS_COMMON=1`` (a full distribution) it is elasticsearch.dsl's own.
"""

import os

from elasticsearch.dsl import analyzer as dsl_analyzer

MISSING = {"char_filter": {"html_strip"}, "filter": {"snowball"}}


def analyzer(name, **kwargs):
    if os.environ.get("DJANGOES_ES_ANALYSIS_COMMON") != "1":
        for option, absent in MISSING.items():
            if option in kwargs:
                kwargs[option] = [part for part in kwargs[option] if part not in absent]
    return dsl_analyzer(name, **kwargs)
