"""What a node can run: each analysis component and field type an index uses is traced to the
module that provides it, and a node without that module is named with the fix, at
``check --deploy``, at ``search_index create`` and in the test setup."""

from __future__ import annotations

import copy
import io
import uuid

import elasticsearch
import pytest
from django.conf import settings
from django.core import checks
from django.core.management import CommandError, call_command
from django.test import override_settings

from djangoes import ConnectionHandler, IndexCreationError
from djangoes.backends import capabilities
from djangoes.backends.creation import TestIndexCreationError
from djangoes.test.utils import setup_djangoes
from tests.settings import ES_URL

ENGLISH = {
    "analysis": {
        "filter": {"english_stemmer": {"type": "stemmer", "language": "english"}},
        "char_filter": {"no_html": {"type": "html_strip"}},
        "analyzer": {
            "english_text": {
                "type": "custom",
                "tokenizer": "standard",
                "char_filter": ["no_html"],
                "filter": ["lowercase", "english_stemmer", "asciifolding"],
            },
            "plain": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase"]},
        },
    }
}
MAPPINGS = {
    "properties": {
        "title": {"type": "text", "analyzer": "english_text"},
        "summary": {"type": "text", "analyzer": "english", "fields": {"raw": {"type": "keyword"}}},
        "suggest": {"type": "search_as_you_type"},
        "plain": {"type": "text", "analyzer": "plain"},
    }
}


def node_has(module: str) -> bool:
    client = elasticsearch.Elasticsearch(ES_URL)
    try:
        return module in capabilities.node_modules(client)
    finally:
        client.close()


needs_a_core_node = pytest.mark.skipif(
    node_has("analysis-common"),
    reason="the node has analysis-common (a full distribution): nothing is missing",
)


def test_what_a_body_needs_from_modules():
    found = {
        (r.what, r.where, r.module)
        for r in capabilities.requirements({"settings": ENGLISH, "mappings": MAPPINGS})
    }
    assert found == {
        (
            "token filter 'stemmer'",
            "SETTINGS['analysis']['filter']['english_stemmer']",
            "analysis-common",
        ),
        (
            "char filter 'html_strip'",
            "SETTINGS['analysis']['char_filter']['no_html']",
            "analysis-common",
        ),
        (
            "token filter 'asciifolding'",
            "SETTINGS['analysis']['analyzer']['english_text']",
            "analysis-common",
        ),
        ("analyzer 'english'", "field 'summary'", "analysis-common"),
        ("field type 'search_as_you_type'", "field 'suggest'", "mapper-extras"),
    }
    # Names defined in SETTINGS and core components need nothing.
    assert capabilities.requirements({"mappings": {"properties": {"x": {"type": "keyword"}}}}) == []


def test_the_node_tells_its_modules():
    client = elasticsearch.Elasticsearch(ES_URL)
    try:
        modules = capabilities.node_modules(client)
    finally:
        client.close()
    assert "x-pack-core" in modules or "transport-netty4" in modules


def handler_with(settings_: dict, tag: str) -> ConnectionHandler:
    return ConnectionHandler(
        servers={"default": {"HOSTS": [ES_URL], "INDICES": ["articles"]}},
        indices={"articles": {"NAME": f"caps_{tag}", "SETTINGS": settings_}},
    )


def refusal(settings_: dict, tag: str) -> IndexCreationError:
    """Return the error of creating ES_INDICES['articles'] with ``settings_``."""
    handler = handler_with(settings_, tag)
    try:
        with pytest.raises(IndexCreationError) as raised:
            handler["default"].create_index("articles")
    finally:
        handler.close_all()
    return raised.value


def setup_error(handler: ConnectionHandler) -> TestIndexCreationError:
    """Return the error the test setup of ``handler`` stops with."""
    try:
        with pytest.raises(TestIndexCreationError) as raised:
            setup_djangoes(suffix="_setup", handler=handler)
    finally:
        handler.use_test_settings(False)
        handler.close_all()
    return raised.value


