"""Writes for support conversations and their messages: a shopper's message, handoff to staff and back, staff
replies and feedback on bot replies, and the worker-side writes of a reply (claim, fail, the stale sweep).

A shopper's message is stored with a *pending* bot message in one transaction; the reply itself is written by
a `chat` queue worker (chat.replies), queued on commit. Handoff rules that need no model (the shopper asks
for a person, a sensitive topic) are decided here, at once, so the shopper is told without waiting for a
worker. Status changes are guarded updates: a change that lost a race does nothing.

Roles and API scopes are checked by the views; these functions trust their caller on *who* may act and
enforce *what* may happen."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Merchant
from accounts.services import Actor, audit_record
from chat.knowledge.services import product_vectors_refresh_soon
from chat.models import DEFAULT_HANDOFF_TOPICS, ChatSettings, Conversation, Message
from chat.selectors import chat_settings_get
from chat.text import clean_text
from ml.engine.chat import detect_handoff_request, handoff_notice, match_sensitive_topic

TAKE_OVER_NOTICE = "A member of our team has joined the conversation."
HAND_BACK_NOTICE = "You are chatting with {bot_name} again."
RESOLVED_NOTICE = "This conversation has been marked as resolved. Write again any time."


@dataclass(frozen=True)
class PostResult:
    """What posting a shopper message did: the stored message, the bot's reply (pending until a worker
    writes it, complete at once for a handoff notice, None when staff are answering) and whether the
    conversation is now with a person."""

    shopper_message: Message
    reply_message: Message | None
    handoff: bool


# --- helpers -----------------------------------------------------------------------------------------------


def _staff_actor_user(actor: Actor | None):
    return actor.user if actor is not None else None


def _bot_message(conversation: Conversation, text: str, **fields) -> Message:
    return Message.objects.create(
        conversation=conversation,
        merchant_id=conversation.merchant_id,
        role=Message.Role.BOT,
        text=text,
        status=fields.pop("status", Message.Status.COMPLETE),
        completed_at=timezone.now(),
        **fields,
    )


def _system_notice(conversation: Conversation, text: str) -> Message:
    return Message.objects.create(
        conversation=conversation,
        merchant_id=conversation.merchant_id,
        role=Message.Role.SYSTEM,
        text=text,
        completed_at=timezone.now(),
    )


def _touch(conversation: Conversation) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(last_message_at=timezone.now())


def handoff_topics(chat_settings: ChatSettings) -> list[str]:
    """The merchant's own topics plus the defaults that always go to a person."""
    merged, seen = [], set()
    for topic in [*(chat_settings.handoff_topics or []), *DEFAULT_HANDOFF_TOPICS]:
        key = topic.strip().lower()
        if key and key not in seen:
            seen.add(key)
            merged.append(topic.strip())
    return merged


def reply_enqueue(message_id: int) -> None:
    """Queue the worker that writes a pending bot reply (called on commit)."""
    from chat.tasks import generate_reply_task

    generate_reply_task.apply_async(args=[message_id], queue="chat")


# --- conversations -----------------------------------------------------------------------------------------


def conversation_start(
    *, merchant: Merchant, source: str, customer_external_id: str = "", origin: str = ""
) -> Conversation:
    """A new conversation served by the bot. Widget conversations get a random session secret that only the
    shopper's browser holds."""
    if source not in Conversation.Source.values:
        raise ValidationError({"source": [f"Must be one of {', '.join(Conversation.Source.values)}."]})
    customer_external_id = (customer_external_id or "").strip()
    if len(customer_external_id) > 200:
        raise ValidationError({"customer_external_id": ["At most 200 characters."]})
    origin = (origin or "").strip()[:300]
    conversation = Conversation.objects.create(
        merchant=merchant,
        source=source,
        customer_external_id=customer_external_id,
        origin=origin,
        session_secret=secrets.token_urlsafe(32) if source == Conversation.Source.WIDGET else "",
        last_message_at=timezone.now(),
    )
    chat_settings_get(merchant=merchant)
    transaction.on_commit(lambda: product_vectors_refresh_soon(merchant_id=merchant.pk))
    return conversation


