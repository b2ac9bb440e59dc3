"""What a node can run: the Elasticsearch modules and plugins that index bodies depend on.

Analysis components (tokenizers, token filters, char filters, analyzers) and field types come
from modules. Elasticsearch's minimal integration-test distribution, which ``scripts/es-node``
runs, has the core ones only: no ``analysis-common`` (stemmers, synonyms, ngrams, ``html_strip``,
language analyzers such as ``english``), no ``mapper-extras`` (``search_as_you_type``,
``scaled_float``, ...). :func:`missing_modules` reads the node's modules (``GET
_nodes/plugins``) and names, for each component and field type an index body uses, the module
that provides it and that some node lacks; :func:`explain` turns that into a message with the
fix. The table below names the components known to come from a module that is not in every
distribution (the analysis-common part was read from a node without it); anything else is
taken to be core.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Requirement",
    "describe",
    "explain",
    "explain_creation_error",
    "hints",
    "missing_modules",
    "node_modules",
    "requirements",
]

_LANGUAGES = [
    "arabic",
    "armenian",
    "basque",
    "bengali",
    "brazilian",
    "bulgarian",
    "catalan",
    "cjk",
    "czech",
    "danish",
    "dutch",
    "english",
    "estonian",
    "finnish",
    "french",
    "galician",
    "german",
    "greek",
    "hindi",
    "hungarian",
    "indonesian",
    "irish",
    "italian",
    "latvian",
    "lithuanian",
    "norwegian",
    "persian",
    "portuguese",
    "romanian",
    "russian",
    "serbian",
    "sorani",
    "spanish",
    "swedish",
    "turkish",
    "thai",
]

#: module -> section -> the names (types) it provides.
MODULE_COMPONENTS: dict[str, dict[str, frozenset[str]]] = {
    "analysis-common": {
        "filter": frozenset(
            [
                "apostrophe",
                "arabic_normalization",
                "arabic_stem",
                "asciifolding",
                "bengali_normalization",
                "brazilian_stem",
                "cjk_bigram",
                "cjk_width",
                "classic",
                "common_grams",
                "condition",
                "czech_stem",
                "decimal_digit",
                "delimited_payload",
                "dictionary_decompounder",
                "dutch_stem",
                "edge_ngram",
                "edgeNGram",
                "elision",
                "fingerprint",
                "flatten_graph",
                "french_stem",
                "german_normalization",
                "german_stem",
                "hindi_normalization",
                "hyphenation_decompounder",
                "indic_normalization",
                "keep",
                "keep_types",
                "keyword_marker",
                "kstem",
                "length",
                "limit",
                "min_hash",
                "multiplexer",
                "ngram",
                "nGram",
                "pattern_capture",
                "pattern_replace",
                "persian_normalization",
                "persian_stem",
                "porter_stem",
                "predicate_token_filter",
                "remove_duplicates",
                "reverse",
                "russian_stem",
                "scandinavian_folding",
                "scandinavian_normalization",
                "serbian_normalization",
                "snowball",
                "sorani_normalization",
                "stemmer",
                "stemmer_override",
                "synonym",
                "synonym_graph",
                "trim",
                "truncate",
                "unique",
                "uppercase",
                "word_delimiter",
                "word_delimiter_graph",
            ]
        ),
        "tokenizer": frozenset(
            [
                "char_group",
                "classic",
                "edge_ngram",
                "edgeNGram",
                "keyword",
                "letter",
                "lowercase",
                "ngram",
                "nGram",
                "path_hierarchy",
                "PathHierarchy",
                "pattern",
                "simple_pattern",
                "simple_pattern_split",
                "thai",
                "uax_url_email",
                "whitespace",
            ]
        ),
        "char_filter": frozenset({"html_strip", "mapping", "pattern_replace"}),
        "analyzer": frozenset({"pattern", "fingerprint", "snowball", *_LANGUAGES}),
    },
}

#: field type -> the module that provides it.
FIELD_TYPE_MODULES = {
    "search_as_you_type": "mapper-extras",
    "scaled_float": "mapper-extras",
    "rank_feature": "mapper-extras",
    "rank_features": "mapper-extras",
    "token_count": "mapper-extras",
    "match_only_text": "mapper-extras",
    "join": "parent-join",
    "percolator": "percolator",
    "constant_keyword": "constant-keyword",
    "wildcard": "wildcard",
    "unsigned_long": "unsigned-long",
    "version": "x-pack-versionfield",
    "aggregate_metric_double": "x-pack-aggregate-metric",
    "histogram": "x-pack-analytics",
    "geo_shape": "spatial",
    "shape": "spatial",
    "point": "spatial",
    "counted_keyword": "counted-keyword",
    "icu_collation_keyword": "analysis-icu",
    "murmur3": "mapper-murmur3",
}

#: Name prefixes of components that plugins (not in any distribution) provide.
PLUGIN_PREFIXES = {
    "icu_": "analysis-icu",
    "kuromoji": "analysis-kuromoji",
    "nori": "analysis-nori",
    "smartcn": "analysis-smartcn",
    "phonetic": "analysis-phonetic",
    "polish": "analysis-stempel",
    "ukrainian": "analysis-ukrainian",
}

_SECTION_WORDS = {
    "filter": "token filter",
    "tokenizer": "tokenizer",
    "char_filter": "char filter",
    "analyzer": "analyzer",
}


@dataclass(frozen=True)
class Requirement:
    """A component or field type an index body uses, and the module that provides it."""

    what: str  # "token filter 'stemmer'", "field type 'search_as_you_type'"
    where: str  # "SETTINGS['analysis']['filter']['english_stemmer']", "field 'title'"
    module: str


def _module_of(section: str, name: str) -> str | None:
    for module, sections in MODULE_COMPONENTS.items():
        if name in sections.get(section, ()):
            return module
    for prefix, plugin in PLUGIN_PREFIXES.items():
        if name.startswith(prefix):
            return plugin
    return None


def _analysis_of(settings: Mapping[str, Any]) -> Mapping[str, Any]:
    analysis = settings.get("analysis")
    if analysis is None and isinstance(settings.get("index"), Mapping):
        analysis = settings["index"].get("analysis")
    return analysis if isinstance(analysis, Mapping) else {}


def requirements(body: Mapping[str, Any]) -> list[Requirement]:
    """Return what the index ``body`` (settings, mappings) needs from modules."""
    found: list[Requirement] = []
    analysis = _analysis_of(body.get("settings") or {})
    defined = {
        section: set(definitions) if isinstance(definitions, Mapping) else set()
        for section, definitions in analysis.items()
    }

    def need(section: str, name: Any, where: str) -> None:
        if not isinstance(name, str) or name in defined.get(section, ()):
            return
        module = _module_of(section, name)
        if module is not None:
            found.append(Requirement(f"{_SECTION_WORDS[section]} '{name}'", where, module))

    for section, definitions in analysis.items():
        if not isinstance(definitions, Mapping) or section not in (*_SECTION_WORDS, "normalizer"):
            continue
        for name, definition in definitions.items():
            if not isinstance(definition, Mapping):
                continue
            where = f"SETTINGS['analysis'][{section!r}][{name!r}]"
            if section != "normalizer":
                kind = definition.get("type")
                if kind != "custom":
                    need(section, kind, where)
            if section in ("analyzer", "normalizer"):
                need("tokenizer", definition.get("tokenizer"), where)
                for part in ("filter", "char_filter"):
                    parts = definition.get(part) or []
                    for item in [parts] if isinstance(parts, str) else parts:
                        need(part, item, where)
    for path, spec in _fields(body.get("mappings") or {}, ""):
        kind = spec.get("type")
        if isinstance(kind, str) and kind in FIELD_TYPE_MODULES:
            found.append(
                Requirement(f"field type '{kind}'", f"field '{path}'", FIELD_TYPE_MODULES[kind])
            )
        for parameter in ("analyzer", "search_analyzer", "search_quote_analyzer"):
            need("analyzer", spec.get(parameter), f"field '{path}'")
    return list(dict.fromkeys(found))


def _fields(mapping: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for name, spec in (mapping.get("properties") or {}).items():
        if not isinstance(spec, Mapping):
            continue
        yield f"{prefix}{name}", spec
        yield from _fields(spec, f"{prefix}{name}.")
        yield from _fields({"properties": spec.get("fields") or {}}, f"{prefix}{name}.")


def node_modules(client: Any) -> set[str]:
    """Return the modules and plugins every node of ``client``'s cluster has."""
    nodes = client.nodes.info(
        metric="plugins", filter_path="nodes.*.modules.name,nodes.*.plugins.name"
    ).body.get("nodes", {})
    found: set[str] | None = None
    for node in nodes.values():
        names = {item["name"] for part in ("modules", "plugins") for item in node.get(part) or []}
        found = names if found is None else found & names
    return found or set()


