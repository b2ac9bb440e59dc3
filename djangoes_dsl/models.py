"""The outbox: indexing operations waiting to reach Elasticsearch."""

from __future__ import annotations

from django.db import models


class PendingOperation(models.Model):
    """One indexing operation that has not reached Elasticsearch yet.

    Operations are idempotent: when sent, the row is read again from the database (its
    document is indexed, or deleted when the row is gone), and the write carries a version
    that cannot go back in time (see ``djangoes_dsl.versions``). Sending one twice changes
    nothing.
    """

    class Action(models.TextChoices):
        INDEX = "index", "index the row (or delete its document when the row is gone)"
        DELETE = "delete", "delete the document (the row was deleted)"
        RELATED = "related", "index the rows whose documents embed a related row"

    class State(models.TextChoices):
        PENDING = "pending", "to be sent (again)"
        FAILED = "failed", "refused by Elasticsearch; kept until retried by hand"

    document: models.CharField = models.CharField(
        max_length=255, help_text="Dotted path of the Document."
    )
    object_pk: models.CharField = models.CharField(
        max_length=255, help_text="Primary key of the row (as text)."
    )
    action: models.CharField = models.CharField(
        max_length=10, choices=Action.choices, default=Action.INDEX
    )
    target: models.CharField = models.CharField(
        max_length=255,
        blank=True,
        default="",
        help_text="DELETE: the index to delete from; RELATED: the related model's label.",
    )
    database: models.CharField = models.CharField(max_length=100, default="default")
    state: models.CharField = models.CharField(
        max_length=10, choices=State.choices, default=State.PENDING
    )
    attempts: models.PositiveIntegerField = models.PositiveIntegerField(default=0)
    next_attempt: models.DateTimeField = models.DateTimeField(
        help_text="Not sent before this time (back-off)."
    )
    claimed_until: models.DateTimeField = models.DateTimeField(
        null=True, blank=True, help_text="A drainer is sending it until then."
    )
    last_attempt: models.DateTimeField = models.DateTimeField(null=True, blank=True)
    claim: models.CharField = models.CharField(max_length=32, blank=True, default="")
    last_error: models.TextField = models.TextField(blank=True, default="")
    created: models.DateTimeField = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "pending indexing operation"
        indexes = [
            models.Index(fields=["state", "next_attempt"], name="djangoes_outbox_due"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.document} pk={self.object_pk} ({self.state})"