def message_post(
    *, conversation: Conversation, text: str, actor: Actor | None = None, stream: bool = False
) -> PostResult:
    """Store a shopper's message and start the answer. `stream=True` asks the worker to write the reply into
    the message as it decodes (the widget and `?stream=1` API callers read it live)."""
    text = clean_text(text)
    with transaction.atomic():
        # One shopper turn at a time per conversation: the status read below must still hold when we write.
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        shopper_message = Message.objects.create(
            conversation=conversation,
            merchant_id=conversation.merchant_id,
            role=Message.Role.SHOPPER,
            text=text,
            completed_at=timezone.now(),
        )
        now = timezone.now()
        if conversation.status == Conversation.Status.RESOLVED:
            Conversation.objects.filter(pk=conversation.pk, status=Conversation.Status.RESOLVED).update(
                status=Conversation.Status.OPEN,
                resolved_at=None,
                handoff_reason="",
                failed_answers=0,
                assigned_to=None,
            )
            conversation.status = Conversation.Status.OPEN
        Conversation.objects.filter(pk=conversation.pk).update(last_message_at=now)

        if conversation.status == Conversation.Status.HANDED_OFF:
            return PostResult(shopper_message=shopper_message, reply_message=None, handoff=True)

        chat_settings = chat_settings_get(merchant=conversation.merchant)
        reason = None
        if detect_handoff_request(text):
            reason = Conversation.HandoffReason.REQUESTED
        elif match_sensitive_topic(text, handoff_topics(chat_settings)):
            reason = Conversation.HandoffReason.SENSITIVE
        if reason:
            notice = conversation_hand_off(conversation=conversation, reason=reason, actor=actor)
            return PostResult(shopper_message=shopper_message, reply_message=notice, handoff=True)

        reply = Message.objects.create(
            conversation=conversation,
            merchant_id=conversation.merchant_id,
            role=Message.Role.BOT,
            status=Message.Status.PENDING,
            params={"stream": bool(stream)},
        )
        transaction.on_commit(lambda: reply_enqueue(reply.pk))
    return PostResult(shopper_message=shopper_message, reply_message=reply, handoff=False)


def _hand_off(conversation_id: int, reason: str) -> bool:
    """Guarded: only a conversation the bot is serving is handed off (and only once)."""
    return bool(
        Conversation.objects.filter(pk=conversation_id, status=Conversation.Status.OPEN).update(
            status=Conversation.Status.HANDED_OFF, handoff_reason=reason, handed_off_at=timezone.now()
        )
    )


@transaction.atomic
def conversation_hand_off(
    *, conversation: Conversation, reason: str, actor: Actor | None = None
) -> Message | None:
    """Hand an open conversation to staff and tell the shopper (the returned bot notice, flagged `handoff`).
    None when it was not open (already with a person, or resolved)."""
    if reason not in Conversation.HandoffReason.values or not reason:
        raise ValidationError(
            {"reason": [f"Must be one of {', '.join(v for v in Conversation.HandoffReason.values if v)}."]}
        )
    if not _hand_off(conversation.pk, reason):
        return None
    notice = _bot_message(conversation, handoff_notice(reason), handoff=True)
    _touch(conversation)
    if actor is not None and actor.user is not None:
        audit_record(
            merchant=conversation.merchant,
            actor=actor,
            action="conversation.hand_off",
            obj=conversation,
            changes={"reason": reason},
        )
    conversation.refresh_from_db()
    return notice


