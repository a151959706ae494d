"""Chat answers that say only what the sources say: extractive answers first, and generated text verified
sentence by sentence against the retrieved sources.

Standard library only (the chat worker calls it around generation). Public API:

    relevant_sentences(question, text, max_sentences=3) -> [sentence]
    extractive_answer(question, source, max_sentences=3) -> str | None
    product_answer(question, product) -> str | None
    direct_answer(question, candidates, min_score) -> DirectAnswer | None
    verify_answer(text, sources, finished=True) -> VerifiedAnswer(text, dropped)
    CHAT_GENERIC: service words a reply needs no source for ("help", "order", "contact")

- **Extractive**: the sentences of a retrieved knowledge item that share the most content words with the
  question (in the source's order), not the whole item. None when no sentence shares a content word.
- **Product facts**: a question about a retrieved product's price, sizes, colours, material, capacity or
  stock is answered from its facts, with its link: "The Trail bottle costs 24.90 USD." Questions the facts
  cannot answer get None (the caller generates, then verifies).
- **Direct answers** (`direct_answer`): when the best retrieved candidate scores at least ``min_score``, a
  product is answered from its facts and a knowledge item with its relevant sentences; the caller generates
  only when neither applies.
- **Verification** of generated text: a sentence stays only if every content word is in the sources, in the
  generic marketing vocabulary or in CHAT_GENERIC, every number in it is in the sources, and it contradicts no
  source sentence (polar words such as hot/cold, free/fee; negation). Unsupported sentences are dropped; an
  unfinished last sentence of a partial reply is held back, so streamed text is always verified text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ml.engine.verification import Evidence, contradictions, split_sentences, unverified
from ml.engine.verification.statements import forms
from ml.engine.verification.vocabulary import FUNCTION_WORDS, GENERIC_MARKETING

CHAT_GENERIC = frozenset(
    """
