"""A refusal the server explains poorly is said with the fix: blocks on an index or the
cluster, and a HOSTS path that reached Elasticsearch as part of every request."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from djangoes import ConnectionHandler, connections
from djangoes_dsl import indexing_paused
from tests.apps.shop.models import Product
from tests.settings import ES_URL
from tests.test_capabilities import setup_error

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def blocked():
    """Set a block on the products test index for one test."""
    client = connections["default"].client
    name = connections["default"].get_index("products")["NAME"]
    applied = []

    def block(setting):
        client.indices.put_settings(index=name, settings={setting: True})
        applied.append(setting)
        # After a rebuild NAME is an alias: Elasticsearch names the index behind it.
        (concrete,) = connections["default"].concrete_indices(name)
        return concrete

    yield block
    for setting in applied:
        client.indices.put_settings(index=name, settings={setting: None})


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ("index.blocks.write", "has a write block (index.blocks.write)"),
        ("index.blocks.read_only", "has a read-only block (index.blocks.read_only)"),
    ],
)
def test_a_blocked_index_is_named_with_how_to_lift_the_block(blocked, setting, says):
    with indexing_paused():
        Product.objects.create(sku="B-1", title="blocked")
    name = blocked(setting)
    with pytest.raises(CommandError) as raised:
        call_command("search_index", "populate", "products", stdout=io.StringIO())
    message = str(raised.value)
    assert f"the index '{name}' {says}, so nothing can be written there" in message.replace(
        "The index", "the index"
    )
    assert f'lift it with PUT {name}/_settings {{"{setting}": null}}' in message


def test_a_hosts_path_taken_for_an_index_name_is_explained():
    handler = ConnectionHandler(
        servers={"default": {"HOSTS": [f"{ES_URL}/elasticsearch"], "INDICES": ["notes"]}},
        indices={"notes": {"NAME": "refusal_notes"}},
    )
    message = str(setup_error(handler))
    assert "ES_SERVERS['default']['HOSTS'][0] has the path '/elasticsearch'" in message
    assert "Remove the path unless a proxy serves Elasticsearch under it." in message
