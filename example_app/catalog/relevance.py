"""A labelled query set for the sample catalogue, and nDCG@10 / recall@10 of three rankings.

The queries were written from the sample data's word lists (catalog/sample_data.py) before
any ranking was looked at, each phrased without the words of the titles that answer it. A
book answers a query when its title holds one of the query's answer words (whole words, any
case): the labels follow from the data, not from what a search returned. Nothing was tuned
against this set after the first measurement.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from .models import Book
from .search_indices import BookDocument

#: (query, answer words: a book whose title holds one of them answers the query).
QUERIES: list[tuple[str, tuple[str, ...]]] = [
    ("caffeinated drinks and cafes", ("Coffee", "Tea")),
    ("insects that make honey", ("Bees",)),
    ("frozen water and glaciers", ("Ice",)),
    ("wealth, currency and finance", ("Money",)),
    ("resting at night and dreams", ("Sleep",)),
    ("the night sky and astronomy", ("Stars", "Observatory")),
    ("forecasts, rain and climate", ("Weather", "Storm")),
    ("baking loaves and flour", ("Bread",)),
    ("numbers, geometry and proofs", ("Mathematics", "Counting")),
    ("remembering and forgetting the past", ("Memory", "Forgetting")),
    ("words, grammar and speaking", ("Language",)),
    ("songs, melodies and instruments", ("Music", "Violin", "Listening")),
    ("woods and the trees in them", ("Trees", "Forest", "Orchard")),
    ("streams flowing to the ocean", ("Rivers", "River")),
    ("land surrounded by the sea", ("Islands", "Island")),
    ("towns, streets and urban life", ("Cities",)),
    ("quiet and the absence of noise", ("Silence", "Quiet", "Silent")),
    ("hues, pigments and paint", ("Color",)),
    ("sea salt and seasoning", ("Salt",)),
    ("clocks, hours and the passing of days", ("Time", "Clockmaker")),
    ("charts for finding the way", ("Maps", "Map", "Atlas", "Compass", "Cartographer")),
    ("a beacon that guides ships at night", ("Lighthouse",)),
    ("a boat that carries passengers across water", ("Ferry",)),
    ("a long journey by sea", ("Voyage", "Sailing")),
    ("a castle or fortress", ("Citadel", "Kingdom")),
    ("a place full of books to borrow", ("Library", "Archive")),
    ("snow, frost and the cold season", ("Winter",)),
    ("flowers growing in a glasshouse", ("Orchid", "Garden", "Gardening")),
    ("peaks, climbing and high slopes", ("Mountain", "Valley")),
    ("trains, rails and platforms", ("Station", "Engine")),
]


def relevant(words: tuple[str, ...]) -> set[int]:
    """Return the primary keys of the books whose title holds one of ``words``."""
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, words)) + r")\b", re.IGNORECASE)
    return {pk for pk, title in Book.objects.values_list("pk", "title") if pattern.search(title)}


def ndcg_at_10(ranked: list[int], answers: set[int]) -> float:
    gains = [1.0 / math.log2(rank + 2) for rank, pk in enumerate(ranked[:10]) if pk in answers]
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(10, len(answers))))
    return sum(gains) / ideal if ideal else 0.0


def recall_at_10(ranked: list[int], answers: set[int]) -> float:
    """The share of the answers found in the first 10, of at most 10 (a query with more
    answers than 10 can still reach 1)."""
    found = len(set(ranked[:10]) & answers)
    return found / min(10, len(answers)) if answers else 0.0


def rankings() -> dict[str, Callable[[str], Any]]:
    """The three rankings compared, each a function of the query text."""
    fields = ["title", "tags", "summary"]
    return {
        "lexical": lambda text: BookDocument.search().query(
            "multi_match", query=text, fields=fields
        )[:10],
        "kNN": lambda text: BookDocument.search().similar_to(text, k=10),
        "hybrid (RRF)": lambda text: BookDocument.search().hybrid(text, fields=fields)[:10],
    }


def measure() -> dict[str, tuple[float, float]]:
    """Return ``{ranking: (mean nDCG@10, mean recall@10)}`` over QUERIES."""
    labelled = [(text, relevant(words)) for text, words in QUERIES]
    found = {}
    for name, ranking in rankings().items():
        ndcg = recall = 0.0
        for text, answers in labelled:
            ranked = [book.pk for book in ranking(text).to_queryset()]
            ndcg += ndcg_at_10(ranked, answers)
            recall += recall_at_10(ranked, answers)
        found[name] = (ndcg / len(labelled), recall / len(labelled))
    return found
