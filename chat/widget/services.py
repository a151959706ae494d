"""Writes for a merchant's chat settings: the bot, handoff topics, the origins the widget may run on, and the
widget token. Roles are checked by the views."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Merchant
from accounts.services import Actor, audit_record
from chat.models import ChatSettings
from chat.selectors import chat_settings_get
from chat.text import clean_text

MAX_HANDOFF_TOPICS = 100
MAX_ALLOWED_ORIGINS = 50

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
            fields[name] = clean_text(
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