@needs_a_core_node
def test_creating_an_index_a_node_cannot_run_names_the_module_and_the_setting():
    tag = uuid.uuid4().hex[:8]
    error = refusal(ENGLISH, tag)
    message = str(error)
    assert f"Elasticsearch refused to create the index 'caps_{tag}' of ES_INDICES['articles']" in (
        message
    )
    assert "lacks the module 'analysis-common', which provides token filter 'stemmer' (" in message
    assert (
        "(ES_INDICES['articles']['SETTINGS']['analysis']['filter']['english_stemmer'])" in message
    )
    assert "char filter 'html_strip'" in message
    assert "scripts/es-node start --home" in message
    assert isinstance(error, elasticsearch.ApiError)  # callers catching ApiError still do
    assert error.status_code == 400


def test_a_refusal_without_missing_modules_names_the_setting():
    tag = uuid.uuid4().hex[:8]
    broken = {"analysis": {"analyzer": {"x": {"type": "custom", "tokenizer": "no_such_thing"}}}}
    message = str(refusal(broken, tag))
    assert "ES_INDICES['articles']" in message
    assert "It concerns ES_INDICES['articles']['SETTINGS']['analysis']['analyzer']['x']" in message


@needs_a_core_node
def test_the_test_setup_says_which_module_is_missing():
    error = setup_error(handler_with(ENGLISH, uuid.uuid4().hex[:8]))
    assert "lacks the module 'analysis-common'" in str(error)


def with_english() -> dict:
    """Return settings with one more index, 'english', whose SETTINGS use analysis-common."""
    servers = copy.deepcopy(settings.ES_SERVERS)
    servers["default"]["INDICES"] = [*servers["default"]["INDICES"], "english"]
    indices = copy.deepcopy(settings.ES_INDICES)
    indices["english"] = {"NAME": f"caps_english_{uuid.uuid4().hex[:8]}", "SETTINGS": ENGLISH}
    return {"ES_SERVERS": servers, "ES_INDICES": indices}


@needs_a_core_node
@pytest.mark.django_db
def test_search_index_create_says_which_module_is_missing():
    with override_settings(**with_english()), pytest.raises(CommandError) as raised:
        call_command("search_index", "create", "english", stdout=io.StringIO())
    assert "lacks the module 'analysis-common'" in str(raised.value)
    assert "ES_INDICES['english']['SETTINGS']['analysis']['filter']['english_stemmer']" in str(
        raised.value
    )


@needs_a_core_node
@pytest.mark.django_db
def test_check_deploy_names_the_missing_module():
    with override_settings(**with_english()):
        found = [
            m for m in checks.run_checks(include_deployment_checks=True) if m.id.endswith("E042")
        ]
    (error,) = found
    assert error.id == "djangoes_dsl.E042"
    assert "The index 'english' cannot be created on ES_SERVERS['default']" in error.msg
    assert "token filter 'stemmer'" in error.msg
    assert "full Elasticsearch distribution" in error.hint


@pytest.mark.django_db
def test_check_deploy_is_silent_for_what_the_node_runs():
    found = [m for m in checks.run_checks(include_deployment_checks=True) if m.id.endswith("E042")]
    assert found == []


@needs_a_core_node
@pytest.mark.django_db(transaction=True)
def test_a_rebuild_says_which_module_is_missing():
    indices = copy.deepcopy(settings.ES_INDICES)
    indices["articles"]["SETTINGS"] = {**(indices["articles"].get("SETTINGS") or {}), **ENGLISH}
    with override_settings(ES_INDICES=indices), pytest.raises(CommandError) as raised:
        call_command("search_index", "rebuild", "articles", "--no-input", stdout=io.StringIO())
    message = str(raised.value)
    assert message.startswith("search_index rebuild failed: BadRequestError(400")
    assert "The node lacks the module 'analysis-common', which provides" in message
    assert "ES_INDICES['articles']['SETTINGS']['analysis']['filter']['english_stemmer']" in message
    assert message.count("The node lacks the module") == 1  # said once


@needs_a_core_node
@pytest.mark.django_db(transaction=True)
def test_a_create_says_which_module_is_missing_once():
    indices = copy.deepcopy(settings.ES_INDICES)
    articles = indices["articles"]
    articles["NAME"] = f"{articles['NAME']}_analysis"
    articles["SETTINGS"] = {**(articles.get("SETTINGS") or {}), **ENGLISH}
    with override_settings(ES_INDICES=indices), pytest.raises(CommandError) as raised:
        call_command("search_index", "create", "articles", stdout=io.StringIO())
    message = str(raised.value)
    assert "The node lacks the module 'analysis-common', which provides" in message
    assert message.count("The node lacks the module") == 1
    assert message.count("It concerns") == 1
