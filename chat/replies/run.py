"""Writes bot replies in a `chat` worker, and keeps the retrieval vectors fresh in an `ml` worker. Imported by
workers only (it reaches torch through ml.engine).

One reply, `reply_generate_run(message_id)`:
1. claim the pending bot message (pending -> streaming, a guarded update: a redelivered task stops here);
2. embed the shopper's question (MiniLM) and retrieve knowledge and products (chat.retrieval); below the
   merchant's `min_relevance` the bot does not guess: the conversation is handed off (`low_relevance`);
   A question that is clearly one FAQ gets that FAQ's answer word for word; else, when the best source scores at
   least CHAT_DIRECT_ANSWER_MIN_SCORE, the answer is taken from it (engine `direct_answer`: a product's facts
   with its link, or the knowledge item's relevant sentences) and nothing is generated;
3. build the prompt (engine `build_chat_messages`: grounding, bounded history, brand voice) and generate with
   the merchant's serving chat model (its promoted Deployment, else the global base model);
4. check the reply (engine `check_reply`: no system prompt, internal policy, other people's data or claimed
   actions); a failed answer counts against the conversation and enough of them hand it off; then keep only
   the sentences the retrieved sources back (engine `verify_answer`), handing off when none is;
5. store text, sources, model version, parameters, prompt, safety findings and timings; status complete.
Any exception ends the message `failed` with a polite fallback text and the error recorded.

How concurrent replies share a model:
the chat worker runs a threads pool, and every thread goes through one `ReplyEngine` per model version in the
process. A reply that wants streaming (the widget, `?stream=1`) and finds the engine idle streams: its text
goes into `Message.text` at most every ~100 ms, seven words behind the model, each flush being the checked and
verified text so far (see PartialPublisher; once a check finds anything, nothing more is flushed until the final,
checked text replaces it). Every other reply -- and any streaming one that arrives while others are being
decoded -- goes through the engine's `RequestBatcher`, so replies arriving together are decoded in one batch:
under load, throughput wins over token-by-token display (the shopper then sees the whole reply at once)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from django.utils import timezone

from chat.conversations.services import _hand_off, conversation_count_failed_answer, reply_claim, reply_fail
from chat.models import ChatSettings, Conversation, KnowledgeItem, Message, ProductEmbedding
from chat.replies.engine import (
    Generated,
    ReplyEngine,
    _setting,
    default_embedder,
    engine_for,
    sampling_params,
)
from chat.replies.publisher import PartialPublisher
from chat.retrieval import retrieve
from chat.selectors import (
    chat_settings_get,
    conversation_history,
    conversation_shopper_texts,
    internal_knowledge_texts,
)
from marketing.selectors import brand_voice_get
from ml.engine import GenerationRequest
from ml.engine.chat import (
    FALLBACK_REPLY,
    build_chat_messages,
    check_reply,
    detect_injection,
    handoff_notice,
    system_prompt_fingerprint,
)
from ml.engine.chat_grounding import (
    Candidate,
    direct_answer,
    knowledge_source_text,
    product_source_text,
    verify_answer,
)
from ml.engine.retrieval import cosine
from ml.models import Purpose
from ml.selectors import serving_version

logger = logging.getLogger(__name__)


def _confident_faq(result, query_vector) -> tuple[KnowledgeItem, float] | None:
    """The FAQ to answer with word for word, when the question is clearly that FAQ: it is the closest item of
    all retrieved (MiniLM cosine at least CHAT_FAQ_ANSWER_MIN_COSINE) and ahead of the next one by
    CHAT_FAQ_ANSWER_MARGIN. The merchant wrote that answer, so it is exact where a small model would wander;
    anything less clear-cut is generated from the retrieved knowledge. None disables it."""
    min_cosine = _setting("CHAT_FAQ_ANSWER_MIN_COSINE", None)
    if min_cosine is None or query_vector is None:
        return None
    scored = [(cosine(query_vector, item.embedding), item) for item, _ in result.knowledge if item.embedding]
    product_vectors = ProductEmbedding.objects.filter(product__in=[p for p, _ in result.products])
    scored += [
        (cosine(query_vector, vector), None) for vector in product_vectors.values_list("vector", flat=True)
    ]
    scored.sort(key=lambda pair: -pair[0])
    if not scored or scored[0][1] is None or scored[0][1].kind != KnowledgeItem.Kind.FAQ:
        return None
    best, item = scored[0]
    runner_up = scored[1][0] if len(scored) > 1 else 0.0
    if best < min_cosine or best - runner_up < _setting("CHAT_FAQ_ANSWER_MARGIN", 0.04):
        return None
    return item, best


def _direct_answer(question: str, result):
    """The extractive / product-facts answer (ml.engine.chat_grounding.direct_answer) when retrieval is
    confident enough (CHAT_DIRECT_ANSWER_MIN_SCORE; None turns it off)."""
    min_score = _setting("CHAT_DIRECT_ANSWER_MIN_SCORE", None)
    if min_score is None:
        return None
    candidates = [
        Candidate("knowledge", item.pk, float(score), {"title": item.title, "body": item.body})
        for item, score in result.knowledge
    ]
    candidates += [Candidate("product", row["id"], row["score"], row) for row in _product_prompt_rows(result)]
    return direct_answer(question, candidates, min_score=min_score)


def _knowledge_prompt_rows(result) -> list[dict]:
    return [
        {"id": item.pk, "title": item.title, "body": item.body, "kind": item.kind, "score": float(score)}
        for item, score in result.knowledge
    ]


def _product_prompt_rows(result) -> list[dict]:
    return [
        {
            "id": product.pk,
            "title": product.title,
            "brand": product.brand,
            "price": str(product.price),
            "currency": product.currency,
            "description": product.description,
            "attributes": {
                str(k): "" if v is None else str(v) for k, v in (product.attributes or {}).items()
            },
            "url": product.url,
            "stock": product.stock,
            "score": float(score),
        }
        for product, score in result.products
    ]


def _source_texts(result) -> list[str]:
    """What a reply may say: the retrieved knowledge and the retrieved products' facts."""
    texts = [knowledge_source_text(item.title, item.body) for item, _ in result.knowledge]
    return texts + [product_source_text(row) for row in _product_prompt_rows(result)]


