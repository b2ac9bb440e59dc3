"""The catalogue's embedder: wordllama's 256-dimension model, loaded from its own wheel.

wordllama (the example's optional extra ``djangoes[example-vectors]``) ships its weights and
tokenizer inside the package; it is loaded from there with downloads disabled, so the site
never reaches the network for it. Without wordllama installed the catalogue has no embedding
field and no semantic search.
"""

from __future__ import annotations

import logging
from importlib.util import find_spec
from pathlib import Path
from typing import Any

#: Whether the optional model is installed.
AVAILABLE = find_spec("wordllama") is not None


class WordLlamaEmbedder:
    """embed(texts) with wordllama's l2_supercat model, 256 dimensions."""

    dims = 256
    model = "wordllama-0.4.0.post1/l2_supercat-256"

    def __init__(self) -> None:
        wordllama = _import_wordllama()
        self._model: Any = wordllama.WordLlama.load(
            config="l2_supercat",
            dim=self.dims,
            # The wheel's own directory holds weights/ and tokenizers/: nothing is fetched.
            cache_dir=Path(wordllama.__file__).parent,
            disable_download=True,
        )

    def embed(self, texts: list[str]) -> list[list[float]]:
        return self._model.embed(texts).tolist()  # type: ignore[no-any-return]


def _import_wordllama() -> Any:
    """Import wordllama, leaving the root logger as the site's LOGGING made it.

    wordllama calls ``logging.basicConfig(level=INFO)`` when imported; the site's console
    would then print every library's INFO records (a line per request to Elasticsearch).
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    import wordllama

    root.handlers[:] = handlers
    root.setLevel(level)
    return wordllama
