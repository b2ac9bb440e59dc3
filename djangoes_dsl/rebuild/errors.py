"""The error of the rebuild machinery."""

from __future__ import annotations


class RebuildError(Exception):
    """A fill, populate or rebuild could not complete."""
