"""Zero-downtime rebuilds against the real node: alias swap, journal replay, failures."""

from __future__ import annotations

import datetime
import json
import multiprocessing
import os
import signal
import socket
import sqlite3
import sys
import threading
import time

import pytest
from django.db import transaction
from elasticsearch import BadRequestError

from djangoes import connections
from djangoes_dsl import indexing_paused, rebuild
from djangoes_dsl.clock import ManualClock
from djangoes_dsl.journal import journal_alias, journal_index
from djangoes_dsl.rebuild import Rebuild, RebuildError, populate
from tests import rebuild_processes
from tests.apps.shop.models import Category, Product, Tag
from tests.apps.shop.search_indices import ProductDocument
from tests.faults import alive
from tests.indexing_utils import fresh_index, indexed, reset_index
from tests.workers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_products():
    with fresh_index(ProductDocument):
        yield


def client():
    return connections["default"].client


def name():
    return ProductDocument.get_index_name()


def behind(alias: str) -> list[str]:
    return connections["default"].concrete_indices(alias)


def make_rows(count: int) -> None:
    shoes = Category.objects.create(name="shoes")
    red = Tag.objects.create(name="red")
    with indexing_paused():
        Product.objects.bulk_create(
            Product(sku=f"SKU-{n}", title=f"Product {n}", category=shoes) for n in range(count)
        )
        through = Product.tags.through
        through.objects.bulk_create(
            through(product_id=pk, tag_id=red.pk)
            for pk in Product.objects.values_list("pk", flat=True)[::2]
        )


def database_titles() -> dict[str, str]:
    return {str(pk): title for pk, title in Product.objects.values_list("pk", "title")}


def test_fast_source_equals_the_dsl_document():
    make_rows(4)
    for product in ProductDocument.get_queryset():
        expected = ProductDocument.from_instance(product).to_dict()
        assert ProductDocument.source(product) == expected


def test_first_rebuild_migrates_a_concrete_index_to_an_alias():
    make_rows(50)
    assert behind(name()) == [name()]  # a concrete index, as the test set-up created it

    new = Rebuild("products").run()

    assert new.startswith(f"{name()}-")
    assert behind(name()) == [new]
    assert behind(ProductDocument.get_read_index()) == [new]
    assert indexed(ProductDocument, "title") == database_titles()
    aliases = client().indices.get_alias(index=new)[new]["aliases"]
    assert set(aliases) == {name(), ProductDocument.get_read_index()}
    settings = client().indices.get_settings(index=new)[new]["settings"]["index"]
    assert settings.get("refresh_interval") is None  # restored after the fill
    assert settings["number_of_replicas"] == "0"  # as configured

    newer = Rebuild("products").run()  # a second rebuild swaps alias to alias
    assert behind(name()) == [newer]
    assert not client().indices.exists(index=new)
    assert indexed(ProductDocument, "title") == database_titles()


@pytest.mark.parametrize("fast", [True, False])
def test_a_large_fill_runs_without_refreshes_or_replicas_and_a_small_one_as_configured(fast):
    make_rows(30)
    job = Rebuild("products")
    if fast:
        job.fast_fill_rows = 30
    job.start()
    try:
        during = client().indices.get_settings(index=job.new_index)[job.new_index]["settings"]
        assert during["index"].get("refresh_interval") == ("-1" if fast else None)
        job.fill()
        job.finish()
    except BaseException:
        job.abort()
        raise
    after = client().indices.get_settings(index=job.new_index)[job.new_index]["settings"]
    assert after["index"].get("refresh_interval") is None
    assert after["index"]["number_of_replicas"] == "0"  # as configured
    assert indexed(ProductDocument, "title") == database_titles()


def test_signal_writes_go_through_the_alias_after_a_rebuild():
    make_rows(5)
    Rebuild("products").run()
    product = Product.objects.create(sku="NEW", title="after the rebuild")
    Product.objects.filter(sku="SKU-1").get().delete()
    assert indexed(ProductDocument, "title") == database_titles()
    assert str(product.pk) in indexed(ProductDocument)


