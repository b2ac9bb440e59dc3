"""djangoes.backends.drift: the one answer to "does the live index match its declaration",
read by the kept test indices (creation) and by ``search_index status``/``migrate`` (schema)."""

from __future__ import annotations

import uuid

import elasticsearch
import pytest

from djangoes import ConnectionHandler
from djangoes.backends import drift
from djangoes.signals import prepare_index_body
from djangoes.test.utils import setup_djangoes, teardown_djangoes
from tests.settings import ES_URL

MAPPINGS = {
    "properties": {
        "suggest": {"type": "completion"},
        "vector": {"type": "dense_vector", "dims": 3},
        "title": {"type": "text", "fields": {"raw": {"type": "keyword"}}},
    }
}


@pytest.fixture
def client():
    client = elasticsearch.Elasticsearch(ES_URL)
    name = f"drift_{uuid.uuid4().hex[:8]}"
    client.options(ignore_status=404).indices.delete(index=name)
    yield client, name
    client.options(ignore_status=404).indices.delete(index=name)
    client.close()


def live(client, name):
    found = client.indices.get(index=name, flat_settings=True).body[name]
    return {"mappings": found["mappings"], "settings": found["settings"]}


def test_an_index_made_from_a_declaration_matches_it(client):
    client, name = client
    declared = {"settings": {"index": {"number_of_shards": 1}}, "mappings": MAPPINGS}
    client.indices.create(index=name, **declared)
    assert live(client, name)["mappings"] != MAPPINGS  # the server filled in its defaults
    assert drift.compare(client, declared, live(client, name)) == []


def test_what_the_declaration_changes_is_found(client):
    client, name = client
    client.indices.create(index=name, mappings=MAPPINGS)
    changed = {
        "properties": {
            **MAPPINGS["properties"],
            "suggest": {"type": "completion", "preserve_separators": False},
            "title": {"type": "text"},
            "extra": {"type": "keyword"},
        }
    }
    found = {
        (d.where, d.what, d.in_place)
        for d in drift.compare(client, {"mappings": changed}, live(client, name))
    }
    assert found == {
        ("field suggest", "preserve_separators changed", False),
        ("field title.raw", "removed field", False),
        ("field extra", "new field", True),
    }


def test_settings_have_one_normal_form():
    nested = {"index": {"number_of_shards": 1, "analysis": {"filter": {"f": {"stopwords": ["a"]}}}}}
    dotted = {"index.number_of_shards": "1", "analysis.filter.f.stopwords": ["a"]}
    assert drift.flat_settings(nested) == drift.flat_settings(dotted)
    assert drift.diff_settings(nested, dotted) == []
    (difference,) = drift.diff_settings({"number_of_shards": 2}, dotted)
    assert (difference.where, difference.in_place) == ("setting index.number_of_shards", False)


def test_a_kept_test_index_with_server_defaults_is_used_again(capsys):
    """keepdb keeps a test index whose mapping the server completed (a completion field)."""
    tag = uuid.uuid4().hex[:8]
    handler = ConnectionHandler(
        servers={"default": {"HOSTS": [ES_URL], "INDICES": ["suggestions"]}},
        indices={"suggestions": {"NAME": f"drift_keep_{tag}", "SETTINGS": {"number_of_shards": 1}}},
    )

    def add_mappings(*, backend, key, body, **kwargs):
        if backend.alias == "default" and key == "suggestions":
            body["mappings"] = MAPPINGS

    prepare_index_body.connect(add_mappings)
    try:
        for _ in range(2):
            state = setup_djangoes(suffix="_k", handler=handler, verbosity=1, keepdb=True)
            teardown_djangoes(state, verbosity=1)
        err = capsys.readouterr().err
        assert f"Using existing test index 'test_drift_keep_{tag}_k'" in err
        assert "no longer matches" not in err
    finally:
        prepare_index_body.disconnect(add_mappings)
        handler.close_all()
        plain = elasticsearch.Elasticsearch(ES_URL)
        plain.indices.delete(index=f"test_drift_keep_{tag}_k", ignore_unavailable=True)
        plain.close()
