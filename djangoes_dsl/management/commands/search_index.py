"""manage.py search_index: create, delete, rebuild, populate and list the search indices."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from elasticsearch import ApiError, TransportError

import djangoes
from djangoes_dsl.documents import Document
from djangoes_dsl.progress import Progress
from djangoes_dsl.rebuild import Rebuild, RebuildError, lock_status, populate
from djangoes_dsl.registry import registry

ACTIONS = ("create", "delete", "rebuild", "populate", "list")
DESTRUCTIVE = ("delete", "rebuild")


@dataclass
class Target:
    """One index on one server, and the Documents to fill it from."""

    key: str
    using: str
    documents: list[type[Document]] = field(default_factory=list)


class Command(BaseCommand):
    help = (
        "Manage the search indices of ES_INDICES: create, delete, rebuild (zero-downtime by "
        "default), populate from the database, or list them. Targets are index keys or "
        "Document names; without targets every index is meant."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=ACTIONS)
        parser.add_argument(
            "targets",
            nargs="*",
            metavar="INDEX_OR_DOCUMENT",
            help="ES_INDICES keys or Document class names (default: all).",
        )
        parser.add_argument(
            "--models",
            nargs="+",
            default=[],
            metavar="app_label.Model",
            help="The indices (populate: the Documents) of these models.",
        )
        parser.add_argument("--using", help="Only this ES_SERVERS alias.")
        parser.add_argument(
            "--chunk-size", type=int, help="Rows per database page and bulk request."
        )
        parser.add_argument(
            "--parallel",
            type=int,
            nargs="?",
            const=4,
            default=0,
            metavar="THREADS",
            help="Send bulk requests from THREADS threads (parallel_bulk; default 4).",
        )
        parser.add_argument(
            "--processes",
            type=int,
            default=None,
            metavar="N",
            help=(
                "Fill from N forked worker processes, each over its own primary-key range; 0 "
                "fills in this process. Default: DJANGOES_REBUILD_PROCESSES, else one per CPU "
                "with at least 5,000 rows each, when forking is safe."
            ),
        )
        parser.add_argument(
            "--in-place",
            action="store_true",
            help="rebuild: delete, create and populate the index itself (not zero-downtime).",
        )
        parser.add_argument(
            "--no-input",
            "--noinput",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation of destructive actions.",
        )

    # -- targets -----------------------------------------------------------------------------

    def targets(self, options: dict[str, Any]) -> list[Target]:
        keys: dict[str, list[type[Document]] | None] = {}
        for name in options["targets"]:
            if name in djangoes.connections.indices:
                keys[name] = None
                continue
            document = self._document(name)
            keys.setdefault(document.get_index_key(), []).append(document)  # type: ignore[union-attr]
        for label in options["models"]:
            try:
                model = apps.get_model(label)
            except (LookupError, ValueError) as exc:
                raise CommandError(f"--models {label!r}: {exc}") from exc
            documents = registry.documents_for_model(model)
            if not documents:
                raise CommandError(f"--models {label!r}: no registered Document indexes it.")
            for document in documents:
                keys.setdefault(document.get_index_key(), []).append(document)  # type: ignore[union-attr]
        if not keys:
            keys = dict.fromkeys(djangoes.connections.indices)
        targets = []
        for key, given in keys.items():
            servers = registry.servers_for(key)
            if options["using"]:
                servers = [alias for alias in servers if alias == options["using"]]
            elif servers:
                servers = [registry.choose_server(key, None) or servers[0]]
            for using in servers:
                chosen = given if given is not None else registry.documents_for_index(key)
                targets.append(Target(key, using, list(dict.fromkeys(chosen))))
        if not targets:
            where = f"ES_SERVERS['{options['using']}']" if options["using"] else "any server"
            raise CommandError(f"No index to act on: none of {list(keys)} is served by {where}.")
        return targets

    def _document(self, name: str) -> type[Document]:
        for document in registry.documents:
            if name in (document.__name__, f"{document.__module__}.{document.__qualname__}"):
                return document
        known = sorted(djangoes.connections.indices) + [d.__name__ for d in registry.documents]
        raise CommandError(f"{name!r} is neither an ES_INDICES key nor a Document: use {known}.")

    # -- running -----------------------------------------------------------------------------

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        targets = self.targets(options)
        if action in DESTRUCTIVE and options["interactive"] and not self.confirm(action, targets):
            self.stdout.write("Cancelled.")
            return
        try:
            for target in targets:
                getattr(self, f"do_{action}")(target, options)
        except (RebuildError, ApiError, TransportError) as exc:
            raise CommandError(f"search_index {action} failed: {exc}") from exc

    def confirm(self, action: str, targets: list[Target]) -> bool:
        names = ", ".join(f"'{t.key}' on '{t.using}'" for t in targets)
        what = "deletes the documents of" if action == "delete" else "replaces the documents of"
        answer = input(f"search_index {action} {what} {names}. Type 'yes' to continue: ")
        return answer.strip().lower() in ("y", "yes")

    def do_create(self, target: Target, options: dict[str, Any]) -> None:
        backend = djangoes.connections[target.using]
        name = backend.get_index(target.key)["NAME"]
        if backend.concrete_indices(name):
            self.stdout.write(f"{target.key}: '{name}' exists on '{target.using}'; left as is.")
            return
        backend.create_index(target.key)
        self.stdout.write(f"{target.key}: created '{name}' on '{target.using}'.")

    def do_delete(self, target: Target, options: dict[str, Any]) -> None:
        deleted = djangoes.connections[target.using].delete_index(target.key)
        self.stdout.write(f"{target.key}: deleted {deleted or 'nothing'} on '{target.using}'.")

    def do_populate(self, target: Target, options: dict[str, Any]) -> None:
        progress = Progress(target.key, self.stdout)
        result = populate(
            target.key,
            target.using,
            documents=target.documents,
            chunk_size=options["chunk_size"],
            parallel=options["parallel"],
            processes=options["processes"],
            progress=progress,
        )
        progress.finish()
        self.stdout.write(
            f"{target.key}: indexed {result.indexed:,} documents in {result.seconds:.1f}s."
        )

    def do_rebuild(self, target: Target, options: dict[str, Any]) -> None:
        documents = registry.documents_for_index(target.key)  # the new index holds them all
        if options["in_place"]:
            backend = djangoes.connections[target.using]
            backend.delete_index(target.key)
            backend.create_index(target.key)
            self.do_populate(Target(target.key, target.using, documents), options)
            return
        progress = Progress(target.key, self.stdout)
        rebuild = Rebuild(
            target.key,
            target.using,
            documents=documents,
            chunk_size=options["chunk_size"],
            parallel=options["parallel"],
            processes=options["processes"],
            progress=progress,
        )
        rebuild.start()  # takes the lock; a dead rebuild's leftovers are cleaned up first
        if rebuild.recovered is not None:
            self.stdout.write(f"{target.key}: {rebuild.recovered}")
        rebuild.run()
        progress.finish()
        if rebuild.replayed:
            self.stdout.write(f"{target.key}: replayed {rebuild.replayed:,} writes made meanwhile.")
        self.stdout.write(f"{target.key}: '{rebuild.name}' now points to '{rebuild.new_index}'.")

    def do_list(self, target: Target, options: dict[str, Any]) -> None:
        backend = djangoes.connections[target.using]
        settings = backend.get_index(target.key)
        name = settings["NAME"]
        concrete = backend.concrete_indices(name)
        if not concrete:
            state = "missing"
        elif concrete == [name]:
            state = "index"
        else:
            state = f"alias -> {', '.join(concrete)}"
        count = backend.client.count(index=name)["count"] if concrete else 0
        documents = ", ".join(d.__name__ for d in target.documents) or "-"
        rebuilding = lock_status(backend.client, name)
        self.stdout.write(
            f"{target.key} [{target.using}] {name} ({state}): {count:,} docs; "
            f"aliases {settings['ALIASES'] or '-'}; documents {documents}"
            + (f"; {rebuilding}" if rebuilding else "")
        )
