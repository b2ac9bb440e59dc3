"""Rebuilds and writes in processes of their own, over one SQLite file.

tests/test_rebuild.py starts these functions with the ``spawn`` method: each process sets up
Django anew with tests.process_settings (no test switch: the names the test passes are its
live names) and reports through a multiprocessing queue. Synchronisation is by
multiprocessing barriers and events, never by sleeping.
"""

from __future__ import annotations

import io
import os
import traceback
from typing import Any

WAIT = 120  # seconds: a bound on every wait, so a broken test fails instead of hanging


def setup(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.process_settings"
    import django

    django.setup()


def seed(env: dict[str, str], rows: int, results: Any, fill: bool = True) -> None:
    """Create the database with ``rows`` products and (``fill``) populate the index."""
    try:
        setup(env)
        from django.core.management import call_command
        from django.db import connection

        from djangoes_dsl import indexing_paused
        from djangoes_dsl.rebuild import populate
        from tests.apps.shop.models import Product

        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")  # readers and a writer at once
        call_command("migrate", verbosity=0)
        with indexing_paused():
            Product.objects.bulk_create(
                Product(sku=f"SKU-{n}", title=f"Product {n}") for n in range(rows)
            )
        if fill:
            populate("products", processes=0)
        results.put(("seeded", os.getpid(), rows))
    except BaseException:
        results.put(("error", os.getpid(), traceback.format_exc()))


def write(label: str) -> list[str]:
    """Change rows as a web request would (signals, on commit); return what was done."""
    from tests.apps.shop.models import Product

    pks = sorted(Product.objects.values_list("pk", flat=True))
    first = Product.objects.get(pk=pks[0])  # read by the fill's first page already
    first.title = f"{label}: changed"
    first.save()
    last = Product.objects.get(pk=pks[-1])
    last.title = f"{label}: changed too"
    last.save()
    Product.objects.filter(pk=pks[1]).delete()
    created = Product.objects.create(sku=f"{label}-new", title=f"{label}: created")
    return [
        f"changed {first.pk}",
        f"changed {last.pk}",
        f"deleted {pks[1]}",
        f"created {created.pk}",
    ]


def held_at_first_page(filling: Any, resume: Any) -> Any:
    """Return a progress callback that sets ``filling`` at the first page and waits there
    for ``resume``."""

    def hold(done: int, total: int) -> None:
        if not filling.is_set():
            filling.set()
            resume.wait(WAIT)

    return hold


def rebuild(
    env: dict[str, str], label: str, start: Any, filling: Any, resume: Any, results: Any
) -> None:
    """Rebuild once ``start`` lets every party through, holding after the first page.

    The winner of the lock sets ``filling`` at its first page and waits there for
    ``resume``. A rebuild refused with ``RebuildError`` waits for ``filling`` and then
    writes, so its writes land during the winner's fill; it reports the error and the writes.
    """
    try:
        setup(env)
        from djangoes_dsl.rebuild import Rebuild, RebuildError

        start.wait(WAIT)
        try:
            job = Rebuild(
                "products", chunk_size=20, processes=0, progress=held_at_first_page(filling, resume)
            )
            job.run()
        except RebuildError as exc:
            filling.wait(WAIT)
            results.put(("refused", os.getpid(), str(exc), write(label)))
        else:
            results.put(("rebuilt", os.getpid(), job.new_index))
    except BaseException:
        results.put(("error", os.getpid(), traceback.format_exc()))


def rebuild_in_workers(env: dict[str, str], filling: Any, resume: Any, results: Any) -> None:
    """Rebuild with two fill workers; at the first page the parent sets ``filling`` and
    waits for ``resume`` (while its workers go on filling)."""
    try:
        setup(env)
        from djangoes_dsl.rebuild import Rebuild

        hold = held_at_first_page(filling, resume)
        job = Rebuild("products", chunk_size=50, processes=2, progress=hold)
        job.run()
        results.put(("rebuilt", os.getpid(), job.new_index))
    except BaseException:
        results.put(("error", os.getpid(), traceback.format_exc()))


def command(env: dict[str, str], results: Any, *args: str) -> None:
    """Run ``manage.py search_index *args``; report its output."""
    try:
        setup(env)
        from django.core.management import call_command

        out = io.StringIO()
        call_command("search_index", *args, stdout=out)
        results.put(("done", os.getpid(), out.getvalue()))
    except BaseException:
        results.put(("error", os.getpid(), traceback.format_exc()))


def writer(env: dict[str, str], label: str, results: Any) -> None:
    """Write (see :func:`write`) in a process of its own; report the writes."""
    try:
        setup(env)
        results.put(("written", os.getpid(), write(label)))
    except BaseException:
        results.put(("error", os.getpid(), traceback.format_exc()))
