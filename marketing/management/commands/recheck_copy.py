"""Recheck stored copy with the current checker: every piece whose grounding report another checker version
wrote gets a fresh report; approved pieces it now blocks go back to review. Run after a deploy that changes
the checker's rules (ml.engine.verification.VERIFIER_VERSION). Safe to re-run: current reports are skipped."""

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Merchant
from accounts.services import Actor
from marketing.review.recheck import content_recheck, merchants_with_stale_copy


class Command(BaseCommand):
    help = "Recheck stored copy whose grounding report an older checker wrote (all merchants by default)."

    def add_arguments(self, parser):
        parser.add_argument("--merchant", metavar="SLUG", help="Only this merchant's pieces.")

    def handle(self, *args, merchant: str | None = None, **options):
        if merchant is not None:
            merchants = list(Merchant.objects.filter(slug=merchant))
            if not merchants:
                raise CommandError(f"No merchant with slug '{merchant}'.")
        else:
            merchants = list(Merchant.objects.filter(pk__in=merchants_with_stale_copy()).order_by("slug"))
        if not merchants:
            self.stdout.write("Nothing to recheck: every stored report is from the current checker.")
            return
        actor = Actor.system("recheck_copy")
        for merchant_obj in merchants:
            report = content_recheck(merchant=merchant_obj, actor=actor)
            self.stdout.write(
                f"{merchant_obj.slug}: checked {report.checked}, unchanged {report.unchanged}, "
                f"newly blocked {report.newly_blocked}, newly passing {report.newly_passing}, "
                f"moved back to review {report.moved_to_review}, changed meanwhile {report.skipped}"
            )
