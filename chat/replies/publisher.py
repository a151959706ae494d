"""Streaming a reply's text into its message while it is generated (see PartialPublisher)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from chat.models import Message
from ml.engine.chat import (
    LEAK_RUN_WORDS,
)

FLUSH_EVERY_S = 0.1


class PartialPublisher:
    """Writes a streaming reply's text into the message at most every FLUSH_EVERY_S. A flush is the checked
        text so far minus its last LEAK_RUN_WORDS - 1 words: the check recognises a leak (of the rules, of an
        internal policy), a claimed action or someone else's data only once enough of it has been written, and
        holding those words back means none of it has been shown by then. The first check that finds more than
        formatting stops the flushing; the final checked reply replaces whatever was shown. With `verify`, a flush
    shows only the complete sentences of that text the sources back (chat_grounding.verify_answer), so what a
    shopper reads while the reply streams is verified text too."""

    HARMLESS = frozenset(
        {"format_cleaned", "truncated", "template_slot", "incomplete_sentence", "control_chars"}
    )

    def __init__(
        self, message_id: int, check: Callable[..., object], verify: Callable[[str], str] | None = None
    ):
        self.message_id = message_id
        self.check = check
        self.verify = verify
        self.last = 0.0
        self.blocked = False
        self.published = ""
        self.first_shown_at: float | None = None  # perf_counter() of the first flush a shopper could read

    def __call__(self, text: str) -> None:
        now = time.monotonic()
        if self.blocked or now - self.last < FLUSH_EVERY_S:
            return
        self.last = now
        result = self.check(text)
        if result.failed or set(result.findings) - self.HARMLESS:
            self.blocked = True
            return
        shown = _without_last_words(result.text, LEAK_RUN_WORDS - 1)
        if self.verify is not None:
            shown = self.verify(shown)
        if len(shown) > len(self.published) and shown.startswith(self.published):
            Message.objects.filter(pk=self.message_id, status=Message.Status.STREAMING).update(text=shown)
            self.published = shown
            if self.first_shown_at is None:
                self.first_shown_at = time.perf_counter()


_WORD = re.compile(r"\w+(?:['’]\w+)?")


def _without_last_words(text: str, count: int) -> str:
    starts = [m.start() for m in _WORD.finditer(text)]
    if len(starts) <= count:
        return ""
    return text[: starts[-count]].rstrip() if count else text
