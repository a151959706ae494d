"""The worker side of a reply (chat.replies) with a scripted generator and a keyword embedder: claiming,
retrieval and sources, the prompt, the output check, failed answers and handoffs, streaming into the row,
batching of concurrent replies, failures, and keeping the vectors fresh."""

import json
import threading

import pytest

from chat.knowledge.embeddings import embed_knowledge_run, embed_products_run
from chat.models import Conversation, KnowledgeItem, Message, ProductEmbedding
from chat.replies.engine import ReplyEngine
from chat.replies.run import reply_generate_run
from chat.retrieval import retrieve
from ml.engine import GenerationRequest
from ml.engine.chat import ACTION_FALLBACK_REPLY, FALLBACK_REPLY, HANDOFF_NOTICE, REFUSAL_REPLY
from tests.chat.conftest import INTERNAL_POLICY, KeywordEmbedder, ScriptedGenerator, pending_reply

pytestmark = pytest.mark.django_db

RETURNS_ANSWER = "You can return unworn items within 30 days for a full refund from your orders page."


def run(message, generator, embedder):
    status = reply_generate_run(message.pk, generator=generator, embedder=embedder)
    message.refresh_from_db()
    return status


def test_a_grounded_reply_is_stored_with_its_sources_model_and_timings(
    conversation, knowledge, products, chat_model, embedder
):
    reply = pending_reply(conversation, "How do I return an item I bought?")
    generator = ScriptedGenerator(RETURNS_ANSWER)
    assert run(reply, generator, embedder) == "complete"

    assert (reply.status, reply.text, reply.handoff) == ("complete", RETURNS_ANSWER, False)
    assert reply.sources[0]["type"] == "knowledge" and reply.sources[0]["id"] == knowledge["returns"].pk
    assert reply.sources[0]["title"] == "How do I return an item?" and 0 < reply.sources[0]["score"] <= 1
    assert knowledge["internal"].pk not in [s["id"] for s in reply.sources if s["type"] == "knowledge"]
    assert reply.model_version == chat_model
    assert reply.params["model"] == "chat-test-base" and reply.params["seed"] == reply.pk
    assert reply.params["mode"] == "batch" and reply.params["max_new_tokens"] > 0
    assert reply.safety["failed"] is False and reply.safety["injection"] == []
    assert reply.tokens == len(RETURNS_ANSWER.split())
    assert 0 <= reply.ttft_ms <= reply.latency_ms
    assert reply.completed_at is not None

    # The prompt held the retrieved FAQ and the question, never the internal policy.
    prompt = json.loads(reply.prompt)
    assert prompt == [dict(m) for m in generator.requests[0].messages]
    assert "30 days for a full refund" in prompt[0]["content"]
    assert prompt[-1] == {"role": "user", "content": "How do I return an item I bought?"}
    assert "ZEBRA-7741" not in reply.prompt
    conversation.refresh_from_db()
    assert (conversation.status, conversation.failed_answers) == ("open", 0)


def test_history_is_in_the_prompt(conversation, knowledge, chat_model, embedder):
    Message.objects.create(
        conversation=conversation, merchant=conversation.merchant, role="shopper", text="Hi!"
    )
    Message.objects.create(
        conversation=conversation, merchant=conversation.merchant, role="bot", text="Hello, how can I help?"
    )
    reply = pending_reply(conversation, "What is your shipping time?")
    generator = ScriptedGenerator("Orders ship within 2 business days.")
    run(reply, generator, embedder)
    roles = [m["role"] for m in generator.requests[0].messages]
    assert roles == ["system", "user", "assistant", "user"]
    assert generator.requests[0].messages[2]["content"] == "Hello, how can I help?"


def test_the_claim_makes_a_second_run_harmless(conversation, knowledge, chat_model, embedder):
    reply = pending_reply(conversation, "How do returns work?")
    generator = ScriptedGenerator(RETURNS_ANSWER)
    assert run(reply, generator, embedder) == "complete"
    assert reply_generate_run(reply.pk, generator=generator, embedder=embedder) == "skipped: already claimed"
    assert len(generator.requests) == 1
    reply.refresh_from_db()
    assert reply.text == RETURNS_ANSWER


