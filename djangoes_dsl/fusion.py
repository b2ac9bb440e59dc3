"""Combine rankings of the same documents into one: reciprocal-rank fusion and a weighted sum.

Elasticsearch's ``rrf`` retriever needs an Enterprise licence; these run in the client, on
any licence. A ranking is a list of hits (dicts with ``_id`` and ``_score``), best first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["DEFAULT_RANK_CONSTANT", "check_options", "linear", "rrf"]

#: Elasticsearch's default ``rank_constant`` for RRF.
DEFAULT_RANK_CONSTANT = 60


def _key(hit: dict[str, Any]) -> tuple[str, str]:
    return (hit.get("_index", ""), hit["_id"])


def rrf(
    rankings: Sequence[Sequence[dict[str, Any]]],
    rank_constant: int = DEFAULT_RANK_CONSTANT,
    weights: Sequence[float] | None = None,
) -> list[tuple[dict[str, Any], float]]:
    """Return ``[(hit, score)]`` best first: ``score = sum(weight / (rank_constant + rank))``
    over the rankings that hold the hit (``rank`` from 1). Ties keep the first ranking's
    order."""
    weights = check_options(rank_constant, weights, len(rankings))
    scores: dict[tuple[str, str], float] = {}
    hits: dict[tuple[str, str], dict[str, Any]] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, hit in enumerate(ranking, start=1):
            key = _key(hit)
            hits.setdefault(key, hit)
            scores[key] = scores.get(key, 0.0) + weight / (rank_constant + rank)
    return _ordered(hits, scores)


def linear(
    rankings: Sequence[Sequence[dict[str, Any]]], weights: Sequence[float] | None = None
) -> list[tuple[dict[str, Any], float]]:
    """Return ``[(hit, score)]`` best first: the weighted sum of each ranking's scores,
    min-max normalised to 0..1 per ranking (a hit missing from a ranking scores 0 there)."""
    weights = _weights(weights, len(rankings))
    scores: dict[tuple[str, str], float] = {}
    hits: dict[tuple[str, str], dict[str, Any]] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        values = [float(hit.get("_score") or 0.0) for hit in ranking]
        low, high = (min(values), max(values)) if values else (0.0, 0.0)
        for hit, value in zip(ranking, values, strict=True):
            key = _key(hit)
            hits.setdefault(key, hit)
            normal = (value - low) / (high - low) if high > low else 1.0
            scores[key] = scores.get(key, 0.0) + weight * normal
    return _ordered(hits, scores)


def check_options(rank_constant: int, weights: Sequence[float] | None, count: int) -> list[float]:
    """Return the weights of ``count`` rankings; ValueError naming a bad argument."""
    if rank_constant < 1:
        raise ValueError(f"rank_constant={rank_constant!r} must be 1 or more.")
    return _weights(weights, count)


def _weights(weights: Sequence[float] | None, count: int) -> list[float]:
    if weights is None:
        return [1.0] * count
    if len(weights) != count or any(weight < 0 for weight in weights):
        raise ValueError(
            f"weights={list(weights)!r} must be {count} numbers of 0 or more, one per ranking "
            f"(lexical, kNN)."
        )
    return [float(weight) for weight in weights]


def _ordered(
    hits: dict[tuple[str, str], dict[str, Any]], scores: dict[tuple[str, str], float]
) -> list[tuple[dict[str, Any], float]]:
    order = sorted(scores, key=lambda key: -scores[key])  # stable: first seen wins a tie
    return [(hits[key], scores[key]) for key in order]
