from django.core.management.base import BaseCommand, CommandError

from accounts.services import merchant_create


class Command(BaseCommand):
    help = "Create a merchant (tenant), optionally with an owner user."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="URL-safe identifier, e.g. northwind")
        parser.add_argument("--name", required=True, help="Display name")
        parser.add_argument("--owner-email", help="Email of the owner; the user is created if needed")
        parser.add_argument(
            "--owner-password", help="Password for a new owner (otherwise unusable until reset)"
        )

    def handle(self, *args, slug, name, owner_email=None, owner_password=None, **options):
        try:
            merchant, owner = merchant_create(
                slug=slug, name=name, owner_email=owner_email, owner_password=owner_password
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        owner_text = f" owned by {owner.email}" if owner else ""
        self.stdout.write(
            self.style.SUCCESS(f"Created merchant '{merchant.slug}' (id {merchant.id}){owner_text}.")
        )