@transaction.atomic
def conversation_take_over(*, conversation: Conversation, actor: Actor) -> Conversation:
    """A staff member answers from now on. A conversation the bot was serving is handed off with reason
    `staff`; one already handed off keeps the reason it was handed off for (the inbox shows why), and gets
    the staff member assigned."""
    conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
    user = _staff_actor_user(actor)
    if conversation.status == Conversation.Status.HANDED_OFF and conversation.assigned_to_id == getattr(
        user, "pk", None
    ):
        return conversation
    previous = conversation.status
    values = {"status": Conversation.Status.HANDED_OFF, "assigned_to": user}
    if previous != Conversation.Status.HANDED_OFF:
        values.update(
            handoff_reason=Conversation.HandoffReason.STAFF, handed_off_at=timezone.now(), resolved_at=None
        )
    Conversation.objects.filter(pk=conversation.pk, status=previous).update(**values)
    _system_notice(conversation, TAKE_OVER_NOTICE)
    _touch(conversation)
    audit_record(
        merchant=conversation.merchant,
        actor=actor,
        action="conversation.take_over",
        obj=conversation,
        changes={"from_status": previous},
    )
    conversation.refresh_from_db()
    return conversation


@transaction.atomic
def conversation_hand_back(*, conversation: Conversation, actor: Actor) -> Conversation:
    """Back to the bot, with a clean count of failed answers. Only a handed-off conversation can go back."""
    chat_settings = chat_settings_get(merchant=conversation.merchant)
    updated = Conversation.objects.filter(pk=conversation.pk, status=Conversation.Status.HANDED_OFF).update(
        status=Conversation.Status.OPEN,
        handoff_reason="",
        failed_answers=0,
        assigned_to=None,
        handed_off_at=None,
    )
    if not updated:
        raise ValidationError(
            {"status": ["Only a conversation with a person can be handed back to the bot."]}
        )
    _system_notice(conversation, HAND_BACK_NOTICE.format(bot_name=chat_settings.bot_name))
    _touch(conversation)
    audit_record(
        merchant=conversation.merchant, actor=actor, action="conversation.hand_back", obj=conversation
    )
    conversation.refresh_from_db()
    return conversation


@transaction.atomic
def conversation_resolve(*, conversation: Conversation, actor: Actor) -> Conversation:
    """Close the conversation; a new shopper message reopens it with the bot."""
    updated = (
        Conversation.objects.filter(pk=conversation.pk)
        .exclude(status=Conversation.Status.RESOLVED)
        .update(status=Conversation.Status.RESOLVED, resolved_at=timezone.now())
    )
    if updated:
        _system_notice(conversation, RESOLVED_NOTICE)
        _touch(conversation)
        audit_record(
            merchant=conversation.merchant, actor=actor, action="conversation.resolve", obj=conversation
        )
    conversation.refresh_from_db()
    return conversation


@transaction.atomic
def staff_reply(*, conversation: Conversation, text: str, actor: Actor) -> Message:
    """A person answers the shopper; the conversation is taken over first if it was not yet."""
    text = clean_text(text)
    conversation.refresh_from_db()
    user = _staff_actor_user(actor)
    if conversation.status != Conversation.Status.HANDED_OFF or (
        user is not None and conversation.assigned_to_id is None
    ):
        conversation = conversation_take_over(conversation=conversation, actor=actor)
    message = Message.objects.create(
        conversation=conversation,
        merchant_id=conversation.merchant_id,
        role=Message.Role.STAFF,
        text=text,
        author=user,
        completed_at=timezone.now(),
    )
    _touch(conversation)
    audit_record(
        merchant=conversation.merchant,
        actor=actor,
        action="conversation.staff_reply",
        obj=conversation,
        summary=f"Reply in conversation #{conversation.pk}: {text[:200]}",
    )
    return message


def _bot_reply_check(message: Message) -> None:
    if message.role != Message.Role.BOT:
        raise ValidationError({"message": ["Only bot replies can be rated or corrected."]})


