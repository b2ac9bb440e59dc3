"""Fill indices from the database; rebuild them with zero downtime.

The modules, one job each:

- :mod:`.pages` reads the rows of Documents as pages of bulk actions (keyset pages by
  primary key, primary-key ranges);
- :mod:`.results` is what a fill did (``FillResult``); the pages are sent by
  :mod:`djangoes_dsl.sender`, while the next ones are read;
- :mod:`.workers` decides when a fill forks and fills from a process pool of forked workers;
- :mod:`.filling` fills an index, in this process or in workers (``fill``, ``populate``);
- :mod:`.lock` is the rebuild lock and its lease (on the journal, :mod:`djangoes_dsl.journal`);
- :mod:`.rebuilder` is the zero-downtime rebuild, in steps.
"""

from .errors import RebuildError
from .filling import fill, populate
from .lock import DEFAULT_LEASE, Owner, RebuildLock, Recovery, default_lease, lock_status
from .pages import count_rows, iter_pages, split_ranges
from .rebuilder import Rebuild
from .results import FillResult
from .workers import (
    MIN_ROWS_PER_PROCESS,
    available_cpus,
    default_processes,
    fill_processes,
)

__all__ = [
    "DEFAULT_LEASE",
    "MIN_ROWS_PER_PROCESS",
    "FillResult",
    "Owner",
    "Rebuild",
    "RebuildError",
    "RebuildLock",
    "Recovery",
    "available_cpus",
    "count_rows",
    "default_lease",
    "default_processes",
    "fill",
    "fill_processes",
    "iter_pages",
    "lock_status",
    "populate",
    "split_ranges",
]
