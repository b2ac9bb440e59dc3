"""What a fill did."""

from __future__ import annotations

from dataclasses import dataclass

from ..sender import BulkResult


@dataclass
class FillResult(BulkResult):
    """What a fill indexed: the count, the failed items, and how it ran."""

    seconds: float = 0.0
    #: The worker processes that filled (0: the calling process).
    processes: int = 0