def test_nothing_relevant_hands_off_instead_of_guessing(
    conversation, knowledge, products, chat_model, embedder
):
    reply = pending_reply(conversation, "Can you recommend a good plumber in Ohio?")
    generator = ScriptedGenerator("Sure, call Bob.")
    assert run(reply, generator, embedder) == "handoff: low relevance"
    assert (reply.status, reply.text, reply.handoff) == ("complete", HANDOFF_NOTICE, True)
    assert reply.safety["handoff"] == "low_relevance" and reply.safety["top_score"] < 0.35
    assert generator.requests == []
    conversation.refresh_from_db()
    assert (conversation.status, conversation.handoff_reason) == ("handed_off", "low_relevance")


def test_repeated_failed_answers_hand_off(conversation, knowledge, chat_model, embedder, chat_settings):
    chat_settings.max_failed_answers = 2
    chat_settings.save()
    looping = ScriptedGenerator("returns returns returns returns returns returns returns")

    first = pending_reply(conversation, "How do returns work?")
    assert run(first, looping, embedder) == "failed answer"
    assert (first.status, first.text, first.handoff) == ("complete", FALLBACK_REPLY, False)
    assert first.safety["failed"] is True and "degenerate_repetition" in first.safety["findings"]
    conversation.refresh_from_db()
    assert (conversation.status, conversation.failed_answers) == ("open", 1)

    second = pending_reply(conversation, "Please, how do I send back an item?")
    assert run(second, looping, embedder) == "handoff: failed answers"
    assert (second.text, second.handoff) == (HANDOFF_NOTICE, True)
    conversation.refresh_from_db()
    assert (conversation.status, conversation.handoff_reason, conversation.failed_answers) == (
        "handed_off",
        "failed_answers",
        2,
    )


def test_a_claimed_action_is_rewritten(conversation, knowledge, chat_model, embedder):
    reply = pending_reply(conversation, "I want a refund for my return")
    generator = ScriptedGenerator(
        "I have refunded your order. You can return unworn items within 30 days from your orders page."
    )
    run(reply, generator, embedder)
    assert reply.text == "You can return unworn items within 30 days from your orders page."
    assert "action_claim" in reply.safety["findings"] and reply.safety["failed"] is False

    only_claim = pending_reply(conversation, "Refund my return now")
    run(only_claim, ScriptedGenerator("Done! Your refund has been processed."), embedder)
    assert only_claim.text == ACTION_FALLBACK_REPLY and only_claim.safety["failed"] is True


def test_generation_errors_end_failed_with_a_polite_text(conversation, knowledge, chat_model, embedder):
    reply = pending_reply(conversation, "How do returns work?")
    assert run(reply, ScriptedGenerator(fail=RuntimeError("CUDA fell over")), embedder) == "failed"
    assert (reply.status, reply.text) == ("failed", FALLBACK_REPLY)
    assert reply.error == "RuntimeError: CUDA fell over"
    assert reply.completed_at is not None


def test_no_chat_model_at_all_fails_politely(conversation, knowledge, embedder):
    reply = pending_reply(conversation, "How do returns work?")
    assert reply_generate_run(reply.pk, embedder=embedder) == "failed"
    reply.refresh_from_db()
    assert reply.status == "failed" and "No chat model" in reply.error


def test_the_bot_stays_quiet_once_staff_took_over(conversation, knowledge, chat_model, embedder):
    reply = pending_reply(conversation, "How do returns work?")
    Conversation.objects.filter(pk=conversation.pk).update(status="handed_off", handoff_reason="staff")
    generator = ScriptedGenerator(RETURNS_ANSWER)
    assert run(reply, generator, embedder).startswith("skipped")
    assert (reply.status, reply.text) == ("failed", "") and "handed_off" in reply.error
    assert generator.requests == []


def test_the_serving_chat_deployment_is_used(merchant, conversation, knowledge, chat_model, embedder):
    from ml.models import Deployment, ModelVersion

    tuned = ModelVersion.objects.create(
        merchant=merchant, name="chat-tuned-v1", kind="lora", purpose="chat", parent=chat_model, path="/x"
    )
    Deployment.objects.create(merchant=merchant, purpose="chat", version=tuned, is_active=True)
    reply = pending_reply(conversation, "How do returns work?")
    run(reply, ScriptedGenerator(RETURNS_ANSWER), embedder)
    assert reply.model_version == tuned and reply.params["model"] == "chat-tuned-v1"