def test_writes_made_during_the_fill_are_replayed():
    make_rows(300)
    first, last = Product.objects.order_by("pk")[0], Product.objects.order_by("-pk")[0]
    pages: list[tuple[int, int]] = []

    def write_after_the_second_page(done, total):
        pages.append((done, total))
        if done == 100:  # a row already read, one not read yet, a new one
            first.title = "changed after it was read"
            first.save()
            last.delete()
            Product.objects.create(sku="DURING", title="created during")

    job = Rebuild("products", chunk_size=50, processes=0, progress=write_after_the_second_page)
    job.run()

    assert pages[:2] == [(50, 300), (100, 300)]  # progress after every page, in this thread
    assert job.result.processes == 0
    assert job.replayed >= 3
    titles = indexed(ProductDocument, "title")
    assert titles == database_titles()
    assert titles[str(first.pk)] == "changed after it was read"


def test_a_failing_rebuild_leaves_the_old_index_serving(monkeypatch):
    make_rows(200)
    populate("products")
    before = behind(name())
    broken = Product.objects.order_by("pk")[150].pk

    def prepare_category(self, instance):
        if instance.pk == broken:
            raise ValueError("cannot prepare this row")
        return "x"

    monkeypatch.setattr(ProductDocument, "prepare_category", prepare_category, raising=False)
    with pytest.raises(ValueError, match="cannot prepare"):
        Rebuild("products", chunk_size=50).run()

    assert behind(name()) == before
    assert behind(ProductDocument.get_read_index()) == before
    assert len(indexed(ProductDocument)) == 200


def test_an_indexing_error_midway_is_a_rebuild_error(monkeypatch):
    make_rows(120)
    populate("products")
    before = behind(name())
    broken = Product.objects.order_by("pk")[100].pk
    monkeypatch.setattr(
        ProductDocument,
        "prepare_in_stock",
        lambda self, instance: "not a boolean" if instance.pk == broken else True,
        raising=False,
    )
    with pytest.raises(RebuildError, match=f"id {broken}"):
        Rebuild("products", chunk_size=50).run()
    assert behind(name()) == before


def test_a_new_index_the_node_refuses_leaves_no_journal_behind(monkeypatch):
    make_rows(20)
    populate("products")
    before = behind(name())
    backend = connections["default"]
    original = backend.get_index_body

    def refused_body(key, **kwargs):
        body = original(key, **kwargs)
        body["settings"]["number_of_shards"] = 0  # the node answers 400
        return body

    monkeypatch.setattr(backend, "get_index_body", refused_body)
    with pytest.raises(BadRequestError, match="number_of_shards"):
        Rebuild("products").run()
    # The journal was created alongside and is gone again: the next rebuild may run.
    assert not client().indices.exists_alias(name=journal_alias(name()))
    assert behind(name()) == before
    monkeypatch.undo()
    Rebuild("products").run()
    assert len(indexed(ProductDocument)) == 20


def test_a_second_rebuild_is_refused_while_one_runs():
    make_rows(30)
    first = Rebuild("products")
    first.start()
    owner = rf"host {socket.gethostname()}, pid {os.getpid()}, started .*"
    with pytest.raises(RebuildError, match=rf"already running \({owner}\).*lease until 20"):
        Rebuild("products").run()
    # The refused rebuild left the first one's lock, journal and new index alone.
    assert first.lock.holder().token == first.lock.owner.token
    first.run()
    assert behind(name()) == [first.new_index]
    assert indexed(ProductDocument, "title") == database_titles()


def test_another_index_holding_the_marker_alias_stops_the_rebuild():
    make_rows(10)
    before = behind(name())
    other = f"{name()}-journal-20250101000000000000"  # as an earlier version named journals
    client().indices.create(index=other, aliases={journal_alias(name()): {}})
    try:
        with pytest.raises(RebuildError, match=rf"The indices \['{other}'\] also hold"):
            Rebuild("products").run()
        assert not client().indices.exists(index=journal_index(name()))  # lock released
        assert behind(name()) == before
    finally:
        client().indices.delete(index=other)
    Rebuild("products").run()
    assert indexed(ProductDocument, "title") == database_titles()