def _finish(message_id: int, started: float, **values) -> bool:
    values.setdefault("latency_ms", int((time.perf_counter() - started) * 1000))
    updated = Message.objects.filter(pk=message_id, status=Message.Status.STREAMING).update(
        status=Message.Status.COMPLETE, completed_at=timezone.now(), **values
    )
    Conversation.objects.filter(messages__pk=message_id).update(last_message_at=timezone.now())
    return bool(updated)


def reply_generate_run(message_id: int, *, generator=None, embedder=None) -> str:
    """Write one pending bot reply. `generator` / `embedder` replace the serving model and MiniLM (tests)."""
    if not reply_claim(message_id=message_id):
        return "skipped: already claimed"
    try:
        return _reply_generate(message_id, generator, embedder)
    except Exception as exc:
        logger.exception("Reply %s failed", message_id)
        reply_fail(message_id=message_id, text=FALLBACK_REPLY, error=f"{type(exc).__name__}: {exc}")
        return "failed"


def _reply_generate(message_id: int, generator, embedder) -> str:
    started = time.perf_counter()
    message = Message.objects.select_related("conversation__merchant").get(pk=message_id)
    conversation = message.conversation
    merchant = conversation.merchant
    if conversation.status != Conversation.Status.OPEN:
        return _skip_not_with_bot(message_id, conversation)
    chat_settings: ChatSettings = chat_settings_get(merchant=merchant)
    question_message = _question_before(conversation, message_id)
    question = question_message.text

    embedder = embedder or default_embedder()
    query_vector = embedder.embed([question])[0]
    result = retrieve(
        merchant_id=merchant.pk,
        question=question,
        query_vector=query_vector,
        k=_setting("CHAT_RETRIEVAL_K", 5),
    )
    sources = result.sources()
    if result.top_score < chat_settings.min_relevance:
        return _reply_low_relevance(message_id, started, conversation, result, sources, chat_settings)
    answered = _reply_from_sources(message_id, started, question, result, sources, query_vector)
    if answered is not None:
        return answered
    return _reply_from_model(
        message_id,
        started,
        message=message,
        question_message=question_message,
        chat_settings=chat_settings,
        result=result,
        sources=sources,
        generator=generator,
    )


def _skip_not_with_bot(message_id: int, conversation: Conversation) -> str:
    # Staff took over (or resolved) while the reply waited: the bot stays quiet.
    Message.objects.filter(pk=message_id, status=Message.Status.STREAMING).update(
        status=Message.Status.FAILED,
        text="",
        completed_at=timezone.now(),
        error=f"Not answered: the conversation was {conversation.status} before the reply was written.",
    )
    return "skipped: conversation not with the bot"


