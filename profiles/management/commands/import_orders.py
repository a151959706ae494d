"""Import an order export (UCI Online Retail header) or an interaction-sequence file for one merchant, without
the web upload's size limit; prints the counts and the time taken. Re-running it is safe: events already
stored (same idempotency keys) are counted as duplicates, not inserted again.

    manage.py import_orders ../shared/datasets/uci_online_retail_first8000/online_retail_first8000.csv \\
        --merchant northwind
    manage.py import_orders ../shared/datasets/amazon_beauty_sequences_s3rec/Beauty.txt --merchant northwind \\
        --format sequences --customer-prefix beauty-
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Merchant
from accounts.services import Actor
from catalog.importing import ImportFileError
from profiles.import_services import orders_import, sequences_import
from profiles.models import EventType


class Command(BaseCommand):
    help = "Import an order export (UCI Online Retail header) or interaction sequences into profiles."

    def add_arguments(self, parser):
        parser.add_argument("path", help="The file to import.")
        parser.add_argument("--merchant", metavar="SLUG", required=True)
        parser.add_argument("--format", choices=["uci", "sequences"], default="uci")
        parser.add_argument(
            "--dry-run", action="store_true", help="Validate and count; write only the report."
        )
        parser.add_argument("--currency", default="GBP", help="uci: currency of the prices (default GBP).")
        parser.add_argument(
            "--timezone", default="UTC", help="uci: timezone of the invoice dates (default UTC)."
        )
        parser.add_argument("--event-type", default=EventType.PURCHASE, choices=EventType.values)
        parser.add_argument("--customer-prefix", default="", help="sequences: prefix of customer ids.")
        parser.add_argument("--sku-prefix", default="", help="sequences: prefix of item SKUs.")

    def handle(self, *args, **options):
        merchant = Merchant.objects.filter(slug=options["merchant"]).first()
        if merchant is None:
            raise CommandError(f"No merchant with slug '{options['merchant']}'.")
        path = Path(options["path"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        common = {
            "merchant": merchant,
            "actor": Actor.system("import_orders"),
            "data": path.read_bytes(),
            "filename": path.name,
            "dry_run": options["dry_run"],
            "max_bytes": None,
        }
        try:
            if options["format"] == "sequences":
                run = sequences_import(
                    **common,
                    event_type=options["event_type"],
                    customer_prefix=options["customer_prefix"],
                    sku_prefix=options["sku_prefix"],
                )
            else:
                run = orders_import(**common, currency=options["currency"], timezone_name=options["timezone"])
        except ImportFileError as exc:
            raise CommandError(exc.message) from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        counts = {k: v for k, v in run.counts.items() if isinstance(v, int)}
        seconds = run.seconds or 1e-9
        events = counts.get("inserted", 0) + counts.get("duplicates", 0)
        self.stdout.write(
            f"{run.get_status_display()}: import #{run.pk} of {path.name}: {run.total_rows} lines read, "
            f"{run.error_count} rejected, in {run.seconds:.2f} s ({run.total_rows / seconds:,.0f} lines/s, "
            f"{events / seconds:,.0f} events/s)"
        )
        for name, value in counts.items():
            self.stdout.write(f"  {name}: {value}")
        for error in run.report.get("errors", [])[:10]:
            reasons = "; ".join(f"{field}: {reason}" for field, reason in error["errors"].items())
            self.stdout.write(f"  line {error['line']}: {reasons}")
        if run.error_count > 10:
            self.stdout.write(
                f"  ... {run.error_count - 10} more rejected lines in the report (imports/{run.pk}/)"
            )
