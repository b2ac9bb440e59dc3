"""A small deterministic embedder for the tests: words hashed into 8 dimensions."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re

DIMS = 8
#: Names a file where every call is also written, a JSON line ``{"pid": ..., "texts": [...]}``:
#: how a test counts the calls of an embedder in another process (a task worker).
CALLS_FILE_VARIABLE = "DJANGOES_TEST_EMBEDDER_CALLS"


def word_vector(text: str, dims: int = DIMS) -> list[float]:
    """Return the unit vector of ``text``'s words, each hashed into one of ``dims`` buckets."""
    vector = [0.01] * dims  # never all zeros: cosine similarity refuses a zero vector
    for word in re.findall(r"\w+", text.lower()):
        vector[hashlib.sha1(word.encode()).digest()[0] % dims] += 1.0
    norm = math.sqrt(sum(value * value for value in vector))
    return [value / norm for value in vector]


class WordHashEmbedder:
    """Embed by hashing words; record every call (and write it to the file
    ``$DJANGOES_TEST_EMBEDDER_CALLS`` names, if any); raise while ``failing``."""

    dims = DIMS
    model = "word-hash-8"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.failing = False

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        path = os.environ.get(CALLS_FILE_VARIABLE)
        if path:
            with open(path, "a", encoding="utf-8") as out:
                out.write(json.dumps({"pid": os.getpid(), "texts": list(texts)}) + "\n")
        if self.failing:
            raise ConnectionError("the embedding service is down")
        return [word_vector(text, self.dims) for text in texts]


#: The embedder the tests' Documents name by dotted path.
embedder = WordHashEmbedder()


class WiderEmbedder(WordHashEmbedder):
    """The same words in 16 dimensions: another model."""

    dims = 16
    model = "word-hash-16"


class RenamedEmbedder(WordHashEmbedder):
    """The same vectors under another model's name (a new version of the model)."""

    model = "word-hash-8-v2"


def calls_in(path: str | os.PathLike[str]) -> list[dict]:
    """Return the calls written to ``path`` (none when it is not there)."""
    try:
        with open(path, encoding="utf-8") as calls:
            return [json.loads(line) for line in calls]
    except FileNotFoundError:
        return []
