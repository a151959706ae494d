"""Shopper-side prompt-injection check: the named patterns of INJECTION_PATTERNS (ignoring the rules, asking
for the prompt or for other customers' data, role play, "developer mode", fake system messages) and
``detect_injection``, which names the ones a message matches."""

from __future__ import annotations

import re

_SECRET_WORDS = (
    r"(?:(?:system|initial|original|hidden|secret|full|exact|complete|internal|first|whole)\s+){0,2}"
)
_NOT_ABOUT = (
    r"(?!\s+(?:on|for|about|regarding|of)\b)"  # "what are your rules on returns?" is a policy question
)

# name -> patterns. The names are stable: they are stored in Message.safety and shown in the inbox.
INJECTION_PATTERNS: dict[str, tuple[re.Pattern, ...]] = {
    "ignore_instructions": (
        re.compile(
            r"\b(?:ignore|disregard|forget|skip|bypass|override|drop)\s+(?:all\s+|any\s+|the\s+|your\s+|"
            r"my\s+|these\s+|those\s+|every\s+)*(?:previous\s+|prior\s+|above\s+|earlier\s+|preceding\s+|"
            r"original\s+|initial\s+|system\s+|safety\s+|old\s+|existing\s+)*(?:instructions?|rules|"
            r"prompts?|directions|directives|guidelines|guardrails|restrictions|programming|constraints|"
            r"policies)\b",
            re.IGNORECASE,
        ),
        re.compile(r"\bforget\s+(?:everything|all\s+(?:that|you\s+were\s+told))\b", re.IGNORECASE),
        re.compile(r"\b(?:new|updated|real)\s+(?:instructions|rules|system\s+prompt)\s*:", re.IGNORECASE),
    ),
    "reveal_prompt": (
        # "show me your instructions", "print the hidden prompt"; not "tell me the return rules" or "show me
        # the washing instructions"
        re.compile(
            r"\b(?:show|reveal|print|repeat|display|output|leak|share|tell|give|write|list|dump|paste|"
            r"recite|spell\s+out)\s+(?:me\s+|us\s+)?(?:all\s+|exactly\s+|back\s+)?(?:(?:your|its)\s+"
            rf"{_SECRET_WORDS}(?:prompt|instructions|rules|guidelines|configuration|initial\s+message)|"
            rf"(?:the|those|these)\s+(?:system|initial|hidden|original|secret|internal)\s+{_SECRET_WORDS}"
            r"(?:prompt|instructions|rules|guidelines|message|text)|the\s+prompt)\b" + _NOT_ABOUT,
            re.IGNORECASE,
        ),
        re.compile(
            r"\bwhat\s+(?:is|are|were)\s+(?:your|the)\s+(?:system\s+prompt|(?:original\s+|initial\s+|"
            r"hidden\s+|secret\s+|internal\s+)?(?:instructions|prompt|rules))\b" + _NOT_ABOUT,
            re.IGNORECASE,
        ),
        re.compile(
            r"\bwhat\s+(?:were|have)\s+you\s+(?:been\s+)?(?:told|instructed|programmed)\b", re.IGNORECASE
        ),
        re.compile(
            r"\b(?:repeat|print|output|show)\s+(?:everything|all|the\s+text|the\s+words)\s+(?:above|before|"
            r"so\s+far)\b",
            re.IGNORECASE,
        ),
        re.compile(r"\bsystem\s+prompt\b", re.IGNORECASE),
    ),
    "other_customer_data": (
        re.compile(
            # "another user account" is the shopper's own second account; "another user's account" is not
            r"\b(?:(?:other|previous|last|all|every)\s+(?:customers?|users?|shoppers?|buyers?|clients?|people|"
            r"person)(?:'s|'|s')?|(?:another|a\s+different)\s+(?:customer|user|shopper|buyer|client|person)(?:'s|’s)"
            r"|(?:someone|somebody)\s+else(?:'s|’s)?)\s+"
            r"(?:\w+\s+){0,2}?(?:orders?|data|details|address(?:es)?|emails?|phones?|phone\s+numbers?|"
            r"names?|information|info|accounts?|purchases?|card|cards|history|messages?|chats?)\b",
            re.IGNORECASE,
        ),
        re.compile(
            r"\b(?:list|show|give|tell|send|dump|export)\s+(?:me\s+|us\s+)?(?:all\s+(?:the\s+|your\s+|of\s+"
            r"your\s+)?(?:customers?|users?|orders|emails|email\s+addresses|addresses|accounts)|(?:your\s+|"
            r"the\s+)?(?:customer|user|client)s?['’]?\s+(?:list|data|emails|database|details|records))\b",
            re.IGNORECASE,
        ),
        re.compile(
            r"(?:^\W*|\b(?:tell\s+me|show\s+me|list|know|see)\s+)who\s+(?:else\s+)?(?:bought|ordered|"
            r"purchased)\b",
            re.IGNORECASE,
        ),
        re.compile(
            r"\b(?:orders?|accounts?|emails?|address(?:es)?|phone\s+numbers?|data|details|info|"
            r"information)\s+of\s+(?:another|other|someone|somebody|a\s+different|all|every)\b",
            re.IGNORECASE,
        ),
    ),
    "role_play": (
        re.compile(
            r"\b(?:pretend|imagine)\s+(?:that\s+)?(?:you\s+are|you're|to\s+be|you\s+have)\b", re.IGNORECASE
        ),
        re.compile(
            r"\b(?:act|behave|respond|answer|talk)\s+(?:as|like)\s+(?:if\s+you\s+were\s+)?(?:a|an|my|the)\s+"
            r"(?!customer\s+service)",
            re.IGNORECASE,
        ),
        re.compile(r"\b(?:you\s+are|you're)\s+(?:now|no\s+longer)\b", re.IGNORECASE),
        re.compile(r"\bfrom\s+now\s+on,?\s+(?:you|your)\b", re.IGNORECASE),
        re.compile(r"\brole[\s-]?play\b", re.IGNORECASE),
    ),
    "developer_mode": (
        re.compile(
            r"\b(?:developer|dev|admin|administrator|god|unrestricted|sudo|jailbreak)\s+mode\b", re.IGNORECASE
        ),
        re.compile(r"\b(?:jailbreak|jailbroken|do\s+anything\s+now|DAN\s+mode)\b", re.IGNORECASE),
        re.compile(r"\bDAN\b"),
        re.compile(
            r"\bI\s+am\s+(?:your|the|an?)\s+(?:developer|admin|administrator|creator|programmer)\b",
            re.IGNORECASE,
        ),
    ),
    "fake_system_message": (
        re.compile(
            r"<\|(?:im_start|im_end|system|endoftext|assistant|user)\|>|\[/?INST\]|<</?SYS>>|"
            r"^\s*#{2,}\s*(?:system|instruction)",
            re.IGNORECASE | re.MULTILINE,
        ),
        re.compile(r"^\s*(?:system|assistant)\s*:", re.IGNORECASE | re.MULTILINE),
    ),
}


def detect_injection(text: str) -> list[str]:
    """Names of the prompt-injection patterns in a shopper message, in INJECTION_PATTERNS order (empty when
    none). "ignore my previous message, I meant size 10" is not one: only instructions/rules/prompts are."""
    text = str(text or "")
    return [name for name, patterns in INJECTION_PATTERNS.items() if any(p.search(text) for p in patterns)]
