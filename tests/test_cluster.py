"""A three-node cluster: a node stopped during signal writes and during a rebuild.

The cluster is the tests' own (tests/cluster.py, started by scripts/es-node, members stopped
and started by PID); every index has one replica. Each scenario ends with an exact comparison
of the database and the index: 0 lost, 0 stale, 0 ghosts.
"""

from __future__ import annotations

import pytest
from django.test import override_settings

from djangoes_dsl.models import PendingOperation
from tests.apps.shop.search_indices import ProductDocument
from tests.cluster import Cluster, start_cluster
from tests.faults import compare
from tests.indexing_utils import product_documents, product_rows
from tests.test_faults import catalogue, changes, sync

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
    pytest.mark.cluster,
]


@pytest.fixture(scope="module")
def cluster():
    cluster = start_cluster()
    yield cluster
    cluster.stop()


@pytest.fixture
def on_cluster(cluster: Cluster):
    for url in cluster.urls:
        if url not in cluster.live():
            cluster.start_member(url)
    with cluster.serving(replicas=1):
        yield cluster


def product_index() -> str:
    from djangoes import connections

    return connections["default"].concrete_indices(ProductDocument.get_index_name())[0]


@override_settings(DJANGOES_DURABLE=True)
def test_signal_writes_during_a_node_loss_are_kept_and_delivered(on_cluster: Cluster):
    shoes, _, red = catalogue()
    changes(shoes, red, 0, 20)
    assert compare(product_rows(), product_documents()).exact

    # The node holding the primary stops: its replica takes over. Durable mode: every
    # operation is in the outbox before it is sent, whatever the node loss does to it.
    victim = on_cluster.node_of_primary(product_index())
    on_cluster.stop_member(victim)
    try:
        changes(shoes, red, 20, 20)
        kept = PendingOperation.objects.count()
        one_down = compare(product_rows(), product_documents())
    finally:
        on_cluster.start_member(victim)

    out = sync()
    after = compare(product_rows(), product_documents())
    print(
        f"\nnode {victim} stopped during signal writes: {kept} operations waiting in the outbox, "
        f"{one_down} while it was down; after restart and one sync {after}"
    )
    assert "0 to retry later, 0 refused" in out
    assert after.exact, after
    assert PendingOperation.objects.count() == 0


def test_a_rebuild_completes_and_swaps_while_a_node_is_stopped_and_restarted(
    on_cluster: Cluster,
):
    from djangoes import connections
    from djangoes_dsl.journal import journal_index
    from djangoes_dsl.rebuild import Rebuild

    shoes, _, red = catalogue(products=400)
    before = product_index()
    name = ProductDocument.get_index_name()
    stopped: list[str] = []

    def midway(done: int, total: int) -> None:
        # After the first page the member holding the new index's primary stops; saves go on
        # meanwhile; two pages later it starts again, and the fill goes on.
        if not stopped:
            (new_index,) = set(connections["default"].client.indices.get(index=f"{name}-*")) - {
                before,
                journal_index(name),
            }
            stopped.append(on_cluster.node_of_primary(new_index))
            on_cluster.stop_member(stopped[0])
            changes(shoes, red, 0, 10)
        elif len(stopped) == 1 and done >= 150:
            on_cluster.start_member(stopped[0])
            stopped.append("started")

    job = Rebuild("products", chunk_size=50, processes=0, progress=midway)
    job.run()
    out = sync()
    after = compare(product_rows(), product_documents())
    print(
        f"\nrebuild with one replica, {stopped[0]} stopped after the first page and started "
        f"again midway: {job.new_index} replaced {before}; after one sync {after}"
    )
    assert stopped[1:] == ["started"]
    assert product_index() == job.new_index != before
    client = connections["default"].client
    # The old index and the journal are gone: only the new index is left.
    assert set(client.indices.get(index=f"{name}*")) == {job.new_index}
    assert (
        client.indices.get_settings(index=job.new_index)[job.new_index]["settings"]["index"][
            "number_of_replicas"
        ]
        == "1"
    )
    assert "0 to retry later, 0 refused" in out
    assert after.exact, after
    assert PendingOperation.objects.count() == 0
