"""Why a server refused a request, said with the fix: blocks on the cluster or an index, and a
HOSTS path that reached Elasticsearch as an index name.

:func:`explain` returns a sentence for the refusals it knows, or None; commands and the test
setup add it to the server's own answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..credentials import split_url

__all__ = ["explain"]

#: Block ids Elasticsearch names in ``blocked by: [FORBIDDEN/<id>/<description>]`` → the
#: setting that sets the block and how to lift it.
BLOCKS = {
    "6": (
        "the cluster has a read-only block (cluster.blocks.read_only)",
        'lift it with PUT _cluster/settings {{"persistent": {{"cluster.blocks.read_only": null}}}} '
        "once whoever set it agrees",
    ),
    "13": (
        "the cluster has a read-only-allow-delete block (cluster.blocks.read_only_allow_delete)",
        'lift it with PUT _cluster/settings {{"persistent": '
        '{{"cluster.blocks.read_only_allow_delete": null}}}}',
    ),
    "5": (
        "{index} has a read-only block (index.blocks.read_only)",
        'lift it with PUT {index}/_settings {{"index.blocks.read_only": null}}',
    ),
    "8": (
        "{index} has a write block (index.blocks.write)",
        'lift it with PUT {index}/_settings {{"index.blocks.write": null}}',
    ),
    "12": (
        "{index} has a read-only-allow-delete block: the node's disk passed its flood-stage "
        "watermark",
        "free disk space (or raise cluster.routing.allocation.disk.watermark.flood_stage); "
        "Elasticsearch lifts the block when usage falls below the high watermark",
    ),
}

_BLOCKED = re.compile(r"(?:index \[(?P<index>[^\]]+)\] )?blocked by: \[[A-Z_]+/(?P<id>\d+)/")


def _reasons(error: Any) -> list[str]:
    body = getattr(error, "body", None)
    if not isinstance(body, Mapping) or not isinstance(body.get("error"), Mapping):
        return [str(error), str(body.get("error")) if isinstance(body, Mapping) else ""]
    found = body["error"]
    causes = [found, *(found.get("root_cause") or []), found.get("caused_by") or {}]
    return [str(cause.get("reason", "")) for cause in causes if isinstance(cause, Mapping)]


def explain(error: Any, backend: Any = None) -> str | None:
    """Return what the refusal ``error`` means and how to fix it, or None when unknown.

    ``backend`` (the connection that sent the request) lets a HOSTS path be recognised. The
    exceptions ``error`` was raised from are read too.
    """
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        found = _explain_one(error, backend)
        if found is not None:
            return found
        error = error.__cause__ or error.__context__
    return None


def _explain_one(error: Any, backend: Any) -> str | None:
    for reason in _reasons(error):
        match = _BLOCKED.search(reason)
        if match and match.group("id") in BLOCKS:
            what, fix = BLOCKS[match.group("id")]
            index = f"the index '{match.group('index')}'" if match.group("index") else "an index"
            name = match.group("index") or "<index>"
            return (
                f"{what.format(index=index)}, so nothing can be written there; "
                f"{fix.format(index=name)}."
            )
    if backend is not None:
        for position, host in enumerate(backend.server.get("HOSTS") or ()):
            if not isinstance(host, str):
                continue
            path = split_url(host).rest.split("?")[0].strip("/")
            # "no such index [<path>]", or "no handler found for uri [/<path>/...]"
            signs = (f"[{path.split('/')[0]}]", f"[/{path}/")
            if path and any(sign in reason for reason in _reasons(error) for sign in signs):
                return (
                    f"ES_SERVERS['{backend.alias}']['HOSTS'][{position}] has the path "
                    f"'/{path}', which the client puts before every request (for a proxy that "
                    f"serves Elasticsearch there); this server took it for an index name. "
                    f"Remove the path unless a proxy serves Elasticsearch under it."
                )
    return None
