"""Text the chat accepts from shoppers, staff and merchants: the message length limit and the cleaning every
stored text goes through (conversations, knowledge, settings)."""

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError


def message_max_chars() -> int:
    return getattr(settings, "CHAT_MESSAGE_MAX_CHARS", 2000)


def clean_text(value: Any, *, name: str = "text", limit: int | None = None) -> str:
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
