"""What copy generation bans while decoding (``GenerationParams.banned_phrases``), per product and voice.

The verifier (ml.engine.grounding, ml.engine.verification) blocks bad pieces after they are written; banning
the words that start the commonest bad claims makes the model write fewer of them, so more drafts pass and
fewer are thrown away. Each group below is a kind of text the verifier blocks and that product data almost
never backs:

- PLACEHOLDERS: template holes a small model copies from web text ("[Your Name]", "{product}", "insert link
  here", "Lorem ipsum", "TBD", "XXX"). The bracket characters are banned in every token that contains them.
- MARKETPLACES: other shops and marketplaces ("Buy Now at Amazon"): a merchant's copy sells in its own shop.
  From the verifier's retailer list, less "target", which is also an everyday word.
- OFFERS: prices and promotions the merchant did not set ("buy one free", "free shipping", "20% off").
- ASSURANCES: guarantees and warranties, which are legal promises.
- ACCOLADES: awards, rankings and certifications ("No. 1", "best-selling", "certified").
- AUTHORITIES: experts vouching for the product ("Dr. Michael Johnson has personally reviewed...").

A phrase that the product's own facts use (title, brand, category, description, attributes) is not banned
for that product: "free shipping" in the description, a "certified organic" attribute, a brand named
"Award" stay writable. The brand voice's bans are never lifted, since the voice check blocks them whatever
the facts say: its banned words, and the phrases behind each "never" rule that ml.engine.verification.voice
understands (exclamation marks, question marks, hashtags, ellipses, other shops, discounts, urgency, quoted
words). Emoji and ALL CAPS rules are left to the verifier (no short phrase list covers them).

Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from ml.engine.generation import MAX_BANNED_PHRASE_CHARS, MAX_BANNED_PHRASES
from ml.engine.grounding.facts import _product_text
from ml.engine.verification.vocabulary import RETAILERS
from ml.engine.verification.voice import voice_rules

PLACEHOLDERS = ("[", "]", "{", "}", "insert", "Your Name", "Lorem", "TBD", "XXX", "link here")
MARKETPLACES = tuple(sorted(RETAILERS - {"target"}))
OFFERS = (
    "free shipping",
    "free delivery",
    "buy one",
    "buy 1",
    "BOGO",
    "limited time",
    "discount",
    "discounts",
    "discounted",
    "% off",
    "sale",
    "order now at",
)
ASSURANCES = ("guarantee", "guaranteed", "warranty")
ACCOLADES = (
    "award",
    "awards",
    "award-winning",
    "best-selling",
    "bestseller",
    "best seller",
    "No. 1",
    "number one",
    "certified",
)
AUTHORITIES = ("doctor", "doctors", "Dr.", "dermatologist", "dermatologists", "clinically")
UNBACKED_CLAIMS = MARKETPLACES + OFFERS + ASSURANCES + ACCOLADES + AUTHORITIES

# What each "never" rule of ml.engine.verification.voice forbids, as phrases to ban (rule label -> phrases).
VOICE_RULE_PHRASES: dict[str, tuple[str, ...]] = {
    "exclamation marks": ("!",),
    "question marks": ("?",),
    "hashtags": ("#",),
    "ellipses": ("...", "…"),
    "other shops or websites": tuple(sorted(RETAILERS)) + ("http", "www", ".com"),
    "discounts or offers": (
        "discount",
        "discounts",
        "discounted",
        "on sale",
        "sale price",
        "offer",
        "offers",
        "deal",
        "deals",
        "coupon",
        "coupons",
        "promo",
        "promotion",
        "% off",
    ),
    "urgency": (
        "hurry",
        "limited time",
        "today only",
        "last chance",
        "ends soon",
        "act now",
        "before it's gone",
        "while stocks last",
        "selling fast",
    ),
    "emoji": (),
    "words in capitals": (),
}


def copy_banned_phrases(product: Mapping, brand_voice: Mapping | None = None) -> tuple[str, ...]:
    """Everything banned while writing copy for ``product`` under ``brand_voice`` (its "dont" list and
    "banned_words", as BrandVoice.as_prompt_dict gives them), at most GenerationParams' limit."""
    voice = brand_voice or {}
    phrases = product_banned_phrases(product) + voice_banned_phrases(
        voice.get("dont") or (), voice.get("banned_words") or ()
    )
    return tuple(dict.fromkeys(phrases))[:MAX_BANNED_PHRASES]


def product_banned_phrases(product: Mapping) -> tuple[str, ...]:
    """The placeholders and unbacked claims, less those the product's own facts use."""
    facts = _product_text(product).lower()
    return tuple(p for p in PLACEHOLDERS + UNBACKED_CLAIMS if not _occurs(p, facts))


def voice_banned_phrases(dont_list: Iterable[str], banned_words: Iterable[str] = ()) -> tuple[str, ...]:
    """The brand voice's banned words, and the phrases behind the "never" rules voice.py understands."""
    phrases: list[str] = []
    for label, _ in voice_rules(dont_list):
        if label in VOICE_RULE_PHRASES:
            phrases.extend(VOICE_RULE_PHRASES[label])
        elif len(label) > 2 and label[0] == label[-1] == '"':  # 'Never say "cheap"'
            phrases.append(label[1:-1])
    phrases.extend(str(w).strip() for w in banned_words if w and str(w).strip())
    return tuple(dict.fromkeys(p for p in phrases if len(p) <= MAX_BANNED_PHRASE_CHARS))


def _occurs(phrase: str, facts: str) -> bool:
    """Case-insensitive; a phrase that starts with a letter or digit must start a word ("sale" is not in
    "wholesale"), and may end inside one ("discount" is in "discounted")."""
    phrase = phrase.lower()
    if not phrase[:1].isalnum():
        return phrase in facts
    return re.search(r"(?<!\w)" + re.escape(phrase), facts) is not None
