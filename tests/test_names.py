"""The naming rules djangoes checks are Elasticsearch's: each name below is refused by
djangoes exactly when the real node refuses it (control characters excepted: djangoes refuses
them although Elasticsearch does not)."""

from __future__ import annotations

import uuid

import elasticsearch
import pytest

from djangoes.validation import alias_name_problem, index_name_problem
from tests.settings import ES_URL

NAMES = [
    # refused
    "Abc", "ABC", "_x", "-x", "+x", ".", "..", "", "a b", "a*b", "a,b", "a#b", "a|b", "a:b",
    "a/b", "a\\b", 'a"b', "a<b", "a>b", "a?b", "a" * 256, "ü" * 128, "Ünïcode",
    # accepted
    "a", "a-b", "a_b", "a.b", "x.", "a..b", "a+b", "a@b", "a%b", "a&b", "a=b", "a;b", "a'b",
    "a{b}", "a~b", "a!b", "a$b", "a(b)", "a[b]", "é-ü", "日本語", "a" * 255, "ü" * 127 + "a",
    "1", "0-9",
]  # fmt: skip
CONTROL = ["a\tb", "a\nb", "a\x00b", "a\x7fb"]


@pytest.fixture(scope="module")
def client():
    # A plain client: the probes create indices no configuration names.
    plain = elasticsearch.Elasticsearch(ES_URL, request_timeout=60)
    yield plain
    plain.close()


def accepted_as_index(client, name: str) -> bool:
    try:
        client.indices.create(index=name, settings={"number_of_shards": 1})
    except (elasticsearch.BadRequestError, elasticsearch.NotFoundError, ValueError):
        return False
    client.indices.delete(index=name)
    return True


def accepted_as_alias(client, name: str) -> bool:
    index = f"djangoes-alias-probe-{uuid.uuid4().hex[:8]}"
    try:
        client.indices.create(index=index, aliases={name: {}}, settings={"number_of_shards": 1})
    except (elasticsearch.BadRequestError, ValueError):
        return False
    finally:
        client.options(ignore_status=404).indices.delete(index=index)
    return True


@pytest.mark.parametrize("name", NAMES, ids=repr)
def test_index_names_are_refused_exactly_when_elasticsearch_refuses_them(client, name):
    assert (index_name_problem(name) is None) == accepted_as_index(client, name)


@pytest.mark.parametrize("name", NAMES, ids=repr)
def test_aliases_are_refused_exactly_when_elasticsearch_refuses_them(client, name):
    assert (alias_name_problem(name) is None) == accepted_as_alias(client, name)


@pytest.mark.parametrize("name", CONTROL, ids=repr)
def test_control_characters_are_refused_though_elasticsearch_takes_them(client, name):
    assert index_name_problem(name) == "contains a control character"
    assert alias_name_problem(name) == "contains a control character"
    assert accepted_as_index(client, name)
