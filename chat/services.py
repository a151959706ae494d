"""Writes for the support chat: conversations and their messages, handoff to staff and back, staff replies
and feedback, the knowledge base (with its import) and the chat settings.

A shopper's message is stored with a *pending* bot message in one transaction; the reply itself is written by
a `chat` queue worker (chat.replies), queued on commit. Handoff rules that need no model (the shopper asks
for a person, a sensitive topic) are decided here, at once, so the shopper is told without waiting for a
worker. Status changes are guarded updates: a change that lost a race does nothing.

Roles and API scopes are checked by the views; these functions trust their caller on *who* may act and
enforce *what* may happen."""

from __future__ import annotations

import csv
import io
import json
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Merchant
from accounts.services import Actor, audit_record
from chat.models import DEFAULT_HANDOFF_TOPICS, ChatSettings, Conversation, KnowledgeItem, Message
from chat.selectors import chat_settings_get
from ml.engine.chat import detect_handoff_request, handoff_notice, match_sensitive_topic
from storyfront.parsing import parse_bool

logger = logging.getLogger(__name__)

TAKE_OVER_NOTICE = "A member of our team has joined the conversation."
HAND_BACK_NOTICE = "You are chatting with {bot_name} again."
RESOLVED_NOTICE = "This conversation has been marked as resolved. Write again any time."
KNOWLEDGE_LIMITS = {"title": 300, "body": 10_000}
KNOWLEDGE_IMPORT_MAX_ROWS = 2_000
MAX_HANDOFF_TOPICS = 100
MAX_ALLOWED_ORIGINS = 50


def message_max_chars() -> int:
    return getattr(settings, "CHAT_MESSAGE_MAX_CHARS", 2000)


@dataclass(frozen=True)
class PostResult:
    """What posting a shopper message did: the stored message, the bot's reply (pending until a worker
    writes it, complete at once for a handoff notice, None when staff are answering) and whether the
    conversation is now with a person."""

    shopper_message: Message
    reply_message: Message | None
    handoff: bool


# --- helpers -----------------------------------------------------------------------------------------------


def _clean_text(value: Any, *, name: str = "text", limit: int | None = None) -> str:
    """Stripped text without control characters (PostgreSQL refuses NUL), within `limit` characters."""
    limit = limit or message_max_chars()
    if not isinstance(value, str):
        raise ValidationError({name: ["Must be a string."]})
    text = "".join(ch for ch in value if ch in "\n\t" or ch >= " " and ch != "\x7f").strip()
    if not text:
        raise ValidationError({name: ["This field may not be blank."]})
    if len(text) > limit:
        raise ValidationError({name: [f"At most {limit} characters (got {len(text)})."]})
    return text


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
    text = _clean_text(text)
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
    text = _clean_text(text)
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
    correction = _clean_text(correction, name="correction") if (correction or "").strip() else ""
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


# --- knowledge ---------------------------------------------------------------------------------------------


KNOWLEDGE_FIELDS = frozenset({"kind", "title", "body", "is_internal", "is_active"})


def _knowledge_validate(item: KnowledgeItem) -> None:
    errors: dict[str, list[str]] = {}
    for name, limit in KNOWLEDGE_LIMITS.items():
        value = getattr(item, name)
        if not isinstance(value, str):
            errors[name] = ["Must be a string."]
            continue
        try:
            setattr(item, name, _clean_text(value, name=name, limit=limit))
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if item.kind not in KnowledgeItem.Kind.values:
        errors["kind"] = [f"Must be one of {', '.join(KnowledgeItem.Kind.values)}."]
    for name in ("is_internal", "is_active"):
        if not isinstance(getattr(item, name), bool):
            errors[name] = ["Must be true or false."]
    if not errors:
        clash = KnowledgeItem.objects.filter(merchant_id=item.merchant_id, kind=item.kind, title=item.title)
        if item.pk:
            clash = clash.exclude(pk=item.pk)
        if clash.exists():
            errors["title"] = [f"There is already a {item.kind} titled {item.title!r}."]
    if errors:
        raise ValidationError(errors)


def embeddings_refresh_enqueue(*, merchant_id: int) -> None:
    """Queue the `ml` worker that (re)computes changed knowledge and product vectors of a merchant."""
    from chat.tasks import embed_knowledge_task, embed_products_task

    embed_knowledge_task.apply_async(args=[merchant_id], queue="ml")
    embed_products_task.apply_async(args=[merchant_id], queue="ml")


