"""The check itself: ``check_copy`` and ``CopyChecker`` run a piece's fields through the fact extractors and
the product's facts, the statement verifier (ml.engine.verification), the degenerate-output checks, the
channel limits and the brand voice's banned words, and gather the findings in a ``GroundingReport``."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ml.engine.verification import (
    Evidence,
    contradictions,
    placeholders,
    unverified,
    voice_rules,
    voice_violations,
)
from ml.engine.verification.statements import _GENERIC_FORMS, forms
from ml.engine.verification.vocabulary import FUNCTION_WORDS

from .channels import CHANNEL_LIMITS, CHANNELS, _channel_violations
from .degenerate import _RESIDUE, _degenerate
from .extraction import _extract
from .facts import _Facts, _product_text
from .report import Claim, GroundingReport


def check_copy(
    fields: Mapping[str, str],
    product: Mapping,
    *,
    channel: str,
    banned_words: Sequence[str] = (),
    prompt: str = "",
    brand_voice: Mapping | None = None,
) -> GroundingReport:
    """Check one piece of copy. ``fields`` maps field names (title, subject, body, hashtags) to text;
    ``product`` is a plain dict (sku, title, brand, category, price, currency, attributes, description, ...).
    ``prompt`` (the text the model was given) enables the prompt-echo check; ``brand_voice`` (its "dont"
    list) adds the voice's "never" rules to ``banned_words``.

    Every sentence is checked two ways: the fact extractors (.extraction: prices, numbers, percentages,
    measurements, sizes, materials, claim phrases, links, origins) and, for every other content word, the
    statement verifier (ml.engine.verification): the word must be in the product facts or in the documented
    generic-marketing vocabulary, colours and audiences must be the product's, and no sentence may contradict
    a fact."""
    return CopyChecker(product, banned_words=banned_words, brand_voice=brand_voice).check(
        fields, channel=channel, prompt=prompt
    )


class CopyChecker:
    """check_copy for many texts about one product: the facts are read once."""

    def __init__(
        self, product: Mapping, *, banned_words: Sequence[str] = (), brand_voice: Mapping | None = None
    ):
        product_text = _product_text(product)
        name = f"{product.get('title') or ''} {product.get('category') or ''}"
        self.name_words = [
            w.lower()
            for w in re.findall(r"[A-Za-z]{3,}", name)
            if w.lower() not in FUNCTION_WORDS and not forms(w) & _GENERIC_FORMS
        ]
        self.facts = _Facts.of(product, product_text)
        self.evidence = Evidence([product_text])
        self.rules = voice_rules((brand_voice or {}).get("dont") or (), banned_words)

    def check(self, fields: Mapping[str, str], *, channel: str, prompt: str = "") -> GroundingReport:
        if channel not in CHANNEL_LIMITS:
            raise ValueError(f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}")
        texts = {name: str(value) for name, value in fields.items() if value is not None}
        report = GroundingReport()
        for name, text in texts.items():
            report.unsupported.extend(self.claims(text, name, channel))
            report.degenerate.extend(_degenerate(text, name, prompt, channel))
        report.unsupported.sort(
            key=lambda c: (list(texts).index(c.field) if c.field in texts else 0, c.start)
        )
        report.channel_violations = _channel_violations(texts, channel)
        if not any(t.strip() for t in texts.values()):
            report.degenerate.insert(0, "the copy is empty")
        elif texts.get("body", "").strip() and not self.names_the_product(texts["body"]):
            report.degenerate.append("body never says what the product is (no word of its title or category)")
        report.banned = voice_violations(list(texts.values()), self.rules)
        return report

    def names_the_product(self, text: str) -> bool:
        """Copy that mentions no content word of the product's title or category is not about the product
        ("The way you look at it makes me feel totally fine."), however true each word of it is."""
        words = {f for w in re.findall(r"[A-Za-z]{3,}", text) for f in forms(w)}
        return not self.name_words or any(forms(w) & words for w in self.name_words)

    def claims(self, text: str, field_name: str, channel: str) -> list[Claim]:
        """Unsupported facts and unverified statements in one field's text."""
        found = _extract(text)
        return self.facts.unsupported_in(text, field_name, found) + _statement_claims(
            text, field_name, found, self.evidence, channel
        )

    def clean(self, text: str, field_name: str, channel: str) -> bool:
        """True when a fragment (a sentence, a title, a hashtag) has no finding of any kind on its own."""
        if not text.strip() or self.claims(text, field_name, channel):
            return False
        if _degenerate(text, field_name, "", channel):
            return False
        return not voice_violations([text], self.rules)


def _statement_claims(
    text: str, field_name: str, found: list, evidence: Evidence, channel: str
) -> list[Claim]:
    """Content words the facts do not back, and sentences that contradict them (see ml.engine.verification)."""
    skip = (
        [(f.start, f.end) for f in found] + placeholders(text) + [m.span() for m in _RESIDUE.finditer(text)]
    )
    title_case = field_name in ("title", "subject") or channel == "ad_headline"
    claims = [
        Claim(f.text, f.kind, field_name, f.start, f.end, f.reason)
        for f in unverified(text, evidence, skip=skip, title_case=title_case)
    ]
    for f in contradictions(text, evidence):
        claims.append(Claim(f.text, f.kind, field_name, f.start, f.end, f.reason))
    return claims
