"""A question that is clearly one FAQ is answered with the merchant's own answer, word for word, without
the model; anything less clear-cut (a policy on top, two close candidates, the feature off) is generated."""

import pytest

from chat.models import KnowledgeItem
from chat.replies.run import reply_generate_run
from tests.chat.conftest import ScriptedGenerator, pending_reply

pytestmark = pytest.mark.django_db

GENERATED = "Orders ship within 2 business days."
GENERATED_RETURNS = "Unworn items can be returned within 30 days."


@pytest.fixture(autouse=True)
def faq_answers_on(settings):
    settings.CHAT_FAQ_ANSWER_MIN_COSINE = 0.5
    settings.CHAT_FAQ_ANSWER_MARGIN = 0.04


def run(conversation, question, embedder, answer=GENERATED):
    reply = pending_reply(conversation, question)
    generator = ScriptedGenerator(answer)
    status = reply_generate_run(reply.pk, generator=generator, embedder=embedder)
    reply.refresh_from_db()
    return status, reply, generator


def test_a_clear_faq_match_is_answered_with_the_faq_itself(conversation, knowledge, chat_model, embedder):
    status, reply, generator = run(conversation, "How do I return an item I bought?", embedder)
    faq = knowledge["returns"]
    assert status == "complete: faq answer" and generator.requests == []
    assert (reply.status, reply.text, reply.handoff) == ("complete", faq.body, False)
    assert reply.params == {"mode": "faq_answer", "knowledge_id": faq.pk}
    assert reply.sources == [
        {"type": "knowledge", "id": faq.pk, "title": faq.title, "score": reply.sources[0]["score"]}
    ]  # the one item the answer is
    assert reply.safety["faq_answer"]["id"] == faq.pk and reply.safety["faq_answer"]["cosine"] >= 0.5
    assert reply.model_version is None and reply.ttft_ms is not None and reply.latency_ms is not None


def test_a_policy_on_top_is_generated_from(conversation, knowledge, chat_model, embedder):
    status, reply, generator = run(conversation, "What is your shipping time?", embedder)
    assert status == "complete" and len(generator.requests) == 1
    assert reply.text == GENERATED and reply.params["mode"] != "faq_answer"


def test_two_close_faqs_are_not_answered_word_for_word(
    merchant, conversation, knowledge, chat_model, embedder
):
    from chat.knowledge.embeddings import embed_knowledge_run

    KnowledgeItem.objects.create(
        merchant=merchant,
        kind="faq",
        title="Can I return a gift?",
        body="Gifts can be returned for store credit within 30 days.",
    )
    embed_knowledge_run(merchant.pk, embedder=embedder)
    status, reply, generator = run(
        conversation, "How do I return an item I bought?", embedder, GENERATED_RETURNS
    )
    assert status == "complete" and len(generator.requests) == 1 and reply.text == GENERATED_RETURNS


def test_switched_off_every_reply_is_generated(settings, conversation, knowledge, chat_model, embedder):
    settings.CHAT_FAQ_ANSWER_MIN_COSINE = None
    status, reply, generator = run(
        conversation, "How do I return an item I bought?", embedder, GENERATED_RETURNS
    )
    assert status == "complete" and len(generator.requests) == 1 and reply.text == GENERATED_RETURNS