def test_the_lease_is_renewed_when_a_quarter_of_it_has_passed():
    make_rows(200)
    clock = ManualClock(start=1_800_000_000.0)
    expiries: list[str] = []

    def page_read(done: int, total: int) -> None:
        expiries.append(job.lock.holder().expires)
        clock.advance(20)  # the next page is read 20 seconds later

    job = Rebuild(
        "products", chunk_size=50, processes=0, lease=120, progress=page_read, clock=clock
    )
    job.start()
    expiries.append(job.lock.holder().expires)
    job.run()

    def expiry(seconds: float) -> str:
        return datetime.datetime.fromtimestamp(seconds + 120, datetime.UTC).isoformat()

    # Renewed at the page read 40 s in (a quarter is 30 s), not at the pages of 0, 20, 60 s.
    start, renewed = 1_800_000_000.0, 1_800_000_040.0
    assert expiries == [expiry(start)] * 3 + [expiry(renewed)] * 2


def test_a_rebuild_whose_lease_expired_is_dead_and_cleaned_up_after():
    make_rows(60)
    populate("products")
    clock = ManualClock()
    stale = Rebuild("products", clock=clock)
    stale.start()
    assert client().indices.exists(index=stale.new_index)

    clock.advance(stale.lock.lease + 1)  # it stopped renewing: its lease expires
    job = Rebuild("products", clock=clock)
    job.start()
    assert job.recovered is not None
    assert job.recovered.owner.token == stale.lock.owner.token
    assert "its lease expired at" in job.recovered.reason
    assert set(job.recovered.deleted) == {journal_index(name()), stale.new_index}
    assert not client().indices.exists(index=stale.new_index)
    assert "cleaned up after a dead rebuild of 'products'" in str(job.recovered)

    # The stale rebuild, if it still runs, finds out at its next step and never swaps.
    with pytest.raises(RebuildError, match="lost its lock"):
        stale.run()
    assert job.lock.holder().token == job.lock.owner.token  # its journal was left alone
    job.run()
    assert behind(name()) == [job.new_index]
    assert indexed(ProductDocument, "title") == database_titles()


def test_parallel_rebuild_fills_the_same_documents():
    make_rows(500)
    Rebuild("products", chunk_size=100, parallel=2).run()
    assert indexed(ProductDocument, "title") == database_titles()


@pytest.mark.parametrize("processes", [0, 2])
def test_rebuild_while_rows_keep_changing_and_search_keeps_answering(processes):
    make_rows(1000)
    Rebuild("products").run()  # the index serves all rows before the rebuild under test
    searches: list[int] = []

    def between_pages(done, total):
        # At every page: search the serving index, then update, create and delete rows.
        searches.append(ProductDocument.search().query("match", title="product").count())
        n = len(searches)
        pks = list(Product.objects.order_by("pk").values_list("pk", flat=True))
        for pk in (pks[0], pks[n * 37 % len(pks)]):  # one read already, one maybe not
            product = Product.objects.get(pk=pk)
            product.title = f"{product.title.split(' #')[0]} #{n}"
            product.save()
        Product.objects.create(sku=f"NEW-{n}", title=f"New {n}")
        Product.objects.filter(pk=pks[n * 53 % len(pks)]).delete()

    job = Rebuild("products", chunk_size=100, processes=processes, progress=between_pages)
    job.run()

    assert job.result.processes == processes
    assert len(searches) >= 10  # one per page of the fill
    assert min(searches) > 900  # the old index kept answering
    assert job.replayed >= 2 * len(searches)  # the writes of the fill were caught up
    assert indexed(ProductDocument, "title") == database_titles()


# -- filling from worker processes -----------------------------------------------------------


def expected_sources() -> dict[str, dict]:
    """Return ``{id: _source}`` of every row, as JSON gives them back (dates as text)."""
    sources = {str(row.pk): ProductDocument.source(row) for row in ProductDocument.get_queryset()}
    return json.loads(json.dumps(sources, default=lambda value: value.isoformat()))


def test_rebuild_in_worker_processes_indexes_exactly_the_rows():
    make_rows(1000)
    Product.objects.filter(pk__in=Product.objects.order_by("pk").values("pk")[400:420]).delete()

    job = Rebuild("products", chunk_size=64, processes=3)
    job.run()

    assert job.result.processes == 3
    assert job.result.indexed == 980
    assert indexed(ProductDocument) == expected_sources()  # same ids and sources, no extra