help helps helping helped happy glad sorry apologise apologize apologies assist assistance question questions ask
asked asking answer answers reply replies contact contacting reach team support agent member members staff person
people hope thanks thank welcome sure course know let lets anything else information info detail details further
please kindly would like check checking see look looking find found here there order orders ordered ordering
store shop website site account page help-desk customer customers service via email message chat today yes
okay ok great good right wrong issue issues problem problems concern concerns request requests need needs
want wants able possible usually normally typically generally currently also just simply still already
policy policies item items product products purchase purchases bought buy buying receive received receiving get
got send sent sending make made take takes taken keep kept give given go going way ways time times day days
week weeks month months year years thing things something everything one ones case cases
""".split()
)
_GENERIC_MARKETING_FORMS = frozenset(f for w in GENERIC_MARKETING for f in forms(w))
_QUESTION_STOP = FUNCTION_WORDS | frozenset(
    "what whats how can could would does do is are when where which who why tell me please there any your you "
    "i my we our long take takes get much many should".split()
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
# (question words, attribute keys that answer them, how the answer reads)
_PRODUCT_INTENTS: tuple[tuple[tuple[str, ...], tuple[str, ...], str], ...] = (
    (("size", "sizes", "fit", "fits"), ("sizes", "size"), "It comes in sizes {value}."),
    (
        ("colour", "colours", "color", "colors", "shade"),
        ("colour", "color", "colours", "colors", "primary_color"),
        "Its colour is {value}.",
    ),
    (("material", "made", "fabric", "materials"), ("material", "fabric", "upper"), "It is made of {value}."),
    (
        ("capacity", "hold", "holds", "litre", "liter", "ml", "big", "volume"),
        ("capacity",),
        "It holds {value}.",
    ),
    (("weight", "weigh", "weighs", "heavy"), ("weight",), "It weighs {value}."),
)
_PRICE_WORDS = frozenset("price prices cost costs much expensive cheap pay".split())
_STOCK_WORDS = frozenset("stock available availability sold".split())


def _content_words(text: str) -> list[str]:
    words = re.findall(r"[a-z][a-z'’-]*", text.lower())
    return list(dict.fromkeys(w for w in words if w not in _QUESTION_STOP and len(w) > 2))


def relevant_sentences(question: str, text: str, max_sentences: int = 3) -> list[str]:
    """The sentences of ``text`` sharing the most of the question's content words, in their own order; a
    sentence must share at least half of them (one word of "gift cards" is not an answer about cards)."""
    wanted = [forms(w) for w in _content_words(question)]
    if not wanted:
        return []
    needed = max(1, (len(wanted) + 1) // 2)
    sentences = [re.sub(r"\s+", " ", text[a:b]).strip() for a, b in split_sentences(text)]
    scored = []
    for i, sentence in enumerate(sentences):
        have = {f for w in _content_words(sentence) for f in forms(w)}
        shared = sum(bool(w & have) for w in wanted)
        if shared >= needed:
            scored.append((shared, i))
    best = sorted(scored, key=lambda pair: (-pair[0], pair[1]))[:max_sentences]
    return [sentences[i] for _, i in sorted(best, key=lambda pair: pair[1])]


def covers(question: str, text: str, share: float = 1 / 2) -> bool:
    """Whether ``text`` holds at least ``share`` of the question's content words (in any form): an item that
    never mentions most of what is asked about ("the teapot" asked, a mug's care item found) is about
    something else, however well one of its sentences matches."""
    wanted = [forms(w) for w in _content_words(question)]
    if not wanted:
        return False
    have = {f for w in _content_words(text) for f in forms(w)}
    return sum(bool(w & have) for w in wanted) >= share * len(wanted)


def extractive_answer(
    question: str, source: str, max_sentences: int = 3, *, require_cover: bool = True
) -> str | None:
    """The relevant sentences of ``source`` (None when it does not cover the question or none is relevant);
    ``require_cover=False`` when the caller checked coverage over more than ``source`` (its title too)."""
    if require_cover and not covers(question, source):
        return None
    chosen = relevant_sentences(question, source, max_sentences)
    return " ".join(chosen) if chosen else None


def product_answer(question: str, product: Mapping) -> str | None:
    """An answer from the product's own facts, with its link, when the question asks for one of them."""
    words = set(re.findall(r"[a-z]+", question.lower()))
    title = str(product.get("title") or "this product").strip()
    attributes = {
        str(k).lower(): str(v) for k, v in (product.get("attributes") or {}).items() if str(v).strip()
    }
    parts = []
    if words & _PRICE_WORDS and product.get("price") not in (None, ""):
        parts.append(f"The {title} costs {product['price']} {product.get('currency') or ''}".rstrip() + ".")
    for triggers, keys, template in _PRODUCT_INTENTS:
        if words & set(triggers):
            value = next((attributes[k] for k in keys if k in attributes), None)
            if value:
                parts.append(template.format(value=value))
    if words & _STOCK_WORDS and product.get("stock") is not None:
        parts.append("It is in stock." if int(product["stock"]) > 0 else "It is out of stock at the moment.")
    if not parts:
        return None
    if not parts[0].startswith("The "):
        parts.insert(0, f"About the {title}:")
    url = str(product.get("url") or "").strip()
    return " ".join(parts) + (f" {url}" if url else "")


def knowledge_source_text(title: str, body: str) -> str:
    """A knowledge item as the verifier reads it."""
    return f"{title}. {body}"


def product_source_text(product: Mapping) -> str:
    """A product's facts as the verifier reads them (``product``: the prompt's product row), stock included."""
    attributes = "; ".join(f"{k}: {v}" for k, v in (product.get("attributes") or {}).items())
    stock = product.get("stock")
    stock_text = "" if stock is None else (" In stock." if int(stock) > 0 else " Out of stock.")
    return (
        f"{product.get('title', '')}. {product.get('brand', '')}. {product.get('price', '')} "
        f"{product.get('currency', '')}. {product.get('description', '')} {attributes}{stock_text}"
    )


@dataclass(frozen=True)
class Candidate:
    """One retrieved source: ``kind`` "knowledge" (payload has "title" and "body") or "product" (payload is the
    product row product_answer reads), with its retrieval score."""

    kind: str
    id: int
    score: float
    payload: Mapping


@dataclass(frozen=True)
class DirectAnswer:
    text: str
    mode: str  # "extractive" or "product_facts"
    source: Candidate


def direct_answer(question: str, candidates: Sequence[Candidate], *, min_score: float) -> DirectAnswer | None:
    """The answer taken straight from the best candidate, when retrieval is confident in it and it holds one:
    the product's facts for a product, the question's sentences for a knowledge item. Only the best candidate
    is used (a weaker one answering would be a guess); None leaves the question to the generator."""
    if not candidates:
        return None
    best = max(candidates, key=lambda c: c.score)
    if best.score < min_score:
        return None
    if best.kind == "product":
        text = product_answer(question, best.payload)
        return DirectAnswer(text, "product_facts", best) if text else None
    payload = best.payload
    item_text = f"{payload.get('title') or ''}. {payload.get('body') or ''}"
    if _names_another_product(question, item_text, candidates):
        return None
    text = None
    if covers(question, item_text):
        text = extractive_answer(question, str(payload.get("body") or ""), require_cover=False)
    return DirectAnswer(text, "extractive", best) if text else None


def _names_another_product(question: str, item_text: str, candidates: Sequence[Candidate]) -> bool:
    """Whether the question names a retrieved product (a content word of its title) that the knowledge item
    never mentions: "Can I keep the teapot warm on the hob?" is not answered by the enamel mugs' care item."""
    asked = {w: forms(w) for w in _content_words(question)}
    have = {f for w in _content_words(item_text) for f in forms(w)}
    for candidate in candidates:
        if candidate.kind != "product":
            continue
        title = {f for w in _content_words(str(candidate.payload.get("title") or "")) for f in forms(w)}
        if any(word_forms & title and not word_forms & have for word_forms in asked.values()):
            return True
    return False


@dataclass
class VerifiedAnswer:
    """``text``: the sentences that are backed by the sources; ``dropped``: (sentence, why) for the others."""

    text: str
    dropped: list[tuple[str, str]] = field(default_factory=list)


def verify_answer(text: str, sources: Sequence[str], *, finished: bool = True) -> VerifiedAnswer:
    evidence = Evidence(list(sources), extra_generic=CHAT_GENERIC)
    source_numbers = {_number_key(n) for n in _NUMBER.findall(" ".join(sources))}
    spans = split_sentences(text)
    if not finished and spans and not re.search(r"[.!?…)\"'”]\s*$", text[spans[-1][0] : spans[-1][1]]):
        spans = spans[:-1]  # still being written: shown once it is complete and checked
    out_of_stock = bool(_OUT_OF_STOCK.search(evidence.text))
    verdicts = []
    for start, end in spans:
        sentence = text[start:end].strip()
        why = _unsupported(sentence, evidence, source_numbers)
        if not why and _LEADING_YES_NO.match(sentence):
            # Words can be checked, a polarity cannot: "Yes, we deliver on Sundays" uses only backed words.
            why = "a yes or no the model chose (the sources' own sentences answer it)"
        if not why and _LIST_ONLY.match(sentence):
            why = "a list number with nothing after it"
        if not why and out_of_stock and _AVAILABLE.search(sentence) and not _NOT.search(sentence):
            why = "says it is available, the sources say out of stock"
        verdicts.append((sentence, why))
    kept, dropped = [], []
    for index, (sentence, why) in enumerate(verdicts):
        if not why and _INTRODUCES_LIST.search(sentence):
            following = verdicts[index + 1] if index + 1 < len(verdicts) else None
            if following is None or following[1]:
                why = "introduces a list that is not shown"
        if why:
            dropped.append((sentence, why))
        else:
            kept.append(sentence)
    if kept and not any(_source_terms(sentence, evidence, source_numbers) for sentence in kept):
        # Only pleasantries and service words are left ("Sure, happy to help!"): that answers nothing.
        dropped += [(sentence, "says nothing the sources say") for sentence in kept]
        kept = []
    return VerifiedAnswer(" ".join(kept), dropped)


_LEADING_YES_NO = re.compile(
    r"\W*(?:yes|no|yeah|nope|yep|yup|sure|absolutely|definitely|of course)\b(?!-)", re.IGNORECASE
)
_LIST_ONLY = re.compile(r"^\W*(?:\d+[.)]?\W*)+$")
_INTRODUCES_LIST = re.compile(r":\s*(?:\d+[.)]?)?\s*$")
_OUT_OF_STOCK = re.compile(r"\bout of stock\b", re.IGNORECASE)
_AVAILABLE = re.compile(
    r"\b(?:available|in stock|back in stock|restock\w*|buy (?:it|them|one) now|order (?:it|them) now)\b",
    re.IGNORECASE,
)
_NOT = re.compile(r"\b(?:not|no longer|n't|isn't|aren't|unavailable|out of stock|sold out)\b", re.IGNORECASE)
_SERVICE_FORMS = frozenset(f for w in CHAT_GENERIC for f in forms(w))


def _source_terms(sentence: str, evidence: Evidence, source_numbers: set[str]) -> list[str]:
    """The sentence's words that come from the sources themselves (not function, generic or service words)."""
    words = re.findall(r"[a-z][a-z'’-]*|\d+(?:[.,]\d+)?", sentence.lower())
    out = []
    for word in words:
        if word in FUNCTION_WORDS or word in ("yes", "no", "yeah", "nope", "yep"):
            continue
        word_forms = forms(word) if word[0].isalpha() else {word}
        if word_forms & _SERVICE_FORMS or word_forms & _GENERIC_MARKETING_FORMS:
            continue
        if word_forms & evidence.forms or (word[0].isdigit() and _number_key(word) in source_numbers):
            out.append(word)
    return out


def _unsupported(sentence: str, evidence: Evidence, source_numbers: set[str]) -> str:
    numbers = [n for n in _NUMBER.findall(sentence) if _number_key(n) not in source_numbers]
    if numbers:
        return f"number not in the sources: {numbers[0]}"
    skip = [m.span() for m in re.finditer(r"https?://\S+|\S+@\S+", sentence)]
    words = unverified(sentence, evidence, skip=skip)
    if words:
        return f"not in the sources: {words[0].text}"
    found = contradictions(sentence, evidence)
    if found:
        return found[0].reason
    return ""


def _number_key(text: str) -> str:
    value = text.replace(",", "")
    if "." in value:
        value = value.rstrip("0").rstrip(".")
    return value