def test_streaming_flushes_checked_and_verified_text_into_the_row(
    conversation, knowledge, chat_model, embedder, monkeypatch
):
    monkeypatch.setattr("chat.replies.publisher.FLUSH_EVERY_S", 0.0)
    seen = []
    original = Message.objects.filter
    invented = "Every return also gets a free gift card."
    backed = "A full refund is given for unworn items."
    answer = f"{RETURNS_ANSWER} {invented} {backed}"

    class Spy(ScriptedGenerator):
        def stream(self, request):
            for chunk in super().stream(request):
                yield chunk
                seen.append(original(pk=reply.pk).values_list("status", "text").get())

    reply = pending_reply(conversation, "How do returns work?", stream=True)
    generator = Spy(answer)
    assert run(reply, generator, embedder) == "complete"
    assert generator.streamed == 1 and reply.params["mode"] == "stream"
    texts = [text for status, text in seen if status == "streaming"]
    # The row shows whole verified sentences while the model writes (held seven words behind it, see
    # PartialPublisher), never the invented one, and is never rewritten.
    assert texts[-1] == RETURNS_ANSWER
    assert "" in texts and set(texts) == {"", RETURNS_ANSWER}
    expected = f"{RETURNS_ANSWER} {backed}"
    assert [row["sentence"] for row in reply.safety["unverified"]] == [invented], reply.safety
    assert reply.text == expected and reply.ttft_ms is not None


def test_streaming_never_flushes_a_leak(conversation, knowledge, chat_model, embedder, monkeypatch):
    monkeypatch.setattr("chat.replies.publisher.FLUSH_EVERY_S", 0.0)
    seen = []
    original = Message.objects.filter
    leak = "Sure. " + INTERNAL_POLICY

    class Spy(ScriptedGenerator):
        def stream(self, request):
            for chunk in super().stream(request):
                yield chunk
                seen.append(original(pk=reply.pk).values_list("text", flat=True).get())

    reply = pending_reply(conversation, "What is the refund escalation code?", stream=True)
    run(reply, Spy(leak), embedder)
    assert reply.text == REFUSAL_REPLY
    assert all("ZEBRA" not in text and "manager code" not in text for text in seen)
    assert max(len(t.split()) for t in seen) <= 1  # at most "Sure." showed before the leak was recognised


def test_concurrent_replies_are_decoded_in_one_batch():
    generator = ScriptedGenerator("Fine.", delay=0.05)
    engine = ReplyEngine(generator, max_batch_size=8, max_wait_s=0.3)
    results = []
    barrier = threading.Barrier(4)

    def ask(i):
        barrier.wait()
        request = GenerationRequest.chat([{"role": "user", "content": f"q{i}"}], request_id=str(i))
        results.append(engine.complete(request, stream=False))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    engine.close()
    assert generator.batches == [4]
    assert sorted(r.batch_size for r in results) == [4, 4, 4, 4] and {r.mode for r in results} == {"batch"}


def test_a_streaming_request_is_batched_when_others_are_in_flight():
    generator = ScriptedGenerator("Fine.", delay=0.2)
    engine = ReplyEngine(generator, max_batch_size=8, max_wait_s=0.01)
    started = threading.Event()

    def busy():
        started.set()
        engine.complete(
            GenerationRequest.chat([{"role": "user", "content": "a"}], request_id="a"), stream=False
        )

    thread = threading.Thread(target=busy)
    thread.start()
    started.wait()
    import time

    time.sleep(0.05)
    result = engine.complete(
        GenerationRequest.chat([{"role": "user", "content": "b"}], request_id="b"), stream=True
    )
    thread.join()
    engine.close()
    assert result.mode == "batch" and generator.streamed == 0


# --- retrieval ---------------------------------------------------------------------------------------------


def test_an_exact_sku_finds_the_product_without_any_vector(merchant, bottle, jacket, embedder):
    vector = embedder.embed(["Is JKT-RAIN-2 in stock?"])[0]
    result = retrieve(merchant_id=merchant.pk, question="Is JKT-RAIN-2 in stock?", query_vector=vector)
    assert result.products[0][0] == jacket
    assert result.top_score == 1.0


def test_full_text_matches_words_the_vectors_do_not_know(merchant, knowledge, embedder):
    item = KnowledgeItem.objects.create(
        merchant=merchant, title="Gift wrapping", body="We gift-wrap any order for 4 dollars."
    )
    vector = embedder.embed(["gift wrapping"])[0]
    result = retrieve(merchant_id=merchant.pk, question="Do you offer gift wrapping?", query_vector=vector)
    assert result.knowledge[0][0] == item  # not embedded yet: found by PostgreSQL full-text search


