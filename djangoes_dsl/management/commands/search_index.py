"""manage.py search_index: create, delete, rebuild, populate, list, migrate the search indices.

``status`` exits with status 1 when something needs attention: an index that is missing or
differs from its declaration, or indexing operations refused by Elasticsearch or waiting in
the outbox longer than ``DJANGOES_OUTBOX_WARN_AFTER``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from elasticsearch import ApiError, TransportError

import djangoes
from djangoes.backends import capabilities, refusals
from djangoes.exceptions import IndexCreationError
from djangoes.validation import suggest
from djangoes_dsl import schema
from djangoes_dsl.compat import conf as ded_conf
from djangoes_dsl.distributed import DistributedRebuild, populate_distributed
from djangoes_dsl.documents import Document
from djangoes_dsl.progress import Progress
from djangoes_dsl.rebuild import Rebuild, RebuildError, lock_status, populate
from djangoes_dsl.registry import registry

ACTIONS = ("create", "delete", "rebuild", "populate", "list", "sync", "status", "migrate")
#: Actions about the outbox, not about indices.
OUTBOX_ACTIONS = ("sync",)
#: Actions that report on, or act on, every target at once.
SCHEMA_ACTIONS = ("status", "migrate")
DESTRUCTIVE = ("delete", "rebuild")
#: The actions django-elasticsearch-dsl's command takes as options (--rebuild, ...).
DED_ACTIONS = ("create", "populate", "delete", "rebuild")


def parallel_threads(value: Any) -> int:
    """Return the bulk threads ``--parallel`` asks for: a number, or True for 4 (as
    ``call_command(..., parallel=True)`` gives it); absent, ``ELASTICSEARCH_DSL_PARALLEL``
    decides (4 when True), else 0."""
    if value is None:
        value = ded_conf.parallel_enabled()
    if value is True:
        return 4
    return int(value or 0)


@dataclass
class Target:
    """One index on one server, and the Documents to fill it from."""

    key: str
    using: str
    documents: list[type[Document]] = field(default_factory=list)


def failed(what: str, exc: BaseException, target: Any = None) -> CommandError:
    """Return the CommandError for ``exc`` (raised for ``target``, a Target or IndexState),
    with what the refusal means when it is known: a block, a HOSTS path, the settings it
    concerns, a module the node lacks."""
    backend = djangoes.connections[target.using] if target is not None else None
    text = f"{what} failed: {exc}"
    explained = refusals.explain(exc, backend)
    if explained is not None:
        text += f" {explained[0].upper()}{explained[1:]}"
    elif (
        backend is not None
        and isinstance(refused := _refusal(exc), ApiError)
        and not isinstance(refused, IndexCreationError)  # its message has the hints already
    ):
        found = capabilities.hints(
            backend, target.key, schema.declared_body(backend, target.key), refused
        )
        text += "".join(f" {hint}" for hint in found)
    return CommandError(text)


def _refusal(exc: BaseException | None) -> BaseException | None:
    """Return the server's refusal of the body (a 400) among ``exc`` and its causes."""
    while exc is not None:
        if isinstance(exc, ApiError) and exc.status_code == 400:
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


