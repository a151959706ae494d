"""Canned replies: what the shopper is told instead of a model answer, when the conversation goes to a
person (``handoff_notice``) or when check_reply finds the answer unusable (FALLBACK_REPLY, REFUSAL_REPLY,
ACTION_FALLBACK_REPLY)."""

from __future__ import annotations

HANDOFF_NOTICE = (
    "I'm not sure about that one — I'm passing you to a member of our team, who will reply here shortly."
)
_HANDOFF_NOTICES = {
    "requested": "Of course — I'm passing you to a member of our team, who will reply here shortly.",
    "sensitive": (
        "That's something a member of our team should look at personally — I'm passing you to them, and they "
        "will reply here shortly."
    ),
}


def handoff_notice(reason: str = "") -> str:
    """What the shopper is told when the conversation goes to a person, worded for why it does."""
    return _HANDOFF_NOTICES.get(reason, HANDOFF_NOTICE)


FALLBACK_REPLY = (
    "Sorry, I don't have a good answer to that. Could you rephrase your question, or ask me to "
    "connect you with a member of our team?"
)
REFUSAL_REPLY = (
    "Sorry, I can't share that. I'm happy to help with questions about our products, orders, "
    "shipping and returns."
)
ACTION_FALLBACK_REPLY = (
    "I can't make changes to orders, refunds or accounts myself, but I can explain how it "
    "works, or connect you with a member of our team who can help."
)