def test_the_ranges_of_the_workers_cover_every_row_once():
    make_rows(10)
    pks = sorted(Product.objects.values_list("pk", flat=True))
    ranges = rebuild.split_ranges(ProductDocument, 3)
    assert ranges[0][0] is None
    assert ranges[-1][1] is None
    covered = [
        pk
        for after, upto in ranges
        for pk in pks
        if (after is None or pk > after) and (upto is None or pk <= upto)
    ]
    assert covered == pks
    pages = [list(rebuild.iter_pages(ProductDocument, "x", 2, a, u)) for a, u in ranges]
    assert [len(found) for found in pages] == [2, 2, 2]
    ids = [action["_id"] for found in pages for page in found for action in page]
    assert ids == [str(pk) for pk in pks]
    assert rebuild.split_ranges(ProductDocument, 20)[-1] == (pks[-2], None)  # one row each


def test_populate_in_worker_processes_reports_progress():
    make_rows(300)
    calls: list[tuple[int, int, int]] = []
    result = populate(
        "products",
        chunk_size=50,
        processes=2,
        progress=lambda done, total: calls.append((done, total, threading.get_ident())),
    )
    assert result.processes == 2
    assert result.indexed == 300
    assert [done for done, _, _ in calls] == list(range(50, 301, 50))  # a call per page
    assert {total for _, total, _ in calls} == {300}
    assert {thread for _, _, thread in calls} == {threading.get_ident()}  # in this thread
    assert indexed(ProductDocument) == expected_sources()


def test_a_failing_worker_leaves_the_old_index_serving(monkeypatch):
    make_rows(400)
    populate("products", processes=0)
    before = behind(name())
    broken = Product.objects.order_by("pk")[350].pk  # in the second worker's range

    def prepare_category(self, instance):
        if instance.pk == broken:
            raise ValueError("cannot prepare this row")
        return "x"

    monkeypatch.setattr(ProductDocument, "prepare_category", prepare_category, raising=False)
    with pytest.raises(ValueError, match="cannot prepare") as raised:
        Rebuild("products", chunk_size=50, processes=2).run()

    assert any(note.startswith("Raised in fill worker 1 (pid") for note in raised.value.__notes__)
    assert behind(name()) == before
    assert behind(ProductDocument.get_read_index()) == before
    assert len(indexed(ProductDocument)) == 400  # the old documents, untouched


def test_a_worker_that_dies_fails_the_rebuild(monkeypatch):
    make_rows(200)
    populate("products", processes=0)
    before = behind(name())
    broken = Product.objects.order_by("pk")[20].pk

    def prepare_category(self, instance):
        if instance.pk == broken:
            os._exit(3)
        return "x"

    monkeypatch.setattr(ProductDocument, "prepare_category", prepare_category, raising=False)
    died = r"Fill worker 0 \(pid \d+\) ended without a result \(exit code 3\)"
    with pytest.raises(RebuildError, match=died):
        Rebuild("products", chunk_size=50, processes=2).run()
    assert behind(name()) == before
    assert len(indexed(ProductDocument)) == 200


def test_indexing_errors_in_a_worker_are_a_rebuild_error(monkeypatch):
    make_rows(200)
    populate("products", processes=0)
    before = behind(name())
    broken = Product.objects.order_by("pk")[180].pk
    monkeypatch.setattr(
        ProductDocument,
        "prepare_in_stock",
        lambda self, instance: "not a boolean" if instance.pk == broken else True,
        raising=False,
    )
    with pytest.raises(RebuildError, match=f"^1 document.*id {broken}"):
        Rebuild("products", chunk_size=50, processes=2).run()
    assert behind(name()) == before


