"""Shopper-side checks that hand a conversation to a person: does the shopper ask for one
(``detect_handoff_request``), and does the message mention one of the merchant's sensitive topics
(``match_sensitive_topic``)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from .text import _clean_text

_PERSON = (
    r"(?:(?:a|an|the|some|one|your|any|real|live|actual|human|proper|customer|support|service|sales|"
    r"damn|bloody|fucking|goddamn|freaking|effing|"
    r"other|member\s+of\s+(?:your|the)|one\s+of\s+your)\s+){0,3}"
    r"(?:human(?:\s+being)?s?|person|people|agent|representative|rep|operator|someone|somebody|anyone|"
    r"anybody|staff|staff\s+member|employee|manager|supervisor|team(?:\s+member)?|customer\s+(?:service|"
    r"care|support)|support(?:\s+team)?|advisor|adviser|associate|executive|assistant)\b"
)
# "human hair wig", "a person-sized bag": the noun describes a product.
_NOT_COMPOUND = (
    r"(?!\s*-|\s+(?:hair|resources|rights|body|size|sized|shaped|anatomy|figure|form|model|mannequin|"
    r"version|edition|tent|bed|sofa|seat|seater|capacity|kayak|canoe|hammock)\b)"
)
_HANDOFF_PATTERNS = [
    # "can I talk to a human", "help me speaking with an agent", "put me through to someone"
    re.compile(
        r"\b(?:(?:talk|speak|chat|connect|transfer|escalate|forward|switch|redirect)(?:s|ed|ing|ting|k|ign)?|"
        r"(?:put|pass|get|hand)(?:s|ting|ing|ed)?)"
        r"(?:\s+(?:me|us|this|it))?(?:\s+(?:through|over|back))?\s+(?:to|with)\s+" + _PERSON,
        re.IGNORECASE,
    ),
    # "contact somebody", "can you help me contacting an operator", "how do I reach customer service"
    re.compile(r"\b(?:contact|reach|call)(?:s|ed|ing)?\s+" + _PERSON, re.IGNORECASE),
    # "I want a human", "I need to speak with a person", "give me an agent", "is there a real person"
    re.compile(
        r"\b(?:want|need|like|give\s+me|get\s+me|request|prefer|is\s+there|are\s+there|any)\s+"
        r"(?:to\s+(?:talk|speak|chat)\s+(?:to|with)\s+)?" + r"(?:(?:a|an|the|some|real|live|actual|"
        r"human)\s+){0,2}(?:human|real\s+person|live\s+(?:person|agent|chat)|agent|representative|"
        r"operator|person|someone\s+real|staff\s+member|supervisor|manager)s?(?![\w-])" + _NOT_COMPOUND,
        re.IGNORECASE,
    ),
    re.compile(r"\b(?:real|live|actual)\s+(?:human|person|people|agent|support)\b", re.IGNORECASE),
    re.compile(
        r"\b(?:are\s+you|is\s+this)\s+(?:a\s+)?(?:bot|robot|machine|real)\b.*\b(?:human|person|someone)\b",
        re.IGNORECASE,
    ),
]
# The whole message is just the request: "agent", "human please!", "representative."
_HANDOFF_ALONE = re.compile(
    r"^\W*(?:(?:a|an)\s+)?(?:human|agent|representative|operator|person|real\s+person|"
    r"customer\s+service|live\s+agent|staff)(?:\s+(?:please|pls|plz|now|asap))?\W*$",
    re.IGNORECASE,
)
# Not wanting one: "I don't need to talk to anyone", "no need for an agent". "I don't know how to talk to
# someone" still asks for one.
_HANDOFF_NEGATED = re.compile(
    r"(?:\b(?:don['’]?t|do\s+not|doesn['’]?t|didn['’]?t|never)\s+(?:really\s+)?(?:want|need|wanna|wish|have)\b"
    r"|\bno\s+need\b|\brather\s+not\b|\bwithout\b)(?:\s+\w+){0,3}\s*$"
    r"|\b(?:don['’]?t|do\s+not|doesn['’]?t|didn['’]?t|never|not)\s*$",
    re.IGNORECASE,
)


def detect_handoff_request(text: str) -> bool:
    """Does the shopper ask for a person? "can I talk to a human", "real person please", "agent", "connect me
    with customer service" do; "I'm a person who likes hats", "the delivery person left it at the door", "do
    you sell human hair wigs?" and "I don't need to talk to anyone" do not."""
    text = _clean_text(text)
    if not text:
        return False
    if _HANDOFF_ALONE.match(text):
        return True
    for pattern in _HANDOFF_PATTERNS:
        for match in pattern.finditer(text):
            if not _HANDOFF_NEGATED.search(text[max(0, match.start() - 40) : match.start()]):
                return True
    return False


def match_sensitive_topic(text: str, topics: Sequence[str]) -> str | None:
    """The first of ``topics`` (as given) that ``text`` mentions: case-insensitive, whole words, any spacing,
    also as plural or possessive ("lawyer" matches "Lawyers", "sue" does not match "issue")."""
    text = _clean_text(text)
    if not text:
        return None
    for topic in topics or ():
        words = str(topic or "").split()
        if not words:
            continue
        body = r"\s+".join(re.escape(word) for word in words)
        if re.search(rf"(?<!\w){body}(?:e?s|'s|’s)?(?!\w)", text, re.IGNORECASE):
            return topic
    return None
