"""The demo pieces: `manage.py demo_chat` (demo FAQ and policies, one internal; the widget on for the local demo
store's origins; vectors queued) is safe to re-run, and the demo store page, served only in local (DEBUG)
runs, embeds the merchant's widget with one script tag."""

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import reverse

from chat.demo_knowledge import FAQ, INTERNAL_POLICIES, POLICIES, demo_knowledge_rows
from chat.models import ChatSettings, KnowledgeItem
from tests.factories import CategoryFactory, MerchantFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(db):
    return MerchantFactory(name="Storyfront Demo Outfitters", slug="demo")


@pytest.fixture
def queued(monkeypatch):
    calls = []
    monkeypatch.setattr(
        "chat.tasks.embed_knowledge_task.apply_async", lambda *a, **k: calls.append(("knowledge", a, k))
    )
    monkeypatch.setattr(
        "chat.tasks.embed_products_task.apply_async", lambda *a, **k: calls.append(("products", a, k))
    )
    return calls


def test_demo_knowledge_is_ours_and_complete():
    rows = demo_knowledge_rows()
    assert 15 <= len(FAQ) <= 20
    assert {title for title, _ in POLICIES} == {"Shipping policy", "Returns policy", "Warranty policy"}
    assert [row["title"] for row in rows if row["is_internal"]] == [title for title, _ in INTERNAL_POLICIES]
    assert len({(row["kind"], row["title"]) for row in rows}) == len(rows)


def test_demo_chat_sets_up_knowledge_and_the_widget_and_is_idempotent(demo, queued, capsys):
    ChatSettings.objects.create(merchant=demo, allowed_origins=["https://shop.example"], widget_enabled=False)
    call_command("demo_chat")
    first = capsys.readouterr().out
    items = KnowledgeItem.objects.filter(merchant=demo)
    assert items.count() == len(demo_knowledge_rows())
    assert items.filter(kind="policy", is_internal=True).count() == 1
    assert items.filter(kind="faq").count() == len(FAQ)
    chat_settings = ChatSettings.objects.get(merchant=demo)
    assert chat_settings.widget_enabled is True
    assert chat_settings.allowed_origins == [
        "https://shop.example",
        "http://127.0.0.1:8000",
        "http://localhost:8000",
    ]
    assert {kind for kind, _, _ in queued} == {"knowledge", "products"}
    assert all(k.get("queue") == "ml" for _, _, k in queued)
    assert f"{len(demo_knowledge_rows())} knowledge items created, 0 updated" in first
    assert "http://127.0.0.1:8000/demo/store/" in first and chat_settings.widget_token in first

    # A re-run updates in place: the same ids, nothing new, origins not repeated.
    ids = set(items.values_list("id", flat=True))
    call_command("demo_chat")
    second = capsys.readouterr().out
    assert set(KnowledgeItem.objects.filter(merchant=demo).values_list("id", flat=True)) == ids
    assert "0 knowledge items created" in second
    chat_settings.refresh_from_db()
    assert chat_settings.allowed_origins == [
        "https://shop.example",
        "http://127.0.0.1:8000",
        "http://localhost:8000",
    ]


def test_demo_chat_needs_the_demo_merchant(db, queued):
    with pytest.raises(CommandError, match="demo_setup"):
        call_command("demo_chat")


@override_settings(DEBUG=True)
def test_demo_store_embeds_the_widget_and_shows_products(client, demo):
    drinkware = CategoryFactory(merchant=demo, name="Drinkware")
    ProductFactory(merchant=demo, title="Trailblazer <b>bottle</b>", category=drinkware)
    ProductFactory(merchant=demo, title="Second bottle", category=drinkware)
    ProductFactory(
        merchant=demo, title="Rain jacket", category=CategoryFactory(merchant=demo, name="Apparel")
    )
    ProductFactory(merchant=demo, title="Retired lamp", is_active=False)
    chat_settings = ChatSettings.objects.create(merchant=demo)
    html = client.get(reverse("demo_store")).content.decode()
    assert (
        f'<script src="http://testserver/widget/{chat_settings.widget_token}/widget.js" async></script>'
        in html
    )
    assert "Trailblazer &lt;b&gt;bottle&lt;/b&gt;" in html and "Rain jacket" in html
    assert "Retired lamp" not in html and "Second bottle" not in html  # one product per category
    assert "Storyfront Demo Outfitters" in html


@override_settings(DEBUG=True)
def test_demo_store_for_a_missing_merchant_is_404(client, db):
    assert client.get(reverse("demo_store")).status_code == 404


def test_demo_store_is_not_served_outside_debug(client, demo):
    ChatSettings.objects.create(merchant=demo)
    assert client.get(reverse("demo_store")).status_code == 404
