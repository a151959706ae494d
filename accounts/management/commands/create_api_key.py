from django.core.management.base import BaseCommand, CommandError

from accounts.models import Merchant
from accounts.services import Actor, api_key_create


class Command(BaseCommand):
    help = "Create an API key for a merchant. The key is printed once, as the last line; it is stored hashed."

    def add_arguments(self, parser):
        parser.add_argument("merchant_slug")
        parser.add_argument(
            "--scopes", default="read", help="Comma-separated: read,write,publish (default: read)"
        )
        parser.add_argument("--name", default="CLI key")

    def handle(self, *args, merchant_slug, scopes, name, **options):
        merchant = Merchant.objects.filter(slug=merchant_slug).first()
        if merchant is None:
            raise CommandError(f"No merchant with slug '{merchant_slug}'.")
        try:
            key_obj, key = api_key_create(
                merchant=merchant, name=name, scopes=scopes.split(","), actor=Actor.system("create_api_key")
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(
            f"Created key {key_obj.prefix} for {merchant.slug} with scopes {','.join(key_obj.scopes)}."
        )
        self.stdout.write(key)
