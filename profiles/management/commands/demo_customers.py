"""Demo customers for `make demo`: ~500 project-made shoppers with a few months of behaviour over the demo
catalog (profiles.demo_data), then their profiles and segments computed inline. Run after demo_setup. Safe to
re-run: existing customers and events are left alone."""

import time

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Merchant
from profiles.demo_data import demo_customers_create


class Command(BaseCommand):
    help = "Create demo customers with realistic events, then compute their profiles and segments."

    def add_arguments(self, parser):
        parser.add_argument("--merchant", default="demo", help="Merchant slug (default: demo).")
        parser.add_argument("--customers", type=int, default=500, help="How many customers (default 500).")
        parser.add_argument("--days", type=int, default=120, help="How many days of history (default 120).")
        parser.add_argument("--seed", type=int, default=7, help="Random seed (default 7).")

    def handle(self, *args, merchant: str, customers: int, days: int, seed: int, **options):
        if customers < 1 or days < 14:
            raise CommandError("--customers must be at least 1 and --days at least 14.")
        merchant_obj = Merchant.objects.filter(slug=merchant).first()
        if merchant_obj is None:
            raise CommandError(f"No merchant '{merchant}'; run `manage.py demo_setup` first.")
        started = time.perf_counter()
        try:
            counts = demo_customers_create(merchant=merchant_obj, customers=customers, days=days, seed=seed)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Demo customers: {counts['customers_added']} added ({counts['customers']} in the demo set), "
            f"{counts['events_added']} events added."
        )
        self._profiles_and_segments(merchant_obj)
        self.stdout.write(
            self.style.SUCCESS(f"Demo customers are ready ({time.perf_counter() - started:.1f} s).")
        )
        self.stdout.write("  Customers:   http://127.0.0.1:8000/customers/")

    def _profiles_and_segments(self, merchant: Merchant) -> None:
        # Imported here: the profile worker and segments are the worker side of the profiles app. Without them
        # (a partial checkout) the customers and events are still there; the nightly rebuild computes the rest.
        try:
            from profiles.profile_worker import rebuild_profiles
            from profiles.segments import ensure_builtin_segments
        except ImportError as exc:
            self.stdout.write(self.style.WARNING(f"Profiles and segments not computed: {exc}."))
            return
        ensure_builtin_segments(merchant=merchant)
        profiles = rebuild_profiles(merchant.pk)  # ends by recomputing the merchant's segments
        self.stdout.write(f"Profiles computed for {profiles} customers; segments recomputed.")