@transaction.atomic
def message_rate(*, message: Message, rating: int | None, actor: Actor) -> Message:
    """Good (1), bad (-1) or cleared (None)."""
    _bot_reply_check(message)
    if rating not in (1, -1, None):
        raise ValidationError({"rating": ["Must be 1 (good), -1 (bad) or null."]})
    Message.objects.filter(pk=message.pk).update(rating=rating)
    audit_record(
        merchant=message.conversation.merchant,
        actor=actor,
        action="message.rate",
        obj=message,
        changes={"rating": rating},
    )
    message.refresh_from_db()
    return message


@transaction.atomic
def message_correct(*, message: Message, correction: str, actor: Actor) -> Message:
    """What the bot should have said; preferred over the bot's text when the conversation is trained on.
    An empty correction clears it."""
    _bot_reply_check(message)
    correction = clean_text(correction, name="correction") if (correction or "").strip() else ""
    Message.objects.filter(pk=message.pk).update(
        correction=correction, corrected_by=_staff_actor_user(actor) if correction else None
    )
    audit_record(
        merchant=message.conversation.merchant,
        actor=actor,
        action="message.correct",
        obj=message,
        changes={"correction": correction[:500]},
    )
    message.refresh_from_db()
    return message


# --- worker-side writes (chat.replies and the stale-reply sweeper) -----------------------------------------


def reply_claim(*, message_id: int) -> bool:
    """pending -> streaming, once. A second worker (a redelivered task) gets False and stops."""
    return bool(
        Message.objects.filter(pk=message_id, role=Message.Role.BOT, status=Message.Status.PENDING).update(
            status=Message.Status.STREAMING
        )
    )


def reply_fail(*, message_id: int, text: str, error: str) -> bool:
    """A reply that could not be written ends failed with a polite text, never stuck pending."""
    updated = Message.objects.filter(
        pk=message_id, status__in=[Message.Status.PENDING, Message.Status.STREAMING]
    ).update(status=Message.Status.FAILED, text=text, error=error[:5000], completed_at=timezone.now())
    if updated:
        Conversation.objects.filter(messages__pk=message_id).update(last_message_at=timezone.now())
    return bool(updated)


def conversation_count_failed_answer(*, conversation_id: int) -> int:
    Conversation.objects.filter(pk=conversation_id).update(failed_answers=F("failed_answers") + 1)
    return (
        Conversation.objects.filter(pk=conversation_id).values_list("failed_answers", flat=True).first() or 0
    )


def reply_sweep_stale(*, now=None) -> dict:
    """Replies nobody is writing: pending for over CHAT_REPLY_STALE_SECONDS are returned to be queued again
    (once; marked in params), and anything pending or streaming for over CHAT_REPLY_GIVE_UP_SECONDS ends
    failed with the fallback text."""
    from datetime import timedelta

    from ml.engine.chat import FALLBACK_REPLY

    now = now or timezone.now()
    give_up = now - timedelta(seconds=getattr(settings, "CHAT_REPLY_GIVE_UP_SECONDS", 180))
    stale = now - timedelta(seconds=getattr(settings, "CHAT_REPLY_STALE_SECONDS", 60))
    failed = []
    for message_id in Message.objects.filter(
        role=Message.Role.BOT,
        status__in=[Message.Status.PENDING, Message.Status.STREAMING],
        created_at__lt=give_up,
    ).values_list("pk", flat=True):
        if reply_fail(
            message_id=message_id, text=FALLBACK_REPLY, error="No worker finished this reply in time."
        ):
            failed.append(message_id)
    requeued = []
    for message in Message.objects.filter(
        role=Message.Role.BOT, status=Message.Status.PENDING, created_at__lt=stale
    ).exclude(params__has_key="requeued"):
        if Message.objects.filter(pk=message.pk, status=Message.Status.PENDING).update(
            params={**message.params, "requeued": now.isoformat()}
        ):
            requeued.append(message.pk)
    return {"requeued": requeued, "failed": failed}
