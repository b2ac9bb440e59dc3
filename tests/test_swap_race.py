"""A write in flight across a rebuild's alias swap: applied to the new index, never lost.

The race, made deterministic. A writer's bulk request carries each row's document action
(to NAME, resolved by the node to the old index before the swap) and its journal action (to
the rebuild's marker). The node is made to hold the journal actions after it resolved the
names: the journal gets a replica that cannot be allocated on a single node and
``index.write.wait_for_active_shards: all``, so Elasticsearch applies the document actions to
the old index at once and waits with the journal actions (a documented behaviour of writes,
not a trick of ours). The rebuild then swaps and replays; right after its replay that follows
the swap, the test lets the journal actions through and waits until the writer is done —
the worst moment: the journal entries land after the replay read the journal, just before
the old index is deleted. Or it holds them until the rebuild has finished (the journal and the
old index deleted), and only then waits for the writer: the rebuild waits for no writer.
Every delivery mode must end with the database and the index
equal, row by row, without ``search_index sync``, and with nothing left in the outbox.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import override_settings

from djangoes import connections
from djangoes_dsl import indexing_paused
from djangoes_dsl.journal import journal_index
from djangoes_dsl.models import PendingOperation
from djangoes_dsl.rebuild import Rebuild
from tests.apps.shop.models import Category, Product, Tag
from tests.apps.shop.search_indices import ProductDocument
from tests.faults import compare
from tests.indexing_utils import delivered, fresh_index, product_documents, product_rows
from tests.workers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 60.0  # seconds: a bound on every wait, so a broken test fails instead of hanging


@pytest.fixture(autouse=True)
def fresh_products():
    with fresh_index(ProductDocument):
        yield


def client() -> Any:
    return connections["default"].client


class HeldAfterSwap(Rebuild):
    """A rebuild that calls ``after_swap()`` once, right after its first replay that follows
    the swap (before the old index is deleted)."""

    def __init__(self, *args: Any, after_swap: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.after_swap: Callable[[], None] | None = after_swap

    def replay(self) -> int:
        replayed = super().replay()
        if self.swapped and self.after_swap is not None:
            after_swap, self.after_swap = self.after_swap, None
            after_swap()
        return replayed


def hold_journal_writes(job: Rebuild) -> None:
    """Make the node hold every write to the rebuild's journal (after resolving its names)."""
    client().indices.put_settings(
        index=journal_index(job.name),
        settings={"index": {"number_of_replicas": 1, "write.wait_for_active_shards": "all"}},
    )


def release_journal_writes(job: Rebuild) -> None:
    client().indices.put_settings(
        index=journal_index(job.name),
        settings={"index": {"number_of_replicas": 0, "write.wait_for_active_shards": None}},
    )


def catalogue() -> tuple[Category, Tag]:
    shoes = Category.objects.create(name="shoes")
    red = Tag.objects.create(name="red")
    with indexing_paused():
        Product.objects.bulk_create(
            Product(sku=f"P-{n}", title=f"Product {n}", category=shoes) for n in range(40)
        )
    # The index serves behind the NAME alias, as after any earlier rebuild.
    Rebuild("products", processes=0).run()
    assert compare(product_rows(), product_documents()).exact
    return shoes, red


def change(red: Tag, ids: dict[str, Any], known: threading.Event | None = None) -> None:
    """One transaction: a title, a many-to-many link, a new row and a deleted row.

    ``ids`` gets the rows' ids (and ``known`` is set) before the commit.
    """
    rows = list(Product.objects.order_by("pk")[:2])
    with transaction.atomic():
        rows[0].title = "changed in flight"
        rows[0].save()
        rows[0].tags.add(red)
        created = Product.objects.create(sku="NEW", title="created in flight")
        ids.update(changed=str(rows[0].pk), created=str(created.pk), deleted=str(rows[1].pk))
        rows[1].delete()
        if known is not None:
            known.set()


