"""Customer-service chat: the prompt for one bot reply, the shopper-side checks that run before it (handoff
requests, sensitive topics, prompt injection) and the safety check on what the model wrote.

Standard library only (the web process checks shopper messages; the chat worker builds prompts and checks
replies). Public API:

    detect_handoff_request(text) -> bool
    match_sensitive_topic(text, topics) -> str | None
    detect_injection(text) -> [pattern name]              INJECTION_PATTERNS lists the names
    build_system_prompt(*, merchant_name, bot_name="Assistant", brand_voice=None) -> str  (the rules alone)
    build_chat_messages(*, question, history, knowledge, products, merchant_name, bot_name="Assistant",
                        brand_voice=None, history_turns=6, char_budget=3000) -> [{"role", "content"}]
    system_prompt_fingerprint(messages) -> str            what check_reply takes as system_prompt
    check_reply(reply, *, system_prompt, protected_texts=(), shopper_texts=(), max_chars=1200,
                allowed_texts=(), finished=True) -> ReplyCheck(text, findings, failed, changed)
    FALLBACK_REPLY, HANDOFF_NOTICE, REFUSAL_REPLY, ACTION_FALLBACK_REPLY, FACTS_HEADER

The prompt is written for SmolLM2-135M-Instruct: one short system message (who the bot is, five plain rules,
the brand voice in a line or two, then the store information as numbered facts), the recent turns as
user/assistant messages and the question last. A model that small follows rules loosely, so check_reply is
what actually keeps a reply safe: it never lets the rules or an internal policy through, drops sentences that
claim an action the bot cannot take, masks personal data the shopper did not give, and replaces empty,
looping or echoing output with a fallback.

The modules: handoff and injection (the shopper-side checks), prompt (the messages for one reply), canned
(the fixed texts the shopper sees instead of a model answer), reply_check (check_reply) with reply_content
(action claims, invented prices, other people's data), and text (cleaning, clipping, sentences, words).
"""

from .canned import ACTION_FALLBACK_REPLY, FALLBACK_REPLY, HANDOFF_NOTICE, REFUSAL_REPLY, handoff_notice
from .handoff import detect_handoff_request, match_sensitive_topic
from .injection import INJECTION_PATTERNS, detect_injection
from .prompt import (
    FACTS_HEADER,
    HISTORY_TURN_MAX_CHARS,
    QUESTION_MAX_CHARS,
    build_chat_messages,
    build_system_prompt,
    system_prompt_fingerprint,
)
from .reply_check import LEAK_RUN_WORDS, ReplyCheck, check_reply

__all__ = [
    "ACTION_FALLBACK_REPLY",
    "FACTS_HEADER",
    "FALLBACK_REPLY",
    "HANDOFF_NOTICE",
    "handoff_notice",
    "HISTORY_TURN_MAX_CHARS",
    "INJECTION_PATTERNS",
    "LEAK_RUN_WORDS",
    "QUESTION_MAX_CHARS",
    "REFUSAL_REPLY",
    "ReplyCheck",
    "build_chat_messages",
    "build_system_prompt",
    "check_reply",
    "detect_handoff_request",
    "detect_injection",
    "match_sensitive_topic",
    "system_prompt_fingerprint",
]
