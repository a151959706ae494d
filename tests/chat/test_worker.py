"""The chat end to end on a real Celery worker: a knowledge item added through the API is embedded on the `ml`
queue (MiniLM), a shopper message posted through the API is answered on the `chat` queue by the tiny random
Llama registered as the base model, and the API call waits for the reply and answers 201 with it."""

import time

import pytest

from chat.models import KnowledgeItem, Message
from ml.models import ModelVersion
from tests.ml.engine.conftest import build_tiny_checkpoint

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tiny_base(tmp_path):
    path = build_tiny_checkpoint(tmp_path / "tiny-chat-base")
    return ModelVersion.objects.create(name="tiny-chat-base", kind="base", path=str(path))


def wait_for(condition, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError("condition not met in time")


def test_a_reply_through_the_api_and_a_real_worker(celery_worker_process, api_client, tiny_base, settings):
    settings.CHAT_REPLY_WAIT_SECONDS = 240
    item = api_client.post(
        "/api/v1/chat/knowledge/",
        {"kind": "faq", "title": "How do I return an item?", "body": "Return unworn items within 30 days."},
        format="json",
    ).json()
    wait_for(lambda: KnowledgeItem.objects.get(pk=item["id"]).embedding is not None)
    stored = KnowledgeItem.objects.get(pk=item["id"])
    assert (len(stored.embedding), stored.embedding_model) == (384, "all-MiniLM-L6-v2")

    conversation = api_client.post("/api/v1/chat/conversations/", {}, format="json").json()
    response = api_client.post(
        f"/api/v1/chat/conversations/{conversation['id']}/messages/",
        {"text": "How can I return an item I bought?"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    reply = body["reply"]
    assert reply["status"] == "complete" and reply["text"]
    assert reply["model_version"] == tiny_base.pk
    assert reply["sources"][0]["type"] == "knowledge" and reply["sources"][0]["id"] == item["id"]
    assert reply["latency_ms"] is not None and reply["ttft_ms"] is not None
    stored = Message.objects.get(pk=reply["id"])
    assert stored.params["model"] == "tiny-chat-base" and stored.params["mode"] == "batch"
    assert "Return unworn items within 30 days." in stored.prompt


def test_concurrent_replies_are_decoded_together_by_the_process_engine(
    merchant, tiny_base, settings, single_torch_thread
):
    """Four chat-worker threads answering at once: one engine per model version in the process, and the
    RequestBatcher gathers their requests into one batched decode."""
    import threading

    from django.db import connection

    from chat.models import Conversation
    from chat.replies import _engines, reply_generate_run
    from tests.chat.conftest import KeywordEmbedder, pending_reply

    settings.CHAT_BATCH_WAIT_MS = 500  # a wide window, so threads started together always meet
    settings.CHAT_REPLY_MAX_NEW_TOKENS = 8
    KnowledgeItem.objects.create(merchant=merchant, title="How do I return an item?", body="Within 30 days.")
    replies = [
        pending_reply(Conversation.objects.create(merchant=merchant), "How do I return an item?")
        for _ in range(4)
    ]
    barrier = threading.Barrier(4)
    outcomes = []

    def answer(message):
        barrier.wait()
        outcomes.append(reply_generate_run(message.pk, embedder=KeywordEmbedder()))
        connection.close()

    threads = [threading.Thread(target=answer, args=(m,)) for m in replies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert len(outcomes) == 4 and "failed" not in outcomes, outcomes
        stored = Message.objects.filter(pk__in=[m.pk for m in replies])
        assert {m.status for m in stored} == {"complete"}
        assert {m.params["mode"] for m in stored} == {"batch"}
        assert max(m.params["batch_size"] for m in stored) >= 2
    finally:
        for engine in _engines.values():
            engine.close()
        _engines.clear()