def _question_before(conversation: Conversation, message_id: int) -> Message:
    """The shopper message this reply answers: the last one before it."""
    question_message = (
        Message.objects.filter(conversation=conversation, role=Message.Role.SHOPPER, pk__lt=message_id)
        .order_by("-id")
        .first()
    )
    if question_message is None:
        raise RuntimeError("No shopper message precedes this reply.")
    return question_message


def _reply_low_relevance(
    message_id: int, started: float, conversation: Conversation, result, sources: list, chat_settings
) -> str:
    handed_off = _hand_off(conversation.pk, Conversation.HandoffReason.LOW_RELEVANCE)
    _finish(
        message_id,
        started,
        text=handoff_notice(Conversation.HandoffReason.LOW_RELEVANCE),
        handoff=handed_off,
        sources=sources,
        safety={
            "handoff": "low_relevance",
            "top_score": round(result.top_score, 4),
            "min_relevance": chat_settings.min_relevance,
        },
        ttft_ms=int((time.perf_counter() - started) * 1000),
    )
    return "handoff: low relevance"


def _reply_from_sources(
    message_id: int, started: float, question: str, result, sources: list, query_vector
) -> str | None:
    """Answer without the model when a source answers the question on its own (the FAQ it clearly is, else a
    direct answer from the best source); None when the reply has to be generated."""
    faq = _confident_faq(result, query_vector)
    if faq is not None:
        item, similarity = faq
        finished = _finish(
            message_id,
            started,
            text=item.body,
            sources=[row for row in sources if row["type"] == "knowledge" and row["id"] == item.pk],
            params={"mode": "faq_answer", "knowledge_id": item.pk},
            safety={
                "faq_answer": {"id": item.pk, "cosine": round(similarity, 4)},
                "injection": detect_injection(question),
                "failed": False,
            },
            ttft_ms=int((time.perf_counter() - started) * 1000),
        )
        return "complete: faq answer" if finished else "stale: the sweeper ended this reply first"

    direct = _direct_answer(question, result)
    if direct is not None:
        source = direct.source
        finished = _finish(
            message_id,
            started,
            text=direct.text,
            sources=[row for row in sources if row["type"] == source.kind and row["id"] == source.id],
            params={"mode": direct.mode, f"{source.kind}_id": source.id},
            safety={
                "direct_answer": {
                    "mode": direct.mode,
                    "type": source.kind,
                    "id": source.id,
                    "score": round(source.score, 4),
                },
                "injection": detect_injection(question),
                "failed": False,
            },
            ttft_ms=int((time.perf_counter() - started) * 1000),
        )
        return f"complete: {direct.mode}" if finished else "stale: the sweeper ended this reply first"
    return None


def _reply_from_model(
    message_id: int,
    started: float,
    *,
    message: Message,
    question_message: Message,
    chat_settings: ChatSettings,
    result,
    sources: list,
    generator,
) -> str:
    """Steps 3-5: prompt and generate, check and verify the reply, store it."""
    conversation = message.conversation
    merchant = conversation.merchant
    messages = _prompt_messages(conversation, question_message, chat_settings, result)
    check = _reply_checker(conversation, messages)

    version = serving_version(merchant=merchant, purpose=Purpose.CHAT)
    if version is None and generator is None:
        raise RuntimeError("No chat model is registered (run `manage.py ml_provision`).")
    params = sampling_params()
    request = GenerationRequest.chat(messages, request_id=str(message_id), seed=message_id, **params)
    source_texts = _source_texts(result)
    publisher = PartialPublisher(
        message_id, check, verify=lambda text: verify_answer(text, source_texts, finished=False).text
    )
    stream = bool(message.params.get("stream"))
    generated = _generate(generator, version, request, stream=stream, on_text=publisher)
    record = {
        "sources": sources,
        "model_version": version,
        "params": {
            **params,
            "seed": message_id,
            "model": version.name if version else type(generator).__name__,
            "mode": generated.mode,
            "batch_size": generated.batch_size,
            "stream_requested": stream,
        },
        "prompt": json.dumps(messages, ensure_ascii=False),
        "tokens": generated.tokens,
    }

    checked = check(generated.text, generated.finished)
    text = checked.text
    failed = bool(checked.failed) or not text.strip()
    verified = None
    if not failed:
        # Only sentences the retrieved sources back reach the shopper (ml.engine.chat_grounding); with nothing
        # backed left, the bot says it does not know and hands the conversation to a person.
        verified = verify_answer(text, source_texts)
        if verified.dropped:
            text = verified.text
        if not text.strip():
            handed_off = _hand_off(conversation.pk, Conversation.HandoffReason.LOW_RELEVANCE)
            _finish(
                message_id,
                started,
                text=handoff_notice(Conversation.HandoffReason.LOW_RELEVANCE),
                handoff=handed_off,
                **record,
                safety={
                    **checked.to_dict(),
                    "handoff": "unverified",
                    "unverified": [{"sentence": s, "why": w} for s, w in verified.dropped],
                },
                ttft_ms=_shown_ttft_ms(started, publisher),
            )
            return "handoff: nothing verified"
    handoff, text = _after_answer_check(conversation, chat_settings, failed=failed, text=text)
    finished = _finish(
        message_id,
        started,
        text=text,
        handoff=handoff,
        **record,
        safety={
            **checked.to_dict(),
            "unverified": [{"sentence": s, "why": w} for s, w in (verified.dropped if verified else [])],
            "injection": detect_injection(question_message.text),
            "failed_answer": failed,
            "streamed_prefix_chars": len(publisher.published),
        },
        ttft_ms=_shown_ttft_ms(started, publisher),
    )
    if not finished:
        return "stale: the sweeper ended this reply first"
    if handoff:
        return "handoff: failed answers"
    return "failed answer" if failed else "complete"