def product_vectors_refresh_soon(*, merchant_id: int) -> bool:
    """Queue the product vectors of a merchant whose catalog changed since they were computed, at most once
    every few minutes per merchant (conversations start often; the beat sweep catches the rest)."""
    from django.core.cache import cache

    from chat.selectors import products_needing_embedding
    from chat.tasks import embed_products_task

    if not cache.add(f"chat:product-vectors:{merchant_id}", 1, timeout=300):
        return False
    if not products_needing_embedding(merchant_id=merchant_id).exists():
        return False
    embed_products_task.apply_async(args=[merchant_id], queue="ml")
    return True


def _knowledge_embed_on_commit(merchant_id: int) -> None:
    from chat.tasks import embed_knowledge_task

    transaction.on_commit(lambda: embed_knowledge_task.apply_async(args=[merchant_id], queue="ml"))


@transaction.atomic
def knowledge_item_create(
    *,
    merchant: Merchant,
    actor: Actor,
    title: str,
    body: str,
    kind: str = KnowledgeItem.Kind.FAQ,
    is_internal: bool = False,
    is_active: bool = True,
) -> KnowledgeItem:
    item = KnowledgeItem(
        merchant=merchant, kind=kind, title=title, body=body, is_internal=is_internal, is_active=is_active
    )
    _knowledge_validate(item)
    item.save()
    audit_record(
        merchant=merchant,
        actor=actor,
        action="knowledge.create",
        obj=item,
        changes={"kind": item.kind, "is_internal": item.is_internal},
    )
    _knowledge_embed_on_commit(merchant.pk)
    return item


@transaction.atomic
def knowledge_item_update(
    *, merchant: Merchant, actor: Actor, item: KnowledgeItem, **fields: Any
) -> KnowledgeItem:
    unknown = set(fields) - KNOWLEDGE_FIELDS
    if unknown:
        raise TypeError(f"Unknown knowledge field(s): {', '.join(sorted(unknown))}")
    item = KnowledgeItem.objects.select_for_update().get(pk=item.pk, merchant=merchant)
    changes = {}
    for name, value in fields.items():
        if getattr(item, name) != value:
            changes[name] = value if name not in ("body",) else f"{len(str(value))} characters"
        setattr(item, name, value)
    _knowledge_validate(item)
    item.save()
    if changes:
        audit_record(merchant=merchant, actor=actor, action="knowledge.update", obj=item, changes=changes)
        _knowledge_embed_on_commit(merchant.pk)
    return item


@transaction.atomic
def knowledge_item_delete(*, merchant: Merchant, actor: Actor, item: KnowledgeItem) -> None:
    item = KnowledgeItem.objects.filter(pk=item.pk, merchant=merchant).first()
    if item is None:
        return
    audit_record(merchant=merchant, actor=actor, action="knowledge.delete", obj=item)
    item.delete()


@dataclass
class KnowledgeImportReport:
    """Per upload: rows read, created and updated, and each bad row's line and errors. `applied` is False
    when any row was bad: nothing is written then."""

    filename: str
    file_format: str
    total: int = 0
    created: int = 0
    updated: int = 0
    errors: list[dict] = field(default_factory=list)
    applied: bool = False

    def as_dict(self) -> dict:
        return {
            "filename": self.filename,
            "format": self.file_format,
            "total": self.total,
            "created": self.created,
            "updated": self.updated,
            "errors": self.errors,
            "applied": self.applied,
        }


def _import_bool(value: Any) -> bool:
    """An ``is_internal`` cell: yes/no words (storyfront.parsing), "internal"/"public", blank for no."""
    return parse_bool(value, blank=False, true_words=("internal",), false_words=("public",))


def _import_rows(data: bytes, filename: str) -> tuple[str, list[tuple[int, dict]]]:
    from catalog.importing import ImportFileError, decode_text

    try:
        text = decode_text(data)
    except ImportFileError as exc:
        raise ValidationError({"file": [exc.message]}) from None
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped:
        raise ValidationError({"file": ["The file is empty."]})
    suffix = filename.lower().rsplit(".", 1)[-1] if "." in filename else ""
    if suffix not in ("", "csv", "json"):
        raise ValidationError({"file": [f"Unsupported file type '.{suffix}'. Upload a .csv or .json file."]})
    if suffix == "json" or (not suffix and stripped[:1] in "[{"):
        try:
            parsed = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ValidationError({"file": [f"Not valid JSON: {exc.msg} (line {exc.lineno})."]}) from None
        if not isinstance(parsed, list):
            raise ValidationError({"file": ["A JSON import must be a list of objects."]})
        return "json", [(i, row) for i, row in enumerate(parsed, start=1)]
    reader = csv.DictReader(io.StringIO(stripped, newline=""))
    headers = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [h for h in ("title", "body") if h not in headers]
    if missing:
        raise ValidationError(
            {
                "file": [
                    f"Missing required column(s): {', '.join(missing)}. Columns: kind, title, body, is_internal."
                ]
            }
        )
    rows = []
    try:
        for row in reader:
            clean = {(k or "").strip().lower(): v for k, v in row.items() if k is not None}
            if any((v or "").strip() for v in clean.values() if isinstance(v, str)):
                rows.append((reader.line_num, clean))
    except csv.Error as exc:
        raise ValidationError({"file": [f"Line {reader.line_num} is not valid CSV: {exc}."]}) from None
    return "csv", rows


