"""Text helpers shared by the prompt and the checks: cleaning shopper or stored text for a prompt, clipping it
to one line or a length, splitting sentences and words."""

from __future__ import annotations

import re
from collections.abc import Sequence

# Chat-template tokens a shopper or a model may write.
_SPECIAL_TOKEN = re.compile(r"<\|[A-Za-z_]{1,20}\|>|</?s>|\[/?INST\]")


def _clean_text(value) -> str:
    """Shopper or stored text made safe to put in a prompt: no chat-template tokens, no control characters."""
    text = "" if value is None else str(value)
    text = _SPECIAL_TOKEN.sub(" ", text)
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text)
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _one_line(value, limit: int) -> str:
    return _clip(re.sub(r"\s+", " ", _clean_text(value)), limit)


def _clip(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.") + "…"


_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def _join(sentences: Sequence[str]) -> str:
    return " ".join(s for s in sentences if s).strip()


def _words(text: str) -> list[str]:
    return re.findall(r"\w+(?:['’]\w+)?", str(text or "").lower())


def _ngrams(words: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