def _prompt_messages(
    conversation: Conversation, question_message: Message, chat_settings: ChatSettings, result
) -> list[dict]:
    merchant = conversation.merchant
    voice = brand_voice_get(merchant=merchant)
    history = conversation_history(
        conversation=conversation, before_id=question_message.pk, turns=chat_settings.history_turns
    )
    return build_chat_messages(
        question=question_message.text,
        history=history,
        knowledge=_knowledge_prompt_rows(result),
        products=_product_prompt_rows(result),
        merchant_name=merchant.name,
        bot_name=chat_settings.bot_name,
        brand_voice=voice.as_prompt_dict() if voice else None,
        history_turns=chat_settings.history_turns,
        char_budget=_setting("CHAT_PROMPT_CHAR_BUDGET", 3000),
    )


def _reply_checker(conversation: Conversation, messages: list[dict]) -> Callable[..., object]:
    """`check_reply` bound to this conversation's prompt, internal knowledge and shopper texts."""
    system_prompt = system_prompt_fingerprint(messages)
    max_chars = _setting("CHAT_REPLY_MAX_CHARS", 1200)
    protected = internal_knowledge_texts(merchant=conversation.merchant)
    shopper_texts = conversation_shopper_texts(conversation=conversation)

    def check(text: str, finished: bool = True):
        return check_reply(
            text,
            system_prompt=system_prompt,
            protected_texts=protected,
            shopper_texts=shopper_texts,
            max_chars=max_chars,
            finished=finished,
        )

    return check


def _generate(generator, version, request: GenerationRequest, *, stream: bool, on_text) -> Generated:
    """Complete on the serving version's shared engine, or on a throwaway engine around `generator` (tests)."""
    engine = ReplyEngine(generator) if generator is not None else engine_for(version)
    try:
        return engine.complete(request, stream=stream, on_text=on_text)
    finally:
        if generator is not None:
            engine.close()


def _shown_ttft_ms(started: float, publisher: PartialPublisher) -> int:
    """From the worker's start (retrieval included) to the first text the shopper could read: the first
    verified flush of a streamed reply, else the final reply."""
    return int(((publisher.first_shown_at or time.perf_counter()) - started) * 1000)


def _after_answer_check(
    conversation: Conversation, chat_settings: ChatSettings, *, failed: bool, text: str
) -> tuple[bool, str]:
    """A failed answer counts against the conversation, and enough of them hand it to a person. Returns
    (handed off, the text to store)."""
    handoff = False
    if failed:
        count = conversation_count_failed_answer(conversation_id=conversation.pk)
        if count >= chat_settings.max_failed_answers:
            handoff = _hand_off(conversation.pk, Conversation.HandoffReason.FAILED_ANSWERS)
            if handoff:
                text = handoff_notice(Conversation.HandoffReason.FAILED_ANSWERS)
    if not text.strip():
        text = FALLBACK_REPLY
    return handoff, text