def _import_item(
    *, merchant: Merchant, existing: dict[tuple[str, str], KnowledgeItem], raw: dict
) -> tuple[KnowledgeItem, dict[str, list[str]]]:
    """One import row as the item it creates or updates (matched by kind and title), and its errors."""
    errors: dict[str, list[str]] = {}
    kind = raw.get("kind")
    kind = (kind.strip().lower() if isinstance(kind, str) else kind) or KnowledgeItem.Kind.FAQ
    try:
        is_internal = _import_bool(raw.get("is_internal"))
    except ValueError as exc:
        errors["is_internal"] = [str(exc).capitalize() + "."]
        is_internal = False
    key_title = raw.get("title").strip() if isinstance(raw.get("title"), str) else raw.get("title")
    item = existing.get((kind, key_title)) or KnowledgeItem(merchant=merchant)
    item.kind, item.title, item.body, item.is_internal = (
        kind,
        raw.get("title"),
        raw.get("body"),
        is_internal,
    )
    for name, limit in KNOWLEDGE_LIMITS.items():
        try:
            setattr(
                item,
                name,
                _clean_text(
                    getattr(item, name) if getattr(item, name) is not None else "", name=name, limit=limit
                ),
            )
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if kind not in KnowledgeItem.Kind.values:
        errors["kind"] = [f"Must be one of {', '.join(KnowledgeItem.Kind.values)}."]
    return item, errors


def _import_save(planned: list[KnowledgeItem], report: KnowledgeImportReport) -> None:
    """Write the planned items, counting the created and updated ones on the report."""
    for item in planned:
        if item.pk:
            report.updated += 1
        else:
            report.created += 1
        item.is_active = True if item.pk is None else item.is_active
        try:
            item.save()
        except IntegrityError:  # a concurrent upload created the same title; this one is refused whole
            raise ValidationError(
                {"file": ["Another upload changed these items at the same time; try again."]}
            ) from None


@transaction.atomic
def knowledge_import(*, merchant: Merchant, actor: Actor, data: bytes, filename: str = "") -> dict:
    """Upsert knowledge items by (kind, title) from CSV (columns kind, title, body, is_internal) or a JSON list
    of objects with those keys. All or nothing: one bad row and nothing is written; the report lists every
    bad row with its line (CSV: file line, header = 1; JSON: 1-based position). A file that cannot be read
    at all raises ValidationError on `file`."""
    file_format, rows = _import_rows(data, filename or "")
    report = KnowledgeImportReport(filename=filename or "", file_format=file_format, total=len(rows))
    if not rows:
        raise ValidationError({"file": ["The file has no rows."]})
    if len(rows) > KNOWLEDGE_IMPORT_MAX_ROWS:
        raise ValidationError({"file": [f"At most {KNOWLEDGE_IMPORT_MAX_ROWS} rows per upload."]})
    existing = {
        (i.kind, i.title): i for i in KnowledgeItem.objects.select_for_update().filter(merchant=merchant)
    }
    seen: dict[tuple[str, str], int] = {}
    planned: list[KnowledgeItem] = []
    for line, raw in rows:
        if not isinstance(raw, dict):
            report.errors.append({"line": line, "errors": {"row": ["Must be an object."]}})
            continue
        item, errors = _import_item(merchant=merchant, existing=existing, raw=raw)
        if not errors:
            key = (item.kind, item.title)
            if key in seen:
                errors["title"] = [f"Duplicate of line {seen[key]} in this file."]
            seen[key] = line
        if errors:
            report.errors.append({"line": line, "errors": errors})
            continue
        planned.append(item)
    if report.errors:
        return report.as_dict()
    _import_save(planned, report)
    report.applied = True
    audit_record(
        merchant=merchant,
        actor=actor,
        action="knowledge.import",
        object_type="knowledgeitem",
        summary=f"Imported {report.total} knowledge item(s) from {filename or file_format}",
        changes={"created": report.created, "updated": report.updated},
    )
    _knowledge_embed_on_commit(merchant.pk)
    return report.as_dict()


