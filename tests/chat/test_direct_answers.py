"""Extractive-first answers: when retrieval is confident, a knowledge question is answered with the relevant
sentences of the best item (not the whole item) and a product question with the product's facts and link;
nothing is generated. Anything less clear-cut is generated and verified."""

import pytest

from chat.knowledge.embeddings import embed_knowledge_run
from chat.models import KnowledgeItem
from chat.replies.run import reply_generate_run
from tests.chat.conftest import ScriptedGenerator, pending_reply

pytestmark = pytest.mark.django_db

GENERATED = "Orders ship within 2 business days."


@pytest.fixture(autouse=True)
def direct_answers_on(settings):
    settings.CHAT_DIRECT_ANSWER_MIN_SCORE = 0.5


def run(conversation, question, embedder, reply=GENERATED):
    message = pending_reply(conversation, question)
    generator = ScriptedGenerator(reply)
    status = reply_generate_run(message.pk, generator=generator, embedder=embedder)
    message.refresh_from_db()
    return status, message, generator


@pytest.fixture
def delivery(merchant, knowledge, embedder):
    item = KnowledgeItem.objects.create(
        merchant=merchant,
        kind="policy",
        title="Delivery and parcels",
        body="Parcels leave our warehouse in Leeds every weekday. Delivery is free on orders over 50 USD. "
        "Gift wrapping is available at checkout for 3 USD.",
    )
    embed_knowledge_run(merchant.pk, embedder=embedder)
    return item


def test_a_knowledge_question_gets_the_relevant_sentence_not_the_whole_item(
    conversation, delivery, chat_model, embedder
):
    status, reply, generator = run(conversation, "Is delivery free?", embedder)
    assert status == "complete: extractive" and generator.requests == []
    assert reply.text == "Delivery is free on orders over 50 USD."
    assert reply.params == {"mode": "extractive", "knowledge_id": delivery.pk}
    assert [(s["type"], s["id"]) for s in reply.sources] == [("knowledge", delivery.pk)]
    assert reply.safety["direct_answer"]["score"] >= 0.5 and reply.handoff is False
    assert reply.model_version is None and reply.ttft_ms is not None


def test_a_product_question_is_answered_from_its_facts_with_its_link(
    conversation, knowledge, products, chat_model, embedder
):
    bottle = products["bottle"]
    bottle.url = "https://shop.example/products/trail-bottle"
    bottle.save(update_fields=["url"])
    status, reply, generator = run(conversation, "How much does the Trail bottle cost?", embedder)
    assert status == "complete: product_facts" and generator.requests == []
    assert reply.text.startswith("The Trail bottle costs 24.90 ")
    assert bottle.url and reply.text.endswith(bottle.url)
    assert reply.params == {"mode": "product_facts", "product_id": bottle.pk}


def test_a_product_question_its_facts_do_not_answer_is_generated_and_verified(
    conversation, knowledge, products, chat_model, embedder
):
    status, reply, generator = run(
        conversation,
        "Is the Trail bottle good for hot drinks?",
        embedder,
        reply="The Trail bottle keeps drinks hot for 48 hours.",
    )
    # Nothing in its facts answers it; the generated answer invents a number and is not shown.
    assert len(generator.requests) == 1 and status == "handoff: nothing verified"
    assert "48" not in reply.text and reply.safety["handoff"] == "unverified"


def test_below_the_score_nothing_is_taken_directly(settings, conversation, delivery, chat_model, embedder):
    settings.CHAT_DIRECT_ANSWER_MIN_SCORE = 1.01
    status, reply, generator = run(
        conversation, "Is delivery free?", embedder, reply="Delivery is free on orders over 50 USD."
    )
    assert status == "complete" and len(generator.requests) == 1
    assert reply.params["mode"] != "extractive"


def test_switched_off_the_bot_generates(settings, conversation, delivery, chat_model, embedder):
    settings.CHAT_DIRECT_ANSWER_MIN_SCORE = None
    status, reply, generator = run(
        conversation, "Is delivery free?", embedder, reply="Delivery is free on orders over 50 USD."
    )
    assert status == "complete" and len(generator.requests) == 1


def test_a_confident_item_without_a_matching_sentence_is_left_to_the_generator(
    conversation, delivery, chat_model, embedder
):
    # "parcel" retrieves the delivery item, but no sentence of it is about insurance: generated and verified.
    status, reply, generator = run(
        conversation,
        "Are parcels insured against theft?",
        embedder,
        reply="Every parcel is insured against theft by our courier.",
    )
    assert len(generator.requests) == 1
    assert status == "handoff: nothing verified" and "insured" not in reply.text, reply.safety
