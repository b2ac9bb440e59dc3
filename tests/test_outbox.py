"""Nothing lost: failed writes wait in the outbox and reach the index with one sync."""

from __future__ import annotations

import copy
import io
import logging

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import override_settings

from djangoes_dsl import outbox
from djangoes_dsl.clock import ManualClock
from djangoes_dsl.models import PendingOperation
from tests.apps.shop.models import Category, Product, Tag
from tests.apps.shop.search_indices import ProductDocument
from tests.indexing_utils import product_documents, product_rows, reset_index
from tests.settings import ES_SERVERS

pytestmark = pytest.mark.django_db(transaction=True)

#: The same settings with a node that refuses every connection.
NODE_DOWN = {
    "default": {
        **ES_SERVERS["default"],
        "HOSTS": ["http://127.0.0.1:1"],
        "PARAMS": {"request_timeout": 2, "max_retries": 0},
    }
}


@pytest.fixture(autouse=True)
def fresh_products():
    reset_index(ProductDocument)


def sync(*args: str) -> str:
    out = io.StringIO()
    call_command("search_index", "sync", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_writes_made_while_the_node_is_down_are_kept_and_synced(caplog):
    shoes = Category.objects.create(name="shoes")
    red = Tag.objects.create(name="red")
    kept = [
        Product.objects.create(sku=f"K-{n}", title=f"Kept {n}", category=shoes) for n in range(5)
    ]
    doomed = Product.objects.create(sku="D-1", title="Doomed", category=shoes)
    assert product_documents() == product_rows()

    with override_settings(ES_SERVERS=NODE_DOWN), caplog.at_level(logging.ERROR):
        Product.objects.create(sku="A-1", title="autocommit save")
        with transaction.atomic():
            for n in range(20):
                Product.objects.create(sku=f"T-{n}", title=f"In a transaction {n}")
        kept[0].title = "renamed while down"
        kept[0].save()
        kept[1].tags.add(red)
        doomed.delete()
        shoes.name = "boots"  # a related rename: every shoe's document changes
        shoes.save()
    assert "indexing operation(s) failed" in caplog.text

    # Every change is in the database; the index is behind.
    assert len(product_rows()) == 26
    assert product_documents() != product_rows()
    waiting = outbox.status()
    assert sum(entry.pending for entry in waiting) > 0

    out = sync()

    assert "0 to retry later, 0 refused" in out
    assert product_documents() == product_rows()
    assert product_documents()[str(kept[0].pk)] == ("renamed while down", "boots", [])
    assert product_documents()[str(kept[1].pk)] == ("Kept 1", "boots", ["red"])
    assert str(doomed.pk) not in product_documents()
    assert PendingOperation.objects.count() == 0


def test_a_refused_write_is_kept_marked_and_reported_until_fixed(broken_product_mapping):
    product = Product.objects.create(sku="not-a-number", title="refused")
    (row,) = PendingOperation.objects.all()
    assert (row.state, row.object_pk, row.action) == ("failed", str(product.pk), "index")
    assert "document_parsing_exception" in row.last_error or "mapper_parsing" in row.last_error

    with pytest.raises(CommandError, match="refused by Elasticsearch remain in the outbox"):
        sync()  # refused writes are not sent again by themselves: the exit says so
    assert PendingOperation.objects.filter(state="failed").count() == 1
    out = io.StringIO()
    with pytest.raises(CommandError) as status:
        call_command("search_index", "status", "products", stdout=out)
    assert status.value.returncode == 1
    assert "ProductDocument: 0 pending, 1 refused" in out.getvalue()

    reset_index(ProductDocument)  # the fix
    sync("--include-failed")
    assert product_documents() == product_rows()
    assert PendingOperation.objects.count() == 0


def test_retries_back_off_with_a_cap(monkeypatch):
    clock = ManualClock()  # the delays, to the microsecond
    monkeypatch.setattr(outbox, "clock", clock)
    with override_settings(
        ES_SERVERS=NODE_DOWN, DJANGOES_RETRY_BACKOFF=2, DJANGOES_RETRY_MAX_BACKOFF=10
    ):
        product = Product.objects.create(sku="B-1", title="backing off")
        delays = []
        for _ in range(5):
            result = outbox.drain()
            assert (result.sent, result.retried_later) == (0, 1)
            row = PendingOperation.objects.get()
            delays.append((row.next_attempt - outbox.now()).total_seconds())
            clock.advance(1)  # the next drain comes a second later
    assert row.attempts == 6
    # 2 x 2^(attempts - 2) seconds, capped at 10, less up to 20% of jitter.
    for delay, expected in zip(delays, [4, 8, 10, 10, 10], strict=True):
        assert 0.8 * expected <= delay <= expected
    sync()
    assert set(product_documents()) == {str(product.pk)}


def test_the_outbox_stays_empty_while_the_cluster_is_healthy():
    with transaction.atomic():
        for n in range(10):
            Product.objects.create(sku=f"H-{n}", title=f"Healthy {n}")
    Product.objects.first().delete()
    assert PendingOperation.objects.count() == 0
    assert product_documents() == product_rows()
    with override_settings(DJANGOES_DURABLE=True):
        with transaction.atomic():
            Product.objects.create(sku="H-D", title="durable")
            assert PendingOperation.objects.count() == 1  # recorded inside the transaction
        # Sent; the rows of sent operations are deleted as part of the delivery.
        assert PendingOperation.objects.count() == 0
    assert product_documents() == product_rows()


@override_settings(DJANGOES_DURABLE=True)
def test_durable_mode_loses_nothing_when_the_process_stops_right_after_commit():
    def stop_here():
        raise SystemExit("the process stops right after COMMIT")

    def change():
        with transaction.atomic():
            # Registered first, so it runs first after the commit: nothing is sent.
            transaction.on_commit(stop_here)
            for n in range(3):
                Product.objects.create(sku=f"S-{n}", title=f"Stopped {n}")

    with pytest.raises(SystemExit):
        change()
    assert len(product_rows()) == 3
    assert product_documents() == {}
    assert PendingOperation.objects.count() == 3

    sync()
    assert product_documents() == product_rows()
    assert PendingOperation.objects.count() == 0


@override_settings(DJANGOES_DURABLE=True)
def test_durable_mode_records_nothing_for_a_rolled_back_transaction():
    def roll_back():
        with transaction.atomic():
            Product.objects.create(sku="R-1", title="rolled back")
            raise LookupError("roll back")

    with pytest.raises(LookupError):
        roll_back()
    assert PendingOperation.objects.count() == 0
    assert product_documents() == {}


def test_two_drainers_never_claim_the_same_operations():
    with override_settings(ES_SERVERS=NODE_DOWN), transaction.atomic():
        for n in range(30):
            Product.objects.create(sku=f"C-{n}", title=f"Claimed {n}")
    rows = set(PendingOperation.objects.values_list("pk", flat=True))
    assert len(rows) == 30
    first = {row.pk for row in outbox.claim("default", 20, due_only=False)}
    second = {row.pk for row in outbox.claim("default", 20, due_only=False)}
    third = {row.pk for row in outbox.claim("default", 20, due_only=False)}
    assert len(first) == 20
    assert first.isdisjoint(second)
    assert first | second == rows
    assert third == set()  # every row is claimed, and the claims are running
    sync()  # claimed rows are left to their drainers until the lease ends
    assert PendingOperation.objects.count() == 30


def test_status_shows_the_depth_and_the_age_per_index():
    out = io.StringIO()
    call_command("search_index", "status", stdout=out)
    assert "outbox: empty" in out.getvalue()
    with override_settings(ES_SERVERS=NODE_DOWN):
        Product.objects.create(sku="S-1", title="waiting")
        Product.objects.create(sku="S-2", title="waiting")
    out = io.StringIO()
    call_command("search_index", "status", stdout=out)
    products = ProductDocument.get_index_name()
    assert f"products [default] {products}: in sync" in out.getvalue()
    assert "  outbox [default] ProductDocument: 2 pending, 0 refused; oldest waiting" in (
        out.getvalue()
    )


def test_status_exits_with_1_when_operations_wait_too_long():
    with override_settings(ES_SERVERS=NODE_DOWN):
        Product.objects.create(sku="S-1", title="waiting")
    call_command("search_index", "status", stdout=io.StringIO())  # not waiting long yet
    with (
        override_settings(DJANGOES_OUTBOX_WARN_AFTER=0.000001),
        pytest.raises(CommandError, match="needs attention") as status,
    ):
        call_command("search_index", "status", stdout=io.StringIO())
    assert status.value.returncode == 1
    assert "1 needs attention: 'products' on 'default' (its outbox)." in str(status.value)


def test_a_deploy_check_warns_about_operations_waiting_too_long():
    from django.core import checks

    def deploy_warnings():
        return [
            m
            for m in checks.run_checks(include_deployment_checks=True)
            if m.id == "djangoes_dsl.W003"
        ]

    assert deploy_warnings() == []
    with override_settings(ES_SERVERS=NODE_DOWN):
        Product.objects.create(sku="W-1", title="waiting")
    assert deploy_warnings() == []  # not waiting long yet
    with override_settings(DJANGOES_OUTBOX_WARN_AFTER=0.000001):
        (warning,) = deploy_warnings()
    assert "1 indexing operation(s) of tests.apps.shop.search_indices.ProductDocument" in (
        warning.msg
    )
    assert "search_index sync" in warning.hint


def test_a_change_made_while_the_settings_are_invalid_is_kept_not_dropped():
    broken = copy.deepcopy(ES_SERVERS)
    broken["default"]["INDICES"] = ["products", "products", "articles"]  # a key listed twice
    with override_settings(ES_SERVERS=broken):
        product = Product.objects.create(sku="I-1", title="while misconfigured")
    (row,) = PendingOperation.objects.all()
    assert (row.state, row.object_pk) == ("failed", str(product.pk))
    assert "lists 'products' twice" in row.last_error
    assert product_documents() == {}
    sync("--include-failed")  # the settings are right again
    assert product_documents() == product_rows()
    assert PendingOperation.objects.count() == 0


def _durable_writer(number: int, pks: list[int], results) -> None:
    """In a forked process: durable transactions of saves, bulk ORM updates, many-to-many
    links, creates and deletes; then it ends as multiprocessing's children do (no exit
    handlers run)."""
    from django.db import connections as db_connections

    db_connections.close_all()  # its own connection, not the parent's
    red = Tag.objects.get(name="red")
    mine = pks[number::3]
    for n, pk in enumerate(mine[:20]):
        with transaction.atomic():
            product = Product.objects.get(pk=pk)
            product.title = f"writer {number} save {n}"
            product.save()
            product.tags.add(red)
            Product.objects.create(sku=f"F-{number}-{n}", title=f"writer {number} new {n}")
    with transaction.atomic():
        Product.objects.filter(pk__in=mine[20:40]).update(title=f"writer {number} bulk")
    Product.objects.filter(pk__in=mine[40:45]).delete()
    db_connections.close_all()
    results.put(number)


@pytest.mark.postgres
@override_settings(DJANGOES_DURABLE=True)
def test_status_shows_nothing_pending_after_forked_writers():
    import multiprocessing

    from django.db import connection
    from django.db import connections as db_connections

    from tests.faults import compare

    assert connection.vendor == "postgresql"  # the children share the database
    Tag.objects.create(name="red")
    Product.objects.bulk_create(Product(sku=f"W-{n}", title=f"Row {n}") for n in range(150))
    pks = list(Product.objects.order_by("pk").values_list("pk", flat=True))
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    db_connections.close_all()
    writers = [context.Process(target=_durable_writer, args=(n, pks, results)) for n in range(3)]
    for writer in writers:
        writer.start()
    assert sorted(results.get(timeout=120) for _ in writers) == [0, 1, 2]
    for writer in writers:
        writer.join(60)
        assert writer.exitcode == 0

    assert [(e.pending, e.failed) for e in outbox.status()] == []
    assert PendingOperation.objects.count() == 0
    out = io.StringIO()
    call_command("search_index", "status", "products", stdout=out)
    assert "  outbox: empty" in out.getvalue()
    after = compare(product_rows(), product_documents())
    assert after.exact, after
    assert sum(1 for row in product_rows().values() if row[0].endswith(" bulk")) == 60