class Command(BaseCommand):
    help = (
        "Manage the search indices of ES_INDICES: create, delete, rebuild (zero-downtime by "
        "default), populate from the database, list them, show their status (schema and "
        "outbox; exit status 1 when something needs attention) or migrate them to what the "
        "code declares. Targets are index keys or Document names; without targets every "
        "index is meant."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", nargs="?", choices=ACTIONS)
        parser.add_argument(
            "targets",
            nargs="*",
            metavar="INDEX_OR_DOCUMENT",
            help="ES_INDICES keys or Document class names (default: all).",
        )
        parser.add_argument(
            "--models",
            nargs="*",
            default=[],
            metavar="app_label[.Model]",
            help="The indices (populate: the Documents) of these models, or of an app's.",
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
            default=None,
            metavar="THREADS",
            help="Send bulk requests from THREADS threads (default 4).",
        )
        parser.add_argument(
            "--no-parallel",
            action="store_const",
            const=0,
            dest="parallel",
            help="Send bulk requests from this thread only (the default).",
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
            "--distributed",
            action="store_true",
            help=(
                "rebuild, populate: fill by primary-key range tasks on the task engine of "
                "DJANGOES_DELIVERY (its workers, on any number of hosts, do the filling)."
            ),
        )
        parser.add_argument(
            "--ranges",
            type=int,
            default=None,
            metavar="N",
            help="--distributed: primary-key ranges per Document (default: one per 20,000 rows).",
        )
        parser.add_argument(
            "--in-place",
            action="store_true",
            help="rebuild: delete, create and populate the index itself (not zero-downtime).",
        )
        parser.add_argument(
            "--watch",
            action="store_true",
            help="sync: keep draining the outbox, each operation when its back-off is over.",
        )
        parser.add_argument(
            "--include-failed",
            action="store_true",
            help="sync: also send again the operations Elasticsearch refused (after a fix).",
        )
        parser.add_argument(
            "--database",
            help="sync, status: only the outbox of this database (default: every database).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=500,
            help="sync: operations claimed and sent per bulk round (default 500).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="migrate: print the plan, change nothing.",
        )
        parser.add_argument(
            "--no-input",
            "--noinput",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation of destructive actions.",
        )
        self.add_ded_arguments(parser)

    def add_ded_arguments(self, parser: CommandParser) -> None:
        """django-elasticsearch-dsl's options, for the scripts and tests of projects that
        move from it (see docs/migrating.md)."""
        ded = parser.add_argument_group("django-elasticsearch-dsl's options")
        for action in DED_ACTIONS:
            ded.add_argument(
                f"--{action}",
                action="store_const",
                const=action,
                dest="ded_action",
                help=f"The action {action}.",
            )
        ded.add_argument("-f", action="store_true", dest="force", help="The same as --no-input.")
        ded.add_argument(
            "--use-alias",
            action="store_true",
            help="rebuild: the default already (a new index, then an atomic alias swap).",
        )
        ded.add_argument(
            "--use-alias-keep-index",
            action="store_true",
            help="Accepted; a rebuild removes the index it replaces.",
        )
        ded.add_argument(
            "--refresh",
            action="store_true",
            default=None,
            help="Refresh the indices after the action.",
        )
        ded.add_argument(
            "--no-count", action="store_false", dest="count", help="Accepted; no effect."
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
        for label in options["models"] or ():
            documents = self._model_documents(label)
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

    @staticmethod
    def _model_documents(label: str) -> list[type[Document]]:
        """Return the Documents of the model ``app_label.Model``, or of every model of the
        app ``app_label``."""
        if "." not in label:
            documents = [
                document
                for document in registry.documents
                if (model := document.get_model()) is not None
                and model._meta.app_label == label.lower()
            ]
            if not documents:
                raise CommandError(
                    f"--models {label!r}: no registered Document indexes a model "
                    f"of an app with that label."
                )
            return documents
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError) as exc:
            raise CommandError(f"--models {label!r}: {exc}") from exc
        documents = registry.documents_for_model(model)
        if not documents:
            raise CommandError(f"--models {label!r}: no registered Document indexes it.")
        return documents

    def _document(self, name: str) -> type[Document]:
        for document in registry.documents:
            if name in (document.__name__, f"{document.__module__}.{document.__qualname__}"):
                return document
        known = sorted(djangoes.connections.indices) + [d.__name__ for d in registry.documents]
        raise CommandError(
            f"{name!r} is neither an ES_INDICES key nor a Document. "
            f"{suggest(name, known)}Use one of {known}."
        )

    # -- running -----------------------------------------------------------------------------

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"] = options["action"] or options.get("ded_action")
        if action is None:
            raise CommandError(
                f"Name an action: one of {', '.join(ACTIONS)} (or django-elasticsearch-dsl's "
                f"--create, --populate, --delete, --rebuild)."
            )
        if options.get("force"):
            options["interactive"] = False
        options["parallel"] = parallel_threads(options["parallel"])
        if options.get("use_alias_keep_index"):
            self.stdout.write("--use-alias-keep-index: the rebuilt index replaces the old one.")
        if action in OUTBOX_ACTIONS:
            getattr(self, f"do_{action}")(options)
            return
        targets = self.targets(options)
        if action in SCHEMA_ACTIONS:
            getattr(self, f"do_{action}")(targets, options)
            return
        if action in DESTRUCTIVE and options["interactive"] and not self.confirm(action, targets):
            self.stdout.write("Cancelled.")
            return
        target = None
        try:
            for target in targets:
                getattr(self, f"do_{action}")(target, options)
                if options.get("refresh") and action != "delete":
                    backend = djangoes.connections[target.using]
                    backend.client.indices.refresh(index=backend.get_index(target.key)["NAME"])
        except (RebuildError, ApiError, TransportError) as exc:
            raise failed(f"search_index {action}", exc, target) from exc

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
        how = ""
        if options["distributed"]:
            result = populate_distributed(
                target.key,
                target.using,
                documents=target.documents,
                chunk_size=options["chunk_size"],
                ranges=options["ranges"],
                progress=progress,
            )
            how = " by range tasks"
        else:
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
            f"{target.key}: indexed {result.indexed:,} documents in {result.seconds:.1f}s{how}."
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
        common: dict[str, Any] = {
            "documents": documents,
            "chunk_size": options["chunk_size"],
            "progress": progress,
        }
        if options["distributed"]:
            rebuild: Rebuild = DistributedRebuild(
                target.key, target.using, ranges=options["ranges"], **common
            )
        else:
            rebuild = Rebuild(
                target.key,
                target.using,
                parallel=options["parallel"],
                processes=options["processes"],
                **common,
            )
        rebuild.start()  # takes the lock; a dead rebuild's leftovers are cleaned up first
        if rebuild.recovered is not None:
            self.stdout.write(f"{target.key}: {rebuild.recovered}")
        rebuild.run()
        progress.finish()
        if isinstance(rebuild, DistributedRebuild) and rebuild.distributed is not None:
            for retry in rebuild.distributed.retries:
                self.stdout.write(f"{target.key}: re-queued {retry}")
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

    # -- the outbox --------------------------------------------------------------------------

    def do_sync(self, options: dict[str, Any]) -> None:
        from djangoes_dsl import outbox

        if options["watch"]:
            self._watch(options)
            return
        result = outbox.drain(
            options["database"],
            batch_size=options["batch_size"],
            include_failed=options["include_failed"],
            progress=lambda done: self.stdout.write(
                f"sync: {done.sent:,} sent, {done.retried_later:,} to retry, "
                f"{done.failed:,} refused"
            ),
        )
        self.stdout.write(
            f"sync: {result.sent:,} operation(s) sent, {result.retried_later:,} to retry "
            f"later, {result.failed:,} refused."
        )
        for failure in result.failures[:5]:
            self.stderr.write(str(failure))
        waiting = [entry for entry in outbox.status(options["database"]) if entry.failed]
        if result.retried_later or result.failed or waiting:
            failed = sum(entry.failed for entry in waiting)
            raise CommandError(
                f"search_index sync: {result.retried_later:,} operation(s) still failing and "
                f"{failed:,} refused by Elasticsearch remain in the outbox; see "
                f"'search_index status'. Fix the cause, then run 'search_index sync "
                f"--include-failed'."
            )

    def _watch(self, options: dict[str, Any]) -> None:
        import time

        from djangoes_dsl import outbox

        self.stdout.write("sync --watch: draining the outbox (Ctrl-C stops).")
        idle = 0.5
        try:
            while True:
                result = outbox.drain(
                    options["database"], batch_size=options["batch_size"], due_only=True
                )
                if result.claimed:
                    self.stdout.write(
                        f"sync: {result.sent:,} sent, {result.retried_later:,} to retry, "
                        f"{result.failed:,} refused"
                    )
                    idle = 0.5
                else:
                    idle = min(idle * 2, 10.0)  # back off while there is nothing to do
                time.sleep(idle)
        except KeyboardInterrupt:
            self.stdout.write("sync --watch: stopped.")

    # -- status and migrate --------------------------------------------------------------

    def do_status(self, targets: list[Target], options: dict[str, Any]) -> None:
        from djangoes_dsl import outbox

        entries = outbox.status(options["database"])
        attention: list[str] = []  # one line per index (or stray outbox) needing attention
        for target in targets:
            state = self._inspect(target)
            reasons = []
            if state is None:
                reasons.append("cannot be inspected")
            elif not state.in_sync:
                reasons.append(state.state)
            mine = [
                entry
                for entry in entries
                if (document := registry.document_for_label(entry.document)) is not None
                and document in registry.documents_for_index(target.key, target.using)
            ]
            if self._outbox_lines(mine):
                reasons.append("its outbox")
            if reasons:
                attention.append(f"'{target.key}' on '{target.using}' ({', '.join(reasons)})")
        strays = [entry for entry in entries if registry.document_for_label(entry.document) is None]
        if strays:
            self.stdout.write("operations of Documents no longer registered:")
            if self._outbox_lines(strays):
                attention.append("the outbox of Documents no longer registered")
        if attention:
            count = len(attention)
            raise CommandError(
                f"search_index status: {count} {'needs' if count == 1 else 'need'} attention: "
                f"{'; '.join(attention)}. 'search_index migrate' applies schema changes, "
                f"'search_index sync' drains the outbox ('sync --include-failed' after a fix "
                f"for refused operations).",
                returncode=1,
            )

    def _inspect(self, target: Target) -> schema.IndexState | None:
        """Write the schema state of ``target``; return it (None when it cannot be read)."""
        backend = djangoes.connections[target.using]
        try:
            state = schema.inspect(target.key, target.using)
        except (ApiError, TransportError) as exc:
            name = backend.get_index(target.key)["NAME"]
            self.stdout.write(
                f"{target.key} [{target.using}] {name}: cannot be inspected: "
                f"{backend.redact(str(exc))}"
            )
            return None
        line = f"{state.key} [{state.using}] {state.name}: {state.state}"
        if state.in_sync:
            line += f" (fingerprint {state.fingerprint[:12]})"
        self.stdout.write(line)
        for difference in state.differences:
            self.stdout.write(f"  {difference}")
        return state

    def _outbox_lines(self, entries: list[Any]) -> int:
        """Write the outbox of one index; return 1 when it needs attention, else 0."""
        from django.conf import settings

        if not entries:
            self.stdout.write("  outbox: empty")
            return 0
        limit = float(getattr(settings, "DJANGOES_OUTBOX_WARN_AFTER", 600))
        attention = 0
        for entry in entries:
            age = entry.oldest_age or 0.0
            document = registry.document_for_label(entry.document)
            name = document.__name__ if document is not None else entry.document
            self.stdout.write(
                f"  outbox [{entry.database}] {name}: {entry.pending:,} pending, "
                f"{entry.failed:,} refused; oldest waiting {age:,.0f}s"
            )
            if entry.failed or age > limit:
                attention = 1
        return attention

    def do_migrate(self, targets: list[Target], options: dict[str, Any]) -> None:
        plans = []
        for target in targets:
            state = self._inspect(target)
            if state is None:
                raise CommandError(
                    f"search_index migrate: the index '{target.key}' on '{target.using}' "
                    f"cannot be read; nothing was changed."
                )
            migration = schema.plan(state)
            for step in migration.steps:
                self.stdout.write(f"  plan: {step}")
            plans.append(migration)
        todo = [migration for migration in plans if migration.action != schema.NOTHING]
        if not todo:
            self.stdout.write("migrate: nothing to do; every index is in sync.")
            return
        if options["dry_run"]:
            self.stdout.write(f"migrate --dry-run: {len(todo)} index(es) would change; none did.")
            return
        if options["interactive"]:
            names = ", ".join(f"'{m.state.key}' ({m.action})" for m in todo)
            answer = input(f"search_index migrate changes {names}. Type 'yes' to continue: ")
            if answer.strip().lower() not in ("y", "yes"):
                self.stdout.write("Cancelled.")
                return
        try:
            for migration in todo:
                progress = Progress(migration.state.key, self.stdout)
                schema.apply(
                    migration,
                    say=self.stdout.write,
                    chunk_size=options["chunk_size"],
                    progress=progress,
                )
                if migration.action in (schema.CREATE, schema.REBUILD) or progress.total:
                    progress.finish()
                after = schema.inspect(migration.state.key, migration.state.using)
                if not after.in_sync:
                    left = "; ".join(str(difference) for difference in after.differences)
                    raise CommandError(
                        f"search_index migrate: '{after.key}' is still not in sync ({left}); "
                        f"run 'search_index rebuild {after.key}'."
                    )
                self.stdout.write(f"{after.key}: in sync ({migration.action}).")
        except (RebuildError, schema.MigrateError, ApiError, TransportError) as exc:
            raise failed("search_index migrate", exc, migration.state) from exc