def missing_modules(client: Any, body: Mapping[str, Any]) -> list[Requirement]:
    """Return what ``body`` needs from a module some node of the cluster lacks."""
    needed = requirements(body)
    if not needed:
        return []
    present = node_modules(client)
    return [requirement for requirement in needed if requirement.module not in present]


#: What to do when a node lacks a module.
MODULE_FIX = (
    "Run a full Elasticsearch distribution (e.g. 'scripts/es-node start --home "
    "/path/to/elasticsearch-<version>' with one you unpacked, or the official container image), "
    "install the plugin, or use components the node has."
)


def describe(missing: list[Requirement], key: str) -> str:
    """Return which modules the node lacks and what of ES_INDICES[key] needs each."""
    lines = []
    for module in dict.fromkeys(requirement.module for requirement in missing):
        uses = [r for r in missing if r.module == module]
        shown = "; ".join(f"{r.what} ({_where(key, r.where)})" for r in uses)
        lines.append(f"the node lacks the module '{module}', which provides {shown}")
    return "; ".join(lines)


def explain(missing: list[Requirement], key: str) -> str:
    """Return a message naming each missing module, what needs it, and the fix."""
    return f"{describe(missing, key)}. {MODULE_FIX}"


def _where(key: str, where: str) -> str:
    if where.startswith("SETTINGS"):
        return f"ES_INDICES[{key!r}]['SETTINGS']" + where.removeprefix("SETTINGS")
    return f"{where} of ES_INDICES[{key!r}]"


