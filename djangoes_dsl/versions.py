"""Versions that order the writes of a document: a newer read always wins.

Every index or delete action djangoes sends for a row carries an external version
(``version_type="external_gte"``): a number read from a clock shared by every process, taken
*before* the rows are read from the database. Elasticsearch keeps, per document, the highest
version it has seen and refuses (409) a write with a lower one — a harmless refusal, which
djangoes counts as done.

Why the newer state always wins: let C be the last commit that changed a row. Its sender
reads the clock after C committed, so its version is above C's commit time. Any reader that
did not see C took its snapshot before C committed, and its clock reading came before its
snapshot, so its version is below C's commit time: whenever it arrives, it loses. Every
reader with a higher version saw C. Deletes work the same way (a delete leaves a versioned
tombstone).

The clock: on PostgreSQL the database server's ``transaction_timestamp()`` (one clock for
every web process and worker; inside a transaction it is the transaction's start, which is
never after any snapshot the transaction takes). On other databases the clock of the host
(``time.time_ns()``): right for SQLite (one host), and for others only as good as the
synchronisation of the hosts' clocks.

Limits: Elasticsearch forgets a delete's tombstone after ``index.gc_deletes`` (60 s by
default), so a stale write delayed longer than that (e.g. held by a frozen node) can bring a
deleted document back; a retry never does, because it reads the rows again. A clock that is
set back (an NTP step) breaks the order for the rows written in that window. Equal versions
(``external_gte``) let the later arrival win, which is only ever a read at least as new.
"""

from __future__ import annotations

import time
from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.db import connections as db_connections

VERSION_TYPE = "external_gte"

_POSTGRESQL_NOW = "SELECT (EXTRACT(EPOCH FROM transaction_timestamp()) * 1000000)::bigint"


def read_version(database: str | None = None) -> int:
    """Return the version for rows read from ``database`` from now on (microseconds)."""
    connection = db_connections[database or DEFAULT_DB_ALIAS]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_POSTGRESQL_NOW)
            return int(cursor.fetchone()[0])
    return time.time_ns() // 1000


def versioned(action: dict[str, Any], version: int) -> dict[str, Any]:
    """Return ``action`` carrying ``version`` (in place)."""
    action["version"] = version
    action["version_type"] = VERSION_TYPE
    return action
