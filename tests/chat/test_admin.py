import pytest
from django.urls import reverse

from accounts.models import AuditLog
from chat.models import ChatSettings, Conversation, KnowledgeItem, Message, SupportDialogue
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root@example.com", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def objects(merchant):
    chat_settings = ChatSettings.objects.create(merchant=merchant, allowed_origins=["https://shop.example"])
    item = KnowledgeItem.objects.create(
        merchant=merchant, title="Returns", body="<script>alert(1)</script> 30 days"
    )
    conversation = Conversation.objects.create(merchant=merchant, customer_external_id="cust-1")
    message = Message.objects.create(
        conversation=conversation,
        merchant=merchant,
        role="bot",
        text="Hi",
        sources=[{"type": "knowledge", "id": item.pk, "title": "<b>Returns</b>", "score": 0.9}],
    )
    dialogue = SupportDialogue.objects.create(
        merchant=merchant, turns=[{"role": "customer", "text": "hi"}], content_hash="x"
    )
    return {
        "chatsettings": chat_settings,
        "knowledgeitem": item,
        "conversation": conversation,
        "message": message,
        "supportdialogue": dialogue,
    }


@pytest.mark.parametrize(
    "model", ["chatsettings", "knowledgeitem", "conversation", "message", "supportdialogue"]
)
def test_changelist_and_change_pages_load(admin_client, objects, model):
    assert admin_client.get(reverse(f"admin:chat_{model}_changelist")).status_code == 200
    page = admin_client.get(reverse(f"admin:chat_{model}_change", args=[objects[model].pk]))
    assert page.status_code == 200
    assert b"<script>alert(1)</script>" not in page.content and b"<b>Returns</b>" not in page.content


def test_conversations_messages_and_dialogues_are_read_only(admin_client, objects):
    for model in ("conversation", "message", "supportdialogue"):
        assert admin_client.get(reverse(f"admin:chat_{model}_add")).status_code == 403
    page = admin_client.get(reverse("admin:chat_conversation_change", args=[objects["conversation"].pk]))
    assert b"session_secret" not in page.content


def test_knowledge_search_filter_and_list_editable(admin_client, objects, merchant, monkeypatch):
    monkeypatch.setattr("chat.tasks.embed_knowledge_task.apply_async", lambda **kw: None)
    item = objects["knowledgeitem"]
    url = reverse("admin:chat_knowledgeitem_changelist")
    assert b"Returns" in admin_client.get(url, {"q": "30 days"}).content
    assert b"Returns" not in admin_client.get(url, {"is_internal__exact": "1"}).content
    response = admin_client.post(
        url,
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": str(item.pk),
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.is_active is False
    assert AuditLog.objects.filter(action="knowledge.update", object_id=str(item.pk)).exists()


def test_chat_settings_form_validates_origins(admin_client, objects):
    chat_settings = objects["chatsettings"]
    url = reverse("admin:chat_chatsettings_change", args=[chat_settings.pk])
    data = {
        "merchant": chat_settings.merchant_id,
        "bot_name": "Nora",
        "greeting": "Hello",
        "widget_enabled": "on",
        "allowed_origins": '["https://shop.example/path"]',
        "handoff_topics": "[]",
        "min_relevance": "0.35",
        "max_failed_answers": "2",
        "history_turns": "6",
        "rate_limit_per_minute": "12",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 200 and b"scheme://host" in response.content
    data["allowed_origins"] = '["https://Shop.example/"]'
    assert admin_client.post(url, data).status_code == 302
    chat_settings.refresh_from_db()
    assert chat_settings.allowed_origins == ["https://shop.example"] and chat_settings.bot_name == "Nora"