# --- settings ----------------------------------------------------------------------------------------------


SETTINGS_FIELDS = frozenset(
    {
        "bot_name",
        "greeting",
        "widget_enabled",
        "allowed_origins",
        "handoff_topics",
        "min_relevance",
        "max_failed_answers",
        "history_turns",
        "rate_limit_per_minute",
    }
)


def origin_normalize(value: Any) -> str:
    """`scheme://host[:port]` in lower case, or ValueError: an origin has no path, query, user or fragment."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    raw = value.strip().rstrip("/")
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an origin like https://shop.example")
    if parts.path or parts.query or parts.fragment or parts.username or parts.password or "*" in raw:
        raise ValueError(f"{value!r} must be scheme://host[:port] only (no path, wildcard or credentials)")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{value!r} has an invalid port") from None
    origin = f"{parts.scheme}://{parts.hostname.lower()}"
    default_port = 443 if parts.scheme == "https" else 80
    return f"{origin}:{port}" if port and port != default_port else origin


def _origins_validate(value: Any) -> list[str]:
    if not isinstance(value, (list, tuple)):
        raise ValidationError({"allowed_origins": ["Must be a list of origins like https://shop.example."]})
    cleaned, problems = [], []
    for entry in value:
        try:
            origin = origin_normalize(entry)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if origin not in cleaned:
            cleaned.append(origin)
    if problems:
        raise ValidationError({"allowed_origins": problems})
    if len(cleaned) > MAX_ALLOWED_ORIGINS:
        raise ValidationError({"allowed_origins": [f"At most {MAX_ALLOWED_ORIGINS} origins."]})
    return cleaned


def _topics_validate(value: Any) -> list[str]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValidationError({"handoff_topics": ["Must be a list of phrases."]})
    cleaned = []
    for topic in value:
        topic = " ".join(topic.split())
        if topic and topic.lower() not in {t.lower() for t in cleaned}:
            cleaned.append(topic)
    if len(cleaned) > MAX_HANDOFF_TOPICS or any(len(t) > 100 for t in cleaned):
        raise ValidationError(
            {"handoff_topics": [f"At most {MAX_HANDOFF_TOPICS} phrases of up to 100 characters."]}
        )
    return cleaned


@transaction.atomic
def chat_settings_update(*, merchant: Merchant, actor: Actor, **fields: Any) -> ChatSettings:
    unknown = set(fields) - SETTINGS_FIELDS
    if unknown:
        raise TypeError(f"Unknown chat setting(s): {', '.join(sorted(unknown))}")
    chat_settings_get(merchant=merchant)
    chat_settings = ChatSettings.objects.select_for_update().get(merchant=merchant)
    if "allowed_origins" in fields:
        fields["allowed_origins"] = _origins_validate(fields["allowed_origins"])
    if "handoff_topics" in fields:
        fields["handoff_topics"] = _topics_validate(fields["handoff_topics"])
    for name in ("bot_name", "greeting"):
        if name in fields:
            fields[name] = _clean_text(
                fields[name], name=name, limit=ChatSettings._meta.get_field(name).max_length
            )
    changes = {}
    for name, value in fields.items():
        if getattr(chat_settings, name) != value:
            changes[name] = value
        setattr(chat_settings, name, value)
    try:
        chat_settings.full_clean(exclude=["merchant", "widget_token"])
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from None
    chat_settings.save()
    if changes:
        audit_record(
            merchant=merchant, actor=actor, action="chat_settings.update", obj=chat_settings, changes=changes
        )
    return chat_settings


@transaction.atomic
def widget_token_rotate(*, merchant: Merchant, actor: Actor) -> ChatSettings:
    """A new public widget token; the old one stops working at once (storefront snippets must be updated)."""
    from chat.models import new_widget_token

    chat_settings_get(merchant=merchant)
    ChatSettings.objects.filter(merchant=merchant).update(widget_token=new_widget_token())
    chat_settings = ChatSettings.objects.get(merchant=merchant)
    audit_record(
        merchant=merchant, actor=actor, action="chat_settings.rotate_widget_token", obj=chat_settings
    )
    return chat_settings


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


def merchants_with_stale_product_vectors() -> list[int]:
    """Merchants with chat settings (they use chat) and products whose vectors are missing or out of date."""
    from django.db.models import Q

    from catalog.models import Product

    return list(
        Product.objects.filter(is_active=True, merchant__chat_settings__isnull=False)
        .filter(Q(chat_embedding__isnull=True) | Q(updated_at__gt=F("chat_embedding__updated_at")))
        .values_list("merchant_id", flat=True)
        .distinct()
        .order_by("merchant_id")
    )
