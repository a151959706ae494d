"""Conversation rules: starting, posting (validation, pending replies queued on commit), the handoff rules
decided at once (the shopper asks for a person, a sensitive topic), staff taking over, replying, handing back
and resolving, feedback on replies, chat settings, and the stale-reply sweeper."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import AuditLog
from chat.conversations.services import (
    conversation_hand_back,
    conversation_hand_off,
    conversation_resolve,
    conversation_start,
    conversation_take_over,
    message_correct,
    message_post,
    message_rate,
    reply_sweep_stale,
    staff_reply,
)
from chat.models import ChatSettings, Conversation, Message
from chat.selectors import (
    chat_settings_for_widget,
    chat_settings_get,
    conversation_get,
    conversation_list,
    inbox_counts,
    message_list,
)
from chat.widget.services import chat_settings_update, origin_normalize, widget_token_rotate
from ml.engine.chat import FALLBACK_REPLY, HANDOFF_NOTICE, handoff_notice

pytestmark = pytest.mark.django_db


# --- starting and posting ----------------------------------------------------------------------------------


def test_only_widget_conversations_get_a_session_secret(merchant):
    api = conversation_start(merchant=merchant, source="api", customer_external_id=" cust-1 ")
    widget = conversation_start(merchant=merchant, source="widget", origin="https://shop.example")
    assert (api.status, api.customer_external_id, api.session_secret) == ("open", "cust-1", "")
    assert len(widget.session_secret) >= 40 and widget.origin == "https://shop.example"
    assert ChatSettings.objects.filter(merchant=merchant).exists()  # created on first use


def test_start_rejects_unknown_source_and_long_customer_id(merchant):
    with pytest.raises(ValidationError) as exc:
        conversation_start(merchant=merchant, source="fax")
    assert "source" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        conversation_start(merchant=merchant, source="api", customer_external_id="x" * 201)
    assert "customer_external_id" in exc.value.message_dict


@pytest.mark.parametrize(
    "text, error",
    [
        ("", "may not be blank"),
        ("   \n ", "may not be blank"),
        ("x" * 2001, "At most 2000"),
        (42, "Must be a string"),
    ],
)
def test_post_validates_the_text(conversation, no_enqueue, text, error):
    with pytest.raises(ValidationError) as exc:
        message_post(conversation=conversation, text=text)
    assert error in exc.value.message_dict["text"][0]
    assert not Message.objects.exists()


def test_post_stores_the_message_and_queues_a_pending_reply_on_commit(
    conversation, no_enqueue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        result = message_post(conversation=conversation, text="  How long does shipping take?\x00 ")
    assert result.shopper_message.text == "How long does shipping take?"
    assert result.shopper_message.role == "shopper"
    assert (result.reply_message.role, result.reply_message.status, result.handoff) == (
        "bot",
        "pending",
        False,
    )
    assert no_enqueue == [result.reply_message.pk]
    conversation.refresh_from_db()
    assert conversation.last_message_at is not None


def test_nothing_is_queued_when_the_transaction_rolls_back(
    conversation, no_enqueue, django_capture_on_commit_callbacks
):
    from django.db import transaction

    with (
        django_capture_on_commit_callbacks(execute=False) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        message_post(conversation=conversation, text="Hello?")
        raise RuntimeError("boom")
    assert callbacks == [] and no_enqueue == []


@pytest.mark.parametrize(
    "text", ["I want to talk to a human", "Can I speak to a real person please?", "get me an agent"]
)
def test_asking_for_a_person_hands_off_at_once(conversation, no_enqueue, text):
    result = message_post(conversation=conversation, text=text)
    assert result.handoff is True
    reply = result.reply_message
    assert (reply.role, reply.status, reply.text, reply.handoff) == (
        "bot",
        "complete",
        handoff_notice("requested"),
        True,
    )
    conversation.refresh_from_db()
    assert (conversation.status, conversation.handoff_reason) == ("handed_off", "requested")
    assert conversation.handed_off_at is not None
    assert no_enqueue == []


def test_sensitive_topics_hand_off_both_default_and_the_merchants_own(
    merchant, conversation, no_enqueue, actor
):
    result = message_post(
        conversation=conversation, text="Your kettle gave me an injury, I will call a lawyer"
    )
    conversation.refresh_from_db()
    assert result.handoff and conversation.handoff_reason == "sensitive"
    assert result.reply_message.text == handoff_notice("sensitive") != HANDOFF_NOTICE

    chat_settings_update(merchant=merchant, actor=actor, handoff_topics=["wholesale pricing"])
    other = conversation_start(merchant=merchant, source="api")
    result = message_post(conversation=other, text="Do you offer wholesale pricing for shops?")
    other.refresh_from_db()
    assert result.handoff and (other.status, other.handoff_reason) == ("handed_off", "sensitive")


def test_an_ordinary_question_is_not_handed_off(conversation, no_enqueue):
    result = message_post(conversation=conversation, text="Is the trail bottle dishwasher safe?")
    assert result.handoff is False and result.reply_message.status == "pending"


def test_while_staff_answer_the_bot_stays_quiet(conversation, no_enqueue, staff_actor):
    conversation_take_over(conversation=conversation, actor=staff_actor)
    result = message_post(conversation=conversation, text="Hello? Anyone there?")
    assert result.reply_message is None and result.handoff is True
    assert no_enqueue == []
    assert not Message.objects.filter(conversation=conversation, role="bot").exists()


def test_a_resolved_conversation_reopens_with_the_bot(conversation, no_enqueue, staff_actor):
    conversation.failed_answers = 2
    conversation.save()
    conversation_resolve(conversation=conversation, actor=staff_actor)
    result = message_post(conversation=conversation, text="One more question about returns")
    conversation.refresh_from_db()
    assert (conversation.status, conversation.failed_answers, conversation.resolved_at) == ("open", 0, None)
    assert result.reply_message.status == "pending"


# --- staff --------------------------------------------------------------------------------------------------


def test_take_over_assigns_and_tells_the_shopper(conversation, staff_actor, owner):
    conversation = conversation_take_over(conversation=conversation, actor=staff_actor)
    assert (conversation.status, conversation.handoff_reason, conversation.assigned_to) == (
        "handed_off",
        "staff",
        owner,
    )
    notice = Message.objects.get(conversation=conversation)
    assert notice.role == "system" and "team" in notice.text
    assert AuditLog.objects.filter(action="conversation.take_over", object_id=str(conversation.pk)).exists()
    # Taking over again is a no-op (no second notice).
    conversation_take_over(conversation=conversation, actor=staff_actor)
    assert Message.objects.filter(conversation=conversation).count() == 1


def test_take_over_keeps_the_reason_the_bot_handed_off_for(conversation, no_enqueue, staff_actor, owner):
    message_post(conversation=conversation, text="I want to speak to a human")
    conversation = conversation_take_over(conversation=conversation, actor=staff_actor)
    assert (conversation.handoff_reason, conversation.assigned_to) == ("requested", owner)


def test_staff_reply_takes_over_first(conversation, staff_actor, owner):
    message = staff_reply(conversation=conversation, text="Hi, this is Sam from support.", actor=staff_actor)
    conversation.refresh_from_db()
    assert (message.role, message.author, message.text) == ("staff", owner, "Hi, this is Sam from support.")
    assert (conversation.status, conversation.assigned_to) == ("handed_off", owner)
    assert AuditLog.objects.filter(action="conversation.staff_reply").count() == 1
    with pytest.raises(ValidationError):
        staff_reply(conversation=conversation, text=" ", actor=staff_actor)


def test_hand_back_resets_failed_answers_and_only_from_handed_off(conversation, staff_actor):
    with pytest.raises(ValidationError):
        conversation_hand_back(conversation=conversation, actor=staff_actor)
    Conversation.objects.filter(pk=conversation.pk).update(failed_answers=2)
    conversation_hand_off(conversation=conversation, reason="failed_answers")
    conversation = conversation_hand_back(conversation=conversation, actor=staff_actor)
    assert (conversation.status, conversation.failed_answers, conversation.handoff_reason) == ("open", 0, "")
    assert conversation.assigned_to is None
    assert Message.objects.filter(conversation=conversation, role="system", text__contains="again").exists()
    assert AuditLog.objects.filter(action="conversation.hand_back").count() == 1


def test_hand_off_is_guarded_and_validates_the_reason(conversation):
    notice = conversation_hand_off(conversation=conversation, reason="low_relevance")
    assert notice.text == HANDOFF_NOTICE and notice.handoff
    assert (
        conversation_hand_off(conversation=conversation, reason="requested") is None
    )  # already with a person
    with pytest.raises(ValidationError):
        conversation_hand_off(conversation=conversation, reason="bored")


def test_resolve_once(conversation, staff_actor):
    conversation = conversation_resolve(conversation=conversation, actor=staff_actor)
    assert conversation.status == "resolved" and conversation.resolved_at
    conversation_resolve(conversation=conversation, actor=staff_actor)
    assert AuditLog.objects.filter(action="conversation.resolve").count() == 1


def test_rating_and_correcting_bot_replies_only(conversation, staff_actor, owner):
    bot = Message.objects.create(
        conversation=conversation, merchant=conversation.merchant, role="bot", text="Hi"
    )
    shopper = Message.objects.create(
        conversation=conversation, merchant=conversation.merchant, role="shopper", text="x"
    )
    assert message_rate(message=bot, rating=-1, actor=staff_actor).rating == -1
    with pytest.raises(ValidationError):
        message_rate(message=bot, rating=5, actor=staff_actor)
    with pytest.raises(ValidationError):
        message_rate(message=shopper, rating=1, actor=staff_actor)
    corrected = message_correct(message=bot, correction="Returns are free within 30 days.", actor=staff_actor)
    assert (corrected.correction, corrected.corrected_by) == ("Returns are free within 30 days.", owner)
    cleared = message_correct(message=bot, correction="", actor=staff_actor)
    assert (cleared.correction, cleared.corrected_by) == ("", None)
    assert AuditLog.objects.filter(action__in=["message.rate", "message.correct"]).count() == 3


# --- selectors ----------------------------------------------------------------------------------------------


def test_selectors_are_merchant_scoped(merchant, other_merchant, no_enqueue):
    from django.http import Http404

    mine = conversation_start(merchant=merchant, source="api", customer_external_id="alice")
    theirs = conversation_start(merchant=other_merchant, source="api")
    message_post(conversation=mine, text="Where is my parcel?")
    with pytest.raises(Http404):
        conversation_get(merchant=merchant, pk=theirs.pk)
    with pytest.raises(Http404):
        conversation_get(merchant=merchant, pk="not-a-number")
    assert list(conversation_list(merchant=merchant)) == [mine]
    assert list(conversation_list(merchant=merchant, q="parcel")) == [mine]
    assert list(conversation_list(merchant=merchant, q="alice")) == [mine]
    assert list(conversation_list(merchant=merchant, q="nothing like this")) == []
    assert list(conversation_list(merchant=merchant, status="resolved")) == []
    assert inbox_counts(merchant=merchant) == {"open": 1, "handed_off": 0, "resolved": 0}
    first = message_list(conversation=mine).first()
    assert [m.role for m in message_list(conversation=mine, after_id=first.pk)] == ["bot"]


def test_widget_token_lookup(merchant, actor):
    from django.http import Http404

    chat_settings = chat_settings_get(merchant=merchant)
    assert chat_settings_for_widget(token=chat_settings.widget_token) == chat_settings
    for bad in ("", "wgt_nope", "x" * 500):
        with pytest.raises(Http404):
            chat_settings_for_widget(token=bad)
    old = chat_settings.widget_token
    rotated = widget_token_rotate(merchant=merchant, actor=actor)
    assert rotated.widget_token != old
    with pytest.raises(Http404):
        chat_settings_for_widget(token=old)


# --- settings ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("https://Shop.Example/", "https://shop.example"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("https://shop.example:443", "https://shop.example"),
    ],
)
def test_origins_are_normalised(value, expected):
    assert origin_normalize(value) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "shop.example",
        "ftp://shop.example",
        "https://shop.example/path",
        "https://*.example",
        "null",
        "https://user:pw@shop.example",
        "https://shop.example?x=1",
        7,
    ],
)
def test_settings_refuse_anything_but_plain_origins(merchant, actor, bad):
    with pytest.raises(ValidationError) as exc:
        chat_settings_update(merchant=merchant, actor=actor, allowed_origins=[bad])
    assert "allowed_origins" in exc.value.message_dict


def test_settings_update_validates_and_audits(merchant, actor):
    chat_settings = chat_settings_update(
        merchant=merchant,
        actor=actor,
        allowed_origins=["https://shop.example/", "https://shop.example"],
        bot_name=" Nora ",
        min_relevance=0.5,
        handoff_topics=[" Wholesale  orders", "wholesale orders"],
    )
    assert chat_settings.allowed_origins == ["https://shop.example"]
    assert (chat_settings.bot_name, chat_settings.min_relevance) == ("Nora", 0.5)
    assert chat_settings.handoff_topics == ["Wholesale orders"]
    assert AuditLog.objects.filter(action="chat_settings.update").count() == 1
    for bad in (
        {"min_relevance": 1.5},
        {"max_failed_answers": 0},
        {"bot_name": ""},
        {"rate_limit_per_minute": 0},
    ):
        with pytest.raises(ValidationError) as exc:
            chat_settings_update(merchant=merchant, actor=actor, **bad)
        assert set(bad) <= set(exc.value.message_dict)
    with pytest.raises(TypeError):
        chat_settings_update(merchant=merchant, actor=actor, widget_token="mine")


# --- the stale-reply sweeper ---------------------------------------------------------------------------------


def test_sweeper_requeues_once_then_gives_up_politely(conversation, settings):
    settings.CHAT_REPLY_STALE_SECONDS = 60
    settings.CHAT_REPLY_GIVE_UP_SECONDS = 180
    fresh = _aged(conversation, "pending", 5)
    stale = _aged(conversation, "pending", 90)
    stuck_streaming = _aged(conversation, "streaming", 200)
    dead_pending = _aged(conversation, "pending", 400)

    outcome = reply_sweep_stale()
    assert outcome["requeued"] == [stale.pk]
    assert sorted(outcome["failed"]) == sorted([stuck_streaming.pk, dead_pending.pk])
    for message in (stuck_streaming, dead_pending):
        message.refresh_from_db()
        assert (message.status, message.text) == ("failed", FALLBACK_REPLY) and message.error
    fresh.refresh_from_db()
    assert fresh.status == "pending"
    assert reply_sweep_stale()["requeued"] == []  # requeued once only


def _aged(conversation, status, seconds):
    message = Message.objects.create(
        conversation=conversation, merchant=conversation.merchant, role="bot", status=status, params={}
    )
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(seconds=seconds))
    return message


def test_a_new_conversation_refreshes_stale_product_vectors_at_most_every_few_minutes(
    merchant, monkeypatch, django_capture_on_commit_callbacks
):
    from django.core.cache import cache

    from chat.knowledge.services import product_vectors_refresh_soon
    from tests.factories import ProductFactory

    queued = []
    monkeypatch.setattr(
        "chat.tasks.embed_products_task.apply_async", lambda args, queue: queued.append((args, queue))
    )
    cache.delete(f"chat:product-vectors:{merchant.pk}")
    assert product_vectors_refresh_soon(merchant_id=merchant.pk) is False  # no products: nothing to do
    cache.delete(f"chat:product-vectors:{merchant.pk}")
    ProductFactory(merchant=merchant)
    with django_capture_on_commit_callbacks(execute=True):
        conversation_start(merchant=merchant, source="widget")
    assert queued == [([merchant.pk], "ml")]
    assert product_vectors_refresh_soon(merchant_id=merchant.pk) is False  # debounced
    assert len(queued) == 1