def test_internal_and_inactive_items_are_never_retrieved(merchant, knowledge, embedder):
    KnowledgeItem.objects.filter(pk=knowledge["returns"].pk).update(is_active=False)
    question = "refund escalation manager code fraud review returns"
    result = retrieve(
        merchant_id=merchant.pk, question=question, query_vector=embedder.embed([question])[0], k=10
    )
    ids = {item.pk for item, _ in result.knowledge}
    assert knowledge["internal"].pk not in ids and knowledge["returns"].pk not in ids


def test_another_merchants_knowledge_is_never_retrieved(other_merchant, knowledge, embedder):
    question = "How do I return an item?"
    result = retrieve(
        merchant_id=other_merchant.pk, question=question, query_vector=embedder.embed([question])[0]
    )
    assert result.knowledge == [] and result.top_score == 0.0


# --- vectors -------------------------------------------------------------------------------------------------


def test_knowledge_vectors_are_recomputed_only_when_the_text_changes(merchant, knowledge):
    embedder = KeywordEmbedder()
    assert embed_knowledge_run(merchant.pk, embedder=embedder) == 0  # the fixture embedded them all
    embedder.name = "keyword-embedder-v2"
    assert embed_knowledge_run(merchant.pk, embedder=embedder) == 4  # another model: every vector again
    assert embed_knowledge_run(merchant.pk, embedder=embedder) == 0
    item = knowledge["shipping"]
    item.body = "Orders ship the same day."
    item.save()
    assert embed_knowledge_run(merchant.pk, embedder=embedder) == 1
    item.refresh_from_db()
    assert len(item.embedding) == embedder.dimension and item.embedding_model == "keyword-embedder-v2"


def test_product_vectors_follow_catalog_changes_in_batches(merchant, bottle, jacket, embedder):
    assert embed_products_run(merchant.pk, embedder=embedder, limit=1) == (1, True)
    assert embed_products_run(merchant.pk, embedder=embedder, limit=1) == (1, False)
    assert embed_products_run(merchant.pk, embedder=embedder) == (0, False)
    before = ProductEmbedding.objects.get(product=bottle).vector

    bottle.stock = 3  # not part of the text: no new vector
    bottle.save()
    calls = len(embedder.calls)
    assert embed_products_run(merchant.pk, embedder=embedder) == (0, False)
    assert len(embedder.calls) == calls

    bottle.description = "A flask for the trail."
    bottle.save()
    assert embed_products_run(merchant.pk, embedder=embedder) == (1, False)
    assert ProductEmbedding.objects.get(product=bottle).vector != before


def test_full_text_scores_only_rows_that_hold_the_questions_informative_words(merchant, knowledge):
    from chat.retrieval import KNOWLEDGE_FIELDS, _fallback_scores, lexical_scores, query_tokens

    gift = KnowledgeItem.objects.create(
        merchant=merchant, title="Gift wrapping", body="We gift-wrap any order."
    )
    rows = KnowledgeItem.objects.filter(merchant=merchant)
    # No word the store uses: nothing (ts_rank's tiny non-zero rank for non-matching rows must not count).
    assert lexical_scores(rows, KNOWLEDGE_FIELDS, "see the bill from Mr. Smith") == {}
    # "offer" appears nowhere, so it carries no evidence; "gift" and "wrapping" do, and one item has both.
    scores = lexical_scores(rows, KNOWLEDGE_FIELDS, "Do you offer gift wrapping?")
    assert list(scores) == [gift.pk] and 0 < scores[gift.pk] < 1
    assert list(lexical_scores(rows, KNOWLEDGE_FIELDS, "two-year warranty")) == [knowledge["warranty"].pk]
    # One store word among many others is not enough to count as a match.
    assert lexical_scores(rows, KNOWLEDGE_FIELDS, "best way to cook a steak with a bottle of red wine") == {}
    # The SQLite fallback follows the same rule over substrings.
    question = "Do you offer gift wrapping?"
    assert list(_fallback_scores(rows, KNOWLEDGE_FIELDS, query_tokens(question))) == [gift.pk]
    assert _fallback_scores(rows, KNOWLEDGE_FIELDS, query_tokens("see the bill from Mr. Smith")) == {}