def _reason(error: Any) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        found = body["error"]
        causes = [found, *(found.get("root_cause") or []), found.get("caused_by") or {}]
        return " ".join(str(cause.get("reason", "")) for cause in causes if cause)
    return str(error)


def _mentioned(body: Mapping[str, Any], reason: str) -> list[str]:
    """Return the settings paths and fields of ``body`` whose names the error's reason cites."""
    cited = set(re.findall(r"\[([^\[\]]+)\]", reason))
    found = []
    analysis = _analysis_of(body.get("settings") or {})
    for section, definitions in analysis.items():
        if isinstance(definitions, Mapping):
            for name in definitions:
                if name in cited:
                    found.append(f"SETTINGS['analysis'][{section!r}][{name!r}]")
    for path, _spec in _fields(body.get("mappings") or {}, ""):
        if path in cited or path.rsplit(".", 1)[-1] in cited:
            found.append(f"field '{path}'")
    return found


def hints(backend: Any, key: str, body: Mapping[str, Any], error: Any) -> list[str]:
    """Return sentences on what of index ``key`` (declared as ``body``) the refusal ``error``
    concerns: the settings or fields it cites, and the modules the node lacks."""
    found = []
    cited = _mentioned(body, _reason(error))
    if cited:
        found.append("It concerns " + ", ".join(_where(key, where) for where in cited) + ".")
    missing: list[Requirement] = []
    if requirements(body):
        try:
            missing = missing_modules(backend.client, body)
        except Exception:  # the explanation must not hide the error it explains
            missing = []
    if missing:
        text = explain(missing, key)
        found.append(text[0].upper() + text[1:])
    return found


def explain_creation_error(backend: Any, key: str, body: Mapping[str, Any], error: Any) -> str:
    """Return why creating index ``key`` (from ``body``) failed, with the setting and the fix.

    Asks the nodes for their modules when the body uses a component some node may lack.
    """
    name = backend.get_index(key)["NAME"]
    found = hints(backend, key, body, error) or [
        f"Check ES_INDICES[{key!r}]['SETTINGS'] and the Documents' fields."
    ]
    return (
        f"Elasticsearch refused to create the index '{name}' of ES_INDICES[{key!r}]: "
        f"{backend.redact(str(error))}. {' '.join(found)}"
    )
