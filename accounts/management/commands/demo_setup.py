"""Sets up the demo: merchant, owner login, a fresh API key and the demo catalog. Safe to re-run."""

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Merchant, MerchantAPIKey, Role
from accounts.services import (
    Actor,
    api_key_create,
    api_key_revoke,
    membership_set,
    merchant_create,
    user_get_or_create,
)
from catalog.demo_catalog import demo_catalog_rows
from catalog.services import product_import

DEMO_SLUG = "demo"
DEMO_EMAIL = "demo@storyfront.local"
DEMO_PASSWORD = "storyfront-demo"
DEMO_KEY_NAME = "Demo key (make demo)"
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "storyfront-admin"


class Command(BaseCommand):
    help = "Create or refresh the demo merchant, its owner login, an API key and the demo catalog."

    def handle(self, *args, **options):
        actor = Actor.system("demo_setup")
        with transaction.atomic():
            merchant = Merchant.objects.filter(slug=DEMO_SLUG).first()
            if merchant is None:
                merchant, _ = merchant_create(slug=DEMO_SLUG, name="Storyfront Demo Outfitters")
            user = user_get_or_create(email=DEMO_EMAIL, password=DEMO_PASSWORD)
            membership_set(merchant=merchant, user=user, role=Role.OWNER, actor=actor)
            self._ensure_admin()
            # Keys are stored hashed, so a re-run cannot print the old one: revoke it and issue a new one.
            for old in MerchantAPIKey.objects.filter(merchant=merchant, name=DEMO_KEY_NAME, revoked=False):
                api_key_revoke(key=old, actor=actor)
            _, key = api_key_create(
                merchant=merchant, name=DEMO_KEY_NAME, scopes=["read", "write", "publish"], actor=actor
            )
        payload = json.dumps(demo_catalog_rows()).encode()
        report = product_import(merchant=merchant, actor=actor, data=payload, filename="demo-catalog.json")
        self.stdout.write(
            f"Demo catalog: {report.created_count} created, {report.updated_count} updated, "
            f"{report.unchanged_count} unchanged, {report.error_count} errors."
        )
        self.stdout.write(self.style.SUCCESS("Storyfront demo is ready."))
        self.stdout.write(f"  Dashboard:  http://127.0.0.1:8000/   login {DEMO_EMAIL} / {DEMO_PASSWORD}")
        self.stdout.write(
            f"  Admin:      http://127.0.0.1:8000/admin/   login {ADMIN_USERNAME} / {ADMIN_PASSWORD}"
        )
        self.stdout.write("  API docs:   http://127.0.0.1:8000/api/docs/")
        self.stdout.write(f"  API key:    {key}")
        self.stdout.write(
            f'  Try:        curl -H "Authorization: Api-Key {key}" http://127.0.0.1:8000/api/v1/products/'
        )

    def _ensure_admin(self):
        User = get_user_model()
        if not User.objects.filter(username=ADMIN_USERNAME).exists():
            User.objects.create_superuser(ADMIN_USERNAME, "admin@storyfront.local", ADMIN_PASSWORD)
