"""The chat tasks are thin and queue on the right queues; the beat schedule runs the sweeps."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chat import tasks
from chat.models import ChatSettings, Message
from config.celery import app
from tests.chat.conftest import KeywordEmbedder
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    calls = []

    def fake(task):
        return lambda args, queue: calls.append((task, args, queue))

    monkeypatch.setattr(tasks.generate_reply_task, "apply_async", fake("reply"))
    monkeypatch.setattr(tasks.embed_products_task, "apply_async", fake("products"))
    return calls


def test_the_sweep_requeues_stale_replies_on_the_chat_queue(conversation, sent):
    message = Message.objects.create(
        conversation=conversation, merchant=conversation.merchant, role="bot", status="pending", params={}
    )
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(seconds=90))
    assert tasks.sweep_stale_replies_task() == {"requeued": [message.pk], "failed": []}
    assert sent == [("reply", [message.pk], "chat")]


def test_product_vectors_go_one_batch_per_run(merchant, monkeypatch, sent):
    monkeypatch.setattr("chat.knowledge.embeddings.default_embedder", KeywordEmbedder)
    monkeypatch.setattr("chat.knowledge.embeddings.PRODUCTS_PER_RUN", 2)
    for _ in range(3):
        ProductFactory(merchant=merchant)
    assert tasks.embed_products_task(merchant.pk) == 2
    assert sent == [("products", [merchant.pk], "ml")]  # the rest in the next run
    assert tasks.embed_products_task(merchant.pk) == 1
    assert len(sent) == 1


def test_stale_catalogs_of_chat_merchants_are_queued(merchant, other_merchant, sent):
    ChatSettings.objects.create(merchant=merchant)
    ProductFactory(merchant=merchant)
    ProductFactory(merchant=other_merchant)  # no chat settings: not using chat
    assert tasks.embed_stale_catalogs_task() == [merchant.pk]
    assert sent == [("products", [merchant.pk], "ml")]


def test_the_beat_schedule_names_registered_tasks():
    schedule = app.conf.beat_schedule
    assert schedule["chat-sweep-stale-replies"]["task"] == tasks.sweep_stale_replies_task.name
    assert schedule["chat-sweep-stale-replies"]["options"]["queue"] == "chat"
    assert schedule["chat-embed-stale-catalogs"]["task"] == tasks.embed_stale_catalogs_task.name
    assert {t.name for t in (tasks.generate_reply_task, tasks.embed_knowledge_task)} <= set(app.tasks)
