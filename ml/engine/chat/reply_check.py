"""The check on what the model wrote: ``check_reply`` and its ``ReplyCheck``. It cleans chat-format debris and
fills template slots, refuses leaks of the rules or internal texts, repairs or replaces repetition and
echoes, applies the content checks of .reply_content (action claims, invented prices, other people's data)
and cuts the reply to length."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .canned import ACTION_FALLBACK_REPLY, FALLBACK_REPLY, REFUSAL_REPLY
from .prompt import FACTS_HEADER
from .reply_content import _claims_action, _mask_foreign_pii, _unsupported_amounts
from .text import _SPECIAL_TOKEN, _join, _ngrams, _sentences, _words

_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
LEAK_RUN_WORDS = 8  # this many consecutive words of the rules or of an internal text is a leak


@dataclass
class ReplyCheck:
    """``text`` is what the shopper may see. ``failed`` means the model's answer was unusable and ``text`` is a
    fallback (the caller counts it towards ChatSettings.max_failed_answers); ``changed`` that ``text``
    differs from the reply in any way. ``findings`` name what was found, in the order checked:
    format_cleaned, template_slot, empty, prompt_leak, protected_leak, degenerate_repetition, repetition_trimmed, echo,
    action_claim, unsupported_price, foreign_pii, incomplete_sentence, truncated."""

    text: str
    findings: list[str] = field(default_factory=list)
    failed: bool = False
    changed: bool = False

    def to_dict(self) -> dict:
        return {"findings": list(self.findings), "failed": self.failed, "changed": self.changed}


def check_reply(
    reply: str,
    *,
    system_prompt: str,
    protected_texts: Sequence[str] = (),
    shopper_texts: Sequence[str] = (),
    max_chars: int = 1200,
    allowed_texts: Sequence[str] = (),
    finished: bool = True,
) -> ReplyCheck:
    """Make a model reply safe to show.

    - The rules (``system_prompt`` from "Rules:" up to FACTS_HEADER) or any ``protected_texts`` (internal
      policies) reproduced as LEAK_RUN_WORDS consecutive words (any case, spacing, punctuation; a protected text
      shorter than that must appear whole if it has 4 words or more) -> the whole reply becomes REFUSAL_REPLY.
    - Template slots a model fine-tuned on the Bitext set writes ("{{Website Name}}", "{{Order Number}}") are
      filled with plain words ("our website", "your order"); a UI label ("the {{Order History}} section")
      loses its braces.
    - Empty, looping, or echoing the shopper -> FALLBACK_REPLY. A sentence said twice is dropped instead, when
      the rest stands on its own.
    - Sentences claiming an action the bot cannot take ("I've cancelled your order", "your refund has been
      processed", "I'll send you a replacement") are dropped; instructions ("you can cancel it from your
      account page") and conditions ("once your refund has been processed, ...") stay. Nothing left ->
      ACTION_FALLBACK_REPLY.
    - Sentences quoting a price ("$36.80", "Rs 1,499", "24.90 USD") or a discount ("20% off") whose number is
      not in the store information, ``shopper_texts`` or ``allowed_texts`` are dropped: a small model invents
      prices. Nothing left -> FALLBACK_REPLY.
    - Emails, phone, order and card numbers, IBANs and addresses that are not in ``shopper_texts``, in the
      store information of ``system_prompt`` or in ``allowed_texts`` are masked ("[EMAIL]").
    - ``finished=False`` (the model hit its token limit): a trailing unfinished sentence is dropped.
    - Longer than ``max_chars``: cut at the last sentence end that fits (else a word, with "…")."""
    rules, _, facts = str(system_prompt or "").partition(FACTS_HEADER)
    original, text, findings = _clean_format("" if reply is None else str(reply))

    def result(final: str, failed: bool) -> ReplyCheck:
        return ReplyCheck(text=final, findings=findings, failed=failed, changed=final != original.strip())

    if not _words(text):
        findings.append("empty")
        return result(FALLBACK_REPLY, True)

    leaks = _leaks(text, rules, protected_texts)
    if leaks:
        findings.extend(leaks)
        return result(REFUSAL_REPLY, True)

    text, repetition = _repair_repetition(text)
    if repetition:
        findings.append(repetition)
        if repetition == "degenerate_repetition":
            return result(FALLBACK_REPLY, True)

    if _echoes(text, shopper_texts):
        findings.append("echo")
        return result(FALLBACK_REPLY, True)

    trimmed = _without_sentences(text, _claims_action)
    if trimmed is not None:
        findings.append("action_claim")
        text = trimmed
        if len(_words(text)) < 5:
            return result(ACTION_FALLBACK_REPLY, True)

    known_texts = [*shopper_texts, *allowed_texts, facts]
    trimmed = _without_sentences(text, lambda sentence: bool(_unsupported_amounts(sentence, known_texts)))
    if trimmed is not None:
        findings.append("unsupported_price")
        text = trimmed
        if len(_words(text)) < 5:
            return result(FALLBACK_REPLY, True)

    text, masked = _mask_foreign_pii(text, known_texts)
    if masked:
        findings.append("foreign_pii")

    if not finished:
        trimmed = _without_unfinished_sentence(text)
        if trimmed is not None:
            findings.append("incomplete_sentence")
            text = trimmed

    if len(text) > max_chars:
        findings.append("truncated")
        text = _cut(text, max_chars)
    return result(text, False)


def _clean_format(reply: str) -> tuple[str, str, list[str]]:
    """The reply without control bytes, that reply without chat-format debris and with its template slots
    filled, and the findings."""
    findings: list[str] = []
    # A small model can emit control bytes (NUL among them, which PostgreSQL refuses to store).
    original = _CONTROL_CHARS.sub("", reply)
    if original != reply:
        findings.append("control_chars")

    text = _strip_format(original)
    if _words(text) != _words(original):
        findings.append("format_cleaned")
    if _SLOT.search(text):
        findings.append("template_slot")
        text = _fill_slots(text)
    return original, text, findings


def _without_sentences(text: str, drop: Callable[[str], bool]) -> str | None:
    """``text`` without the sentences ``drop`` picks, or None when it picks none."""
    sentences = _sentences(text)
    kept = [s for s in sentences if not drop(s)]
    return _join(kept) if len(kept) < len(sentences) else None


def _without_unfinished_sentence(text: str) -> str | None:
    """``text`` without a trailing sentence the token limit cut off, or None when it ends a sentence (or is
    just one)."""
    sentences = _sentences(text)
    if len(sentences) > 1 and not re.search(r"[.!?…)\"'”]\s*$", sentences[-1]):
        return _join(sentences[:-1])
    return None


# A next turn the model went on to invent ("\nuser: ..."); _strip_format also drops a speaker label it put in
# front ("Assistant: ...").
_INVENTED_TURN = re.compile(r"\n\s*(?:user|shopper|customer|human|client)\s*:", re.IGNORECASE)


_SLOT = re.compile(r"\{\{\s*([^{}\n]{1,80}?)\s*\}\}")
# (pattern on the slot's name, what it becomes). Contact details are never made up: the shopper is pointed to
# the channel instead. Anything else is taken for a label on the store's site.
_SLOT_WORDS = [
    (r"phone|telephone|toll", "customer support phone line"),
    (r"e-?mail", "support email address"),
    (r"availability|hours|working\s+time|business\s+time", "during our support hours"),
    (r"live\s+chat|chat", "live chat"),
    (r"website|web\s*site|url|app\b|site", "website"),
    (r"company|store|shop|brand", "store"),
]
_NOUN_SLOTS = ("customer support phone line", "support email address", "website", "store")
_SLOT_ID = re.compile(r"\b(?:number|id|no|anonymi[sz]ed)\b|^[\d\s#-]+$|^[0-9a-f]{8,}$", re.IGNORECASE)
_DETERMINER_BEFORE = re.compile(r"\b(?:our|the|your|a|an|this)\s+$", re.IGNORECASE)
_ID_WORDS_BEFORE = re.compile(
    r"(?:\b(?:the|your|order|purchase|invoice|bill|reference|number|id|no\.?|with|labeled|labelled)\s+|#\s*)+$",
    re.IGNORECASE,
)


def _fill_slots(text: str) -> str:
    parts: list[str] = []
    last = 0
    for match in _SLOT.finditer(text):
        name = match.group(1).strip()
        before = text[last : match.start()]
        words = next((w for pattern, w in _SLOT_WORDS if re.search(pattern, name, re.IGNORECASE)), None)
        if words is None and _SLOT_ID.search(name):
            kind = "invoice" if re.search(r"invoice|bill", name, re.IGNORECASE) else "order"
            before = _ID_WORDS_BEFORE.sub("", before)
            if before and not before.endswith((" ", "\n")):
                before += " "
            filling = f"your {kind}"
        elif words is None:
            filling = name  # a label on the site: "the Order History section"
        elif words in _NOUN_SLOTS:
            noun = words.split()[-1]
            if re.search(rf"\b{noun}\s+(?:at|on|via|through)\s+$", before, re.IGNORECASE):
                before, filling = before.rstrip().rsplit(" ", 1)[0], ""  # "our website at {{Website Name}}"
            else:
                filling = words if _DETERMINER_BEFORE.search(before) else "our " + words
        elif words == "during our support hours" and re.search(r"\b(?:during|in)\s+$", before, re.IGNORECASE):
            filling = "our support hours"
        else:
            filling = words
        if filling and re.search(r"(?:^|[.!?:]\s+|\n\s*)$", "".join(parts) + before):
            filling = filling[0].upper() + filling[1:]
        parts.append(before + filling)
        last = match.end()
    parts.append(text[last:])
    return "".join(parts)


def _strip_format(text: str) -> str:
    text = _SPECIAL_TOKEN.sub(" ", text)
    cut = _INVENTED_TURN.search(text)
    if cut:
        text = text[: cut.start()]
    text = re.sub(r"^\s*(?:assistant|bot|agent|answer|a)\s*:\s*", "", text, flags=re.IGNORECASE)
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _leaks(text: str, rules: str, protected_texts: Sequence[str]) -> list[str]:
    reply_words = _words(text)
    found = []
    # The bot may introduce itself ("I'm Nora, the customer service assistant of ..."): the rules start after.
    rules = rules.partition("Rules:")[2] or rules
    if rules.strip() and _shares_run(reply_words, _words(rules)):
        found.append("prompt_leak")
    for protected in protected_texts or ():
        if _shares_run(reply_words, _words(str(protected or ""))):
            found.append("protected_leak")
            break
    return found


def _shares_run(reply: list[str], source: list[str]) -> bool:
    if len(source) < LEAK_RUN_WORDS:  # a short secret leaks when it appears whole
        return len(source) >= 4 and _contains(reply, source)
    grams = set(_ngrams(source, LEAK_RUN_WORDS))
    return any(g in grams for g in _ngrams(reply, LEAK_RUN_WORDS))


def _contains(words: list[str], part: list[str]) -> bool:
    n = len(part)
    return any(words[i : i + n] == part for i in range(len(words) - n + 1))


def _repair_repetition(text: str) -> tuple[str, str]:
    """("", "") when the text does not repeat itself; the text without repeated sentences and
    "repetition_trimmed" when that leaves a sound reply; the text and "degenerate_repetition" otherwise."""
    sentences = _sentences(text)
    seen, kept = set(), []
    for sentence in sentences:
        key = tuple(_words(sentence))
        if key and key in seen and len(key) >= 2:
            continue
        seen.add(key)
        kept.append(sentence)
    trimmed = _join(kept) if len(kept) < len(sentences) else text
    if _degenerate(trimmed):
        # Keep what came before the loop started, when that is a whole sentence or more.
        good: list[str] = []
        for sentence in _sentences(trimmed):
            if _degenerate(_join([*good, sentence])):
                break
            good.append(sentence)
        if len(_words(_join(good))) >= 5:
            return _join(good), "repetition_trimmed"
        return text, "degenerate_repetition"
    if trimmed != text:
        return trimmed, "repetition_trimmed"
    return text, ""


def _degenerate(text: str) -> bool:
    words = _words(text)
    for size, times in ((1, 4), (2, 3), (3, 3)):
        for i in range(len(words) - size * times + 1):
            unit = words[i : i + size]
            if all(words[i + k * size : i + (k + 1) * size] == unit for k in range(1, times)):
                return True
    # A phrase coming back at least 4 times and once every 20 words: a long answer may name "our money back
    # policy" four times, a loop does it in every sentence.
    counts = Counter(_ngrams(words, 4))
    if counts and counts.most_common(1)[0][1] >= max(4, len(words) / 20):
        return True
    return len(words) >= 40 and len(set(words)) / len(words) < 0.3


def _echoes(text: str, shopper_texts: Sequence[str]) -> bool:
    reply = _words(text)
    for shopper in shopper_texts or ():
        said = _words(str(shopper or ""))
        if not said:
            continue
        if reply == said or (len(reply) >= 3 and _contains(said, reply)):
            return True
        grams = _ngrams(reply, 4)
        if len(reply) >= 6 and grams:
            said_grams = set(_ngrams(said, 4))
            if sum(g in said_grams for g in grams) / len(grams) >= 0.8:
                return True
    return False


def _cut(text: str, max_chars: int) -> str:
    head = text[:max_chars]
    ends = [m.end() for m in re.finditer(r"[.!?…](?=\s|$)", head)]
    if ends and ends[-1] >= max_chars // 3:
        return head[: ends[-1]].rstrip()
    space = head.rfind(" ", 0, max_chars - 1)
    return (head[:space] if space > 0 else head[: max_chars - 1]).rstrip(" ,;:") + "…"