def in_a_single_threaded_child(check):
    """Return what ``check()`` returns (JSON) in a forked child, where no other thread runs
    whatever this test process started before (asgiref's executor, a client's pool, ...)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answer, and leave without running any cleanup of the parent's
        try:
            os.close(read)
            os.write(write, json.dumps(check()).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as answer:
        found = answer.read()
    os.waitpid(pid, 0)
    return json.loads(found)


def test_when_a_fill_forks():
    per = rebuild.MIN_ROWS_PER_PROCESS
    choices = in_a_single_threaded_child(
        lambda: [
            rebuild.fill_processes(None, 2 * per - 1, cpus=4),  # too small to pay off
            rebuild.fill_processes(None, 2 * per, cpus=4),
            rebuild.fill_processes(None, 100 * per, cpus=4),  # one per CPU
            rebuild.fill_processes(None, 100 * per, cpus=1),
            rebuild.fill_processes(0, 100 * per, cpus=4),
            rebuild.fill_processes(3, 10),  # as asked
        ]
    )
    assert choices == [0, 2, 4, 0, 0, 3]

    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert rebuild.fill_processes(None, 100 * per, cpus=4) == 0  # never beside threads ...
        assert rebuild.fill_processes(2, 10) == 2  # ... unless asked to
    finally:
        stop.set()
        thread.join()

    with transaction.atomic():
        assert rebuild.fill_processes(None, 100 * per, cpus=4) == 0
        with pytest.raises(RebuildError, match="inside a transaction"):
            rebuild.fill_processes(2, 10)


def test_the_setting_chooses_the_default(settings):
    settings.DJANGOES_REBUILD_PROCESSES = 0
    assert Rebuild("products").processes == 0
    assert Rebuild("products", processes=2).processes == 2
    settings.DJANGOES_REBUILD_PROCESSES = 3
    assert Rebuild("products").processes == 3


# -- rebuilds in processes of their own, over one database file -------------------------------


class Processes:
    """Start functions of tests/rebuild_processes.py in spawned processes; stop them by PID."""

    def __init__(self, tmp_path) -> None:
        self.context = multiprocessing.get_context("spawn")
        self.results = self.context.Queue()
        self.database = tmp_path / "shop.sqlite3"
        self.env = {
            "DJANGOES_PROCESS_DB": str(self.database),
            "DJANGOES_PROCESS_INDEX": name(),
            "DJANGOES_PROCESS_READ_INDEX": ProductDocument.get_read_index(),
        }
        self.started: list = []

    def start(self, function, *args):
        process = self.context.Process(target=function, args=(self.env, *args))
        process.start()
        self.started.append(process)
        return process

    def result(self):
        kind, pid, *rest = self.results.get(timeout=rebuild_processes.WAIT)
        assert kind != "error", f"process {pid} failed:\n{rest[0]}"
        return kind, pid, *rest

    def stop_all(self) -> None:
        for process in self.started:
            if process.is_alive():
                os.kill(process.pid, signal.SIGKILL)
            process.join(rebuild_processes.WAIT)

    def titles(self) -> dict[str, str]:
        """Return ``{id: title}`` of the products in the database file."""
        with sqlite3.connect(self.database) as db:
            rows = db.execute(f"SELECT id, title FROM {Product._meta.db_table}").fetchall()
        return {str(pk): title for pk, title in rows}


@pytest.fixture
def processes(tmp_path):
    started = Processes(tmp_path)
    try:
        started.start(rebuild_processes.seed, 200, started.results)
        assert started.result()[0] == "seeded"
        yield started
    finally:
        started.stop_all()
    # Their rebuilds filled the index from another database: the next test (of any
    # module) starts from an empty one, as this process's own writes are undone.
    reset_index(ProductDocument)


def test_of_two_rebuilds_started_at_once_exactly_one_runs(processes):
    before = behind(name())
    ctx = processes.context
    start, filling, resume = ctx.Barrier(3), ctx.Event(), ctx.Event()
    labels = {
        processes.start(
            rebuild_processes.rebuild, label, start, filling, resume, processes.results
        ).pid: label
        for label in ("a", "b")
    }
    start.wait(rebuild_processes.WAIT)  # both go at the same moment

    # The winner holds after its first page until resumed, so the first to report is the
    # loser: refused, then it saved rows during the winner's fill, with no save failing.
    kind, loser, message, writes = processes.result()
    assert kind == "refused"
    assert filling.is_set()
    assert "already running" in message
    assert f"host {socket.gethostname()}, pid " in message
    (winner,) = set(labels) - {loser}
    assert f"pid {winner}," in message
    assert "lease until 20" in message
    assert len(writes) == 4
    assert behind(name()) == before  # nothing swapped yet

    resume.set()
    kind, pid, new_index = processes.result()
    assert (kind, pid) == ("rebuilt", winner)
    assert behind(name()) == [new_index]
    titles = indexed(ProductDocument, "title")
    assert titles == processes.titles()  # the loser's saves were caught up, none lost
    assert titles[writes[0].split()[1]] == f"{labels[loser]}: changed"


def test_a_killed_rebuild_leaves_the_old_index_serving_and_the_next_cleans_up(processes):
    before = behind(name())
    ctx = processes.context
    start, filling, resume = ctx.Barrier(2), ctx.Event(), ctx.Event()
    victim = processes.start(
        rebuild_processes.rebuild, "victim", start, filling, resume, processes.results
    )
    start.wait(rebuild_processes.WAIT)
    assert filling.wait(rebuild_processes.WAIT)  # midway through its fill
    os.kill(victim.pid, signal.SIGKILL)
    victim.join(rebuild_processes.WAIT)
    assert victim.exitcode == -signal.SIGKILL

    # The old index keeps serving; the dead rebuild's journal and new index are left over.
    assert behind(name()) == before
    assert behind(ProductDocument.get_read_index()) == before
    assert len(indexed(ProductDocument)) == 200
    assert client().indices.exists(index=journal_index(name()))
    assert [index for index in leftovers() if index != journal_index(name())] != []

    # Saves meanwhile succeed (they are journalled into the dead journal, harmlessly).
    processes.start(rebuild_processes.writer, "after", processes.results)
    kind, _, writes = processes.result()
    assert kind == "written"

    processes.start(
        rebuild_processes.command, processes.results, "rebuild", "products", "--no-input"
    )
    kind, _, output = processes.result()
    assert kind == "done"
    assert "products: cleaned up after a dead rebuild of 'products'" in output
    assert f"pid {victim.pid}" in output
    assert f"its process {victim.pid} is gone" in output
    assert "now points to" in output

    assert leftovers() == []
    assert not client().indices.exists_alias(name=journal_alias(name()))
    titles = indexed(ProductDocument, "title")
    assert titles == processes.titles()
    assert titles[writes[0].split()[1]] == "after: changed"


def children(pid: int) -> list[int]:
    """Return the processes whose parent is ``pid`` (Linux: read from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[-1].split()
        except OSError:
            continue  # ended meanwhile
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads processes from /proc")
def test_a_killed_rebuild_leaves_no_fill_worker_behind(tmp_path):
    started = Processes(tmp_path)
    try:
        started.start(rebuild_processes.seed, 10_000, started.results, False)
        assert started.result()[0] == "seeded"
        ctx = started.context
        filling, resume = ctx.Event(), ctx.Event()
        parent = started.start(
            rebuild_processes.rebuild_in_workers, filling, resume, started.results
        )
        assert filling.wait(rebuild_processes.WAIT)  # its workers are filling
        workers = children(parent.pid)
        assert len(workers) >= 2, workers  # the pool's two workers (and its helpers)
        os.kill(parent.pid, signal.SIGKILL)  # as the out-of-memory killer would
        killed = time.monotonic()
        parent.join(rebuild_processes.WAIT)
        assert parent.exitcode == -signal.SIGKILL
        wait_for(
            lambda: not [pid for pid in workers if alive(pid)],
            "the fill workers of the killed rebuild to end",
            timeout=10,
        )
        print(f"\n{len(workers)} children of the killed rebuild ended "
              f"{time.monotonic() - killed:.2f}s after the kill")  # fmt: skip
    finally:
        started.stop_all()
    # The next rebuild cleans up after the dead one (its journal and new index).
    job = Rebuild("products", processes=0)
    job.run()
    assert job.recovered is not None
    assert job.recovered.reason == f"its process {parent.pid} is gone"


def leftovers() -> list[str]:
    found = client().indices.get(index=f"{name()}-*", ignore_unavailable=True)
    return sorted(set(found.body) - set(behind(name())))