def applied_to(index: str, expected: dict[str, Any]) -> bool:
    """Whether the writer's document actions were applied to ``index`` (real-time gets)."""
    found = client().mget(
        index=index,
        ids=[expected["changed"], expected["created"], expected["deleted"]],
        realtime=True,
    )["docs"]
    changed, created, deleted = found
    return (
        changed.get("_source", {}).get("title") == "changed in flight"
        and created.get("found", False)
        and not deleted.get("found", False)
    )


def run_race(
    write: Callable[[], dict[str, Any]], writer_done: Callable[[], None], *, finish_first: bool
) -> str:
    """Rebuild with the writer's journal actions held across the swap; return the old index.

    ``write()`` commits the change (its delivery may still be under way when it returns);
    ``writer_done()`` returns once that delivery has ended. The journal actions are let
    through right after the replay that follows the swap; with ``finish_first`` never: the
    rebuild finishes (the journal and the old index deleted) while they are held, and only
    then does the test wait for the writer.
    """
    job = HeldAfterSwap(
        "products",
        processes=0,
        after_swap=lambda: None if finish_first else release(),
    )

    def release() -> None:
        release_journal_writes(job)
        writer_done()

    job.start()
    try:
        job.fill()
        (old,) = job.old
        hold_journal_writes(job)
        expected = write()
        # The node resolved NAME to the old index: the document actions are applied there,
        # the journal actions are held.
        wait_for(
            lambda: "error" in expected or applied_to(old, expected),
            "the writer's bulk request",
            WAIT,
        )
        if "error" in expected:
            raise expected["error"]
        job.finish()
    except BaseException:
        job.abort()
        raise
    assert not client().indices.exists(index=old)
    if finish_first:
        writer_done()  # the rebuild waited for no writer
    return old


def in_thread(red: Tag) -> tuple[Callable[[], dict[str, Any]], Callable[[], None]]:
    """A writer in a thread of its own: it commits and sends (inline delivery)."""
    ids: dict[str, Any] = {}
    known = threading.Event()

    def writer() -> None:
        try:
            change(red, ids, known)
        except BaseException as exc:
            ids["error"] = exc
            known.set()
        finally:
            connection.close()

    thread = threading.Thread(target=writer)

    def write() -> dict[str, Any]:
        thread.start()
        assert known.wait(WAIT), "the writer did not get to its commit"
        return ids  # committing now; then blocked in its bulk request

    def done() -> None:
        thread.join(WAIT)
        assert not thread.is_alive(), "the writer's bulk request did not end"
        assert "error" not in ids, ids.get("error")

    return write, done


def check(mode: str) -> None:
    after = compare(product_rows(), product_documents())
    waiting = PendingOperation.objects.filter(state=PendingOperation.State.PENDING).count()
    failed = PendingOperation.objects.filter(state=PendingOperation.State.FAILED).count()
    print(f"\nwrite in flight across the swap ({mode}): {after}; outbox {waiting} pending, "
          f"{failed} failed")  # fmt: skip
    assert after.exact, after
    assert (waiting, failed) == (0, 0)


def moment(finish_first: bool) -> str:
    return "held until the rebuild finished" if finish_first else "held past the last replay"


FINISH = pytest.mark.parametrize(
    "finish_first", [False, True], ids=["released after the last replay", "rebuild finished"]
)


@FINISH
@pytest.mark.parametrize("durable", [False, True], ids=["inline", "durable"])
def test_a_write_in_flight_across_the_swap_reaches_the_new_index(durable, finish_first):
    _, red = catalogue()
    with override_settings(DJANGOES_DURABLE=durable):
        write, done = in_thread(red)
        run_race(write, done, finish_first=finish_first)
        check(f"{'durable' if durable else 'inline'}, {moment(finish_first)}")


@FINISH
@pytest.mark.postgres
@pytest.mark.workers
def test_a_queued_write_in_flight_across_the_swap_reaches_the_new_index(queued, finish_first):
    _, red = catalogue()

    def write() -> dict[str, Any]:
        ids: dict[str, Any] = {}
        change(red, ids)  # committed here; the task worker sends it
        return ids

    def done() -> None:
        wait_for(delivered, "the worker to deliver the change", WAIT)

    run_race(write, done, finish_first=finish_first)
    check(f"queued, {queued.engine}, {moment(finish_first)}")
