"""What a reply may not say, sentence by sentence: claims of an action the bot cannot take ("I've cancelled
your order"), prices and discounts that are not in the store information, and personal data the shopper did
not give (masked)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

from ..pii import find_pii, pii_key

_PAST_ACTIONS = (
    r"issued|processed|initiated|refunded|cancell?ed|changed|updated|modified|amended|edited|sent|"
    r"shipped|dispatched|applied|credited|reversed|arranged|scheduled|booked|reset|deleted|closed|"
    r"removed|upgraded|downgraded|replaced|approved|submitted|placed|exchanged|reordered|"
    r"unsubscribed|reactivated|deactivated|waived|redirected|rerouted|expedited|corrected|"
    r"reinstated|voided|paid|returned|transferred|added|escalated|forwarded|logged|filed|raised|"
    r"created|opened|released|refunded|rescheduled|rectified|fixed|resolved|taken\s+care\s+of"
)
# Promises: "I'll cancel it", "I will check your order" (the bot cannot see orders). "I'll update you" and
# "I'll send you the link" are not about an order; sending counts with a thing only the team can send.
_BASE_ACTIONS = (
    r"issue|process|initiate|refund|cancel|change|update(?!\s+you\b)|modify|amend|edit|ship|dispatch|"
    r"apply|credit|reverse|arrange|schedule|book|reset|delete|close|remove|upgrade|downgrade|replace|"
    r"approve|submit|place|exchange|reorder|unsubscribe|reactivate|deactivate|waive|redirect|"
    r"reroute|expedite|correct|void|pay|transfer|raise|release|reschedule|fix|resolve|"
    r"take\s+care\s+of|check\s+(?:on\s+)?(?:your|the|this|that)|look\s+(?:into|up)|track|"
    r"investigate|send\s+(?:you\s+)?(?:a|an|the|your)\s+(?:new|replacement|refund|voucher|coupon|"
    r"return\s+label|label|gift\s+card|credit|prepaid)"
)
_ADVERBS = r"(?:(?:just|already|now|successfully|also|gone\s+ahead\s+and|went\s+ahead\s+and|personally)\s+)*"
_OBJECT_NOUNS = (
    r"refund|order|return|exchange|replacement|address|subscription|account|payment|cancellation|"
    r"request|item|items|package|parcel|money|password|details|card|delivery|shipment|purchase|"
    r"credit|voucher|coupon|discount|complaint|ticket|case|booking|reservation|invoice"
)
_ACTION_CLAIMS = [
    # "I've cancelled your order", "I just sent you a replacement", "I went ahead and processed it"
    re.compile(rf"\bI(?:'ve|’ve|\s+have|\s+had)?\s+{_ADVERBS}(?:{_PAST_ACTIONS})\b", re.IGNORECASE),
    # "We've processed your refund", "we have sent you a new one"
    re.compile(
        rf"\bwe(?:'ve|’ve|\s+have|\s+had)\s+{_ADVERBS}(?:{_PAST_ACTIONS})\s+(?:\w+\s+){{0,2}}?"
        r"(?:your|you|it|this|that)\b",
        re.IGNORECASE,
    ),
    # "I'll cancel your order now", "I will process the refund", "I am going to send you a new one"
    re.compile(
        rf"\bI(?:'ll|’ll|\s+will|\s+shall|\s+am\s+going\s+to|'m\s+going\s+to)\s+"
        rf"(?:now\s+|go\s+ahead\s+and\s+|quickly\s+|immediately\s+|personally\s+)?(?:{_BASE_ACTIONS})\b",
        re.IGNORECASE,
    ),
    # "Your refund has been processed", "your order was cancelled", "your replacement is now on its way"
    re.compile(
        rf"\byour\s+(?:\w+\s+){{0,2}}?(?:{_OBJECT_NOUNS})(?:\s+(?:of|for|to)\s+\S+)?\s+"
        rf"(?:(?:has|have)\s+(?:now\s+|already\s+|just\s+|successfully\s+)*been|was|were|"
        rf"(?:is|are)\s+(?:now|already))\s+(?:successfully\s+|fully\s+)?(?:{_PAST_ACTIONS})\b",
        re.IGNORECASE,
    ),
    re.compile(
        rf"\byour\s+(?:\w+\s+){{0,2}}?(?:{_OBJECT_NOUNS})\s+(?:is|are)\s+(?:now\s+|already\s+)?on\s+"
        r"(?:its|their|the)\s+way\b",
        re.IGNORECASE,
    ),
    re.compile(
        r"\b(?:it'?s|it\s+is|that'?s|that\s+is|everything\s+is|all)\s+(?:all\s+)?(?:done|sorted|"
        r"taken\s+care\s+of)\s+for\s+you\b",
        re.IGNORECASE,
    ),
]
# A condition, a question or sympathy does not claim anything: "once your refund has been processed, ...", "If
# I sent the wrong size, ...", "Has your order been shipped?", "Sorry to hear your order was cancelled.".
_CONDITION = re.compile(
    r"\b(?:if|once|when|whenever|after|as\s+soon\s+as|until|unless|before|whether|in\s+case|"
    r"sorry|hear|heard)\b",
    re.IGNORECASE,
)


def _claims_action(sentence: str) -> bool:
    if sentence.rstrip().endswith("?"):
        return False
    for pattern in _ACTION_CLAIMS:
        for match in pattern.finditer(sentence):
            if not _CONDITION.search(sentence[: match.start()]):
                return True
    return False


_AMOUNT = r"\d{1,3}(?:,\d{2,3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_CURRENCY_AMOUNTS = re.compile(
    rf"(?:US\$|C\$|A\$|\$|€|£|₹|\b(?:rs\.?|inr|usd|eur|gbp|cad|aud)\s?)\s?(?P<a>{_AMOUNT})"
    rf"|(?P<b>{_AMOUNT})\s?(?:(?:usd|eur|gbp|inr|cad|aud|dollars?|euros?|pounds?|rupees?)\b|/-|€)"
    rf"|(?P<c>{_AMOUNT})\s?%\s+(?:off|discount)\b|\b(?:discount|save|saving)\s+(?:of\s+)?(?P<d>{_AMOUNT})\s?%",
    re.IGNORECASE,
)
_ANY_NUMBER = re.compile(_AMOUNT)


def _unsupported_amounts(sentence: str, known_texts: Sequence[str]) -> list[str]:
    """Prices and discounts in ``sentence`` whose number appears in none of ``known_texts`` (24.9 == 24.90)."""
    amounts = [
        m.group("a") or m.group("b") or m.group("c") or m.group("d")
        for m in _CURRENCY_AMOUNTS.finditer(sentence)
    ]
    if not amounts:
        return []
    known = {_number(n) for t in known_texts if t for n in _ANY_NUMBER.findall(str(t))}
    return [a for a in amounts if _number(a) not in known]


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", ""))
    except ArithmeticError:
        return None


_DIGIT_GROUP = re.compile(r"\d(?:[\d().-]|\s(?=[\d(]))*\d")


def _mask_foreign_pii(text: str, known_texts: Sequence[str]) -> tuple[str, int]:
    spans = find_pii(text)
    if not spans:
        return text, 0
    known = {pii_key(s) for t in known_texts if t for s in find_pii(str(t))}
    known_digits = {re.sub(r"\D", "", run) for t in known_texts if t for run in _DIGIT_GROUP.findall(str(t))}
    parts, last, masked = [], 0, 0
    for span in spans:
        key = pii_key(span)
        digits = re.sub(r"\D", "", span.value)
        if key in known or (len(digits) >= 6 and any(digits in d for d in known_digits)):
            continue
        parts.append(text[last : span.start])
        parts.append(f"[{span.type}]")
        last = span.end
        masked += 1
    parts.append(text[last:])
    return "".join(parts), masked
