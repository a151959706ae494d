"""Sets up chat for the demo merchant: its FAQ and policies (one internal-only), the widget switched on for the
local demo store's origins, and the knowledge and product vectors queued for the `ml` worker. Run after
demo_setup. Safe to re-run: knowledge is upserted by kind and title, origins are merged."""

import json

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Merchant
from accounts.services import Actor
from chat.demo_knowledge import demo_knowledge_rows
from chat.knowledge.services import embeddings_refresh_enqueue, knowledge_import
from chat.selectors import chat_settings_get
from chat.widget.services import chat_settings_update

DEMO_ORIGINS = ["http://127.0.0.1:8000", "http://localhost:8000"]


class Command(BaseCommand):
    help = "Add the demo FAQ and policies, switch the chat widget on for the demo store, queue embeddings."

    def add_arguments(self, parser):
        parser.add_argument("--merchant", default="demo", help="Merchant slug (default: demo).")

    def handle(self, *args, merchant: str, **options):
        actor = Actor.system("demo_chat")
        merchant_obj = Merchant.objects.filter(slug=merchant).first()
        if merchant_obj is None:
            raise CommandError(f"No merchant '{merchant}'; run `manage.py demo_setup` first.")
        report = knowledge_import(
            merchant=merchant_obj,
            actor=actor,
            data=json.dumps(demo_knowledge_rows()).encode(),
            filename="demo-knowledge.json",
        )
        if not report["applied"]:
            raise CommandError(f"The demo knowledge did not import: {report['errors']}")
        current = chat_settings_get(merchant=merchant_obj)
        origins = list(current.allowed_origins or [])
        origins += [origin for origin in DEMO_ORIGINS if origin not in origins]
        chat_settings = chat_settings_update(
            merchant=merchant_obj, actor=actor, widget_enabled=True, allowed_origins=origins
        )
        # Knowledge changes queue their own vectors; products (the catalog is knowledge too) are queued here.
        embeddings_refresh_enqueue(merchant_id=merchant_obj.pk)
        self.stdout.write(
            f"Demo chat: {report['created']} knowledge items created, {report['updated']} updated; "
            f"widget on for {', '.join(chat_settings.allowed_origins)}; embeddings queued for the ml worker."
        )
        self.stdout.write(self.style.SUCCESS("Demo chat is ready."))
        self.stdout.write("  Inbox:       http://127.0.0.1:8000/chat/")
        self.stdout.write(
            "  Demo store:  http://127.0.0.1:8000/demo/store/   (the chat bubble is at the bottom right)"
        )
        self.stdout.write(
            f'  Snippet:     <script src="http://127.0.0.1:8000/widget/{chat_settings.widget_token}/widget.js" async></script>'
        )
