"""Personal data in support texts: find it and replace it with typed placeholders before anything is stored
for training or shown to another shopper.

Standard library only (the web process masks uploads and the chat worker checks replies). Public API:

    PII_TYPES
    mask_pii(text) -> MaskResult(text, counts)     counts: {"email": 2, "phone": 1, ...} (lowercase type names)
    find_pii(text) -> [PiiSpan(type, start, end, value)]  in text order, never overlapping
    pii_key(span) -> str                           a normalised value, to compare one span with another text's

Placeholders are the type in brackets: "[EMAIL]", "[PHONE]", "[ORDER_NUMBER]", "[CARD_NUMBER]", "[ADDRESS]",
"[IBAN]", "[URL_WITH_TOKEN]". Masking is idempotent: placeholders and the Bitext data set's template slots
("{{Order Number}}") are left as they are.

What is found, and what is deliberately not:
- EMAIL: an ordinary address (local@domain.tld).
- CARD_NUMBER: 13 to 19 digits, optionally in groups split by single spaces or dashes, with a card issuer's
  prefix, passing the Luhn check. Other grouped runs of that shape are ORDER_NUMBERs (ids, still personal).
- IBAN: two letters, two check digits and 11 to 30 letters/digits passing the mod-97 check.
- ORDER_NUMBER (order, invoice, tracking, account and other reference numbers): a token with at least 4 digits
  after a word like order/purchase/invoice/tracking/account/ticket (optionally "number", "no.", "id", "#", ":",
  "is"), "#" followed by at least 4 digits ("#12345678"), codes with a reference prefix ("ORD-2024-55812",
  "INV-0042", "RMA 88123"), and any other run of 6 or more digits that is not a phone number by shape.
- PHONE: "+" and a country code, North American shapes ("(555) 123-4567", "555.123.4567", "1-800-555-0199"),
  national numbers starting with 0 in groups ("020 7946 0958", "07700 900123"), Indian mobiles ("98765 43210"),
  10 bare digits or 11 starting with 0 or 1, and any 7+ digits after a word like phone/mobile/call/whatsapp.
- ADDRESS: a house number, one to four name words and a street type ("221B Baker Street", "12 main st",
  "1600 Pennsylvania Avenue NW"), with a following unit and "City, ST 12345" or postcode; "P.O. Box 123";
  unit designators with a number ("Flat 302", "Apt 4B", "House No. 12"); a value after zip/postcode/pin code.
  Street types that are also common words (Way, Place, Drive, Court, Close, Square, Lane...) count only when
  the street name and the type are capitalised, so "3 Drive modes" and "2 way stretch" stay.
- URL_WITH_TOKEN: a link whose query string carries a token, key, password, session or signature.
- ID_NUMBER: US social security numbers ("123-45-6789"), Aadhaar numbers ("2345 6789 0123"), PAN cards
  ("ABCPE1234F"), and an id after a word like passport/SSN/Aadhaar/PAN/licence/national id/tax id/UPI.
- SECRET: what follows password/passcode/OTP/CVV/security code/verification code when it has a digit or a
  symbol ("password is hunter2!"), and 4 to 6 digits after "pin" ("my pin 4567"; 6 digits after "pin code"
  are a postcode). "my password is not working" stays.
- EMAIL also in spelled-out form: "john dot doe at gmail dot com", "jane(at)mail(dot)com".
Not masked: prices ("$24.90", "Rs 1499", "1,299", "2500 rupees"), sizes and measurements ("size 42", "32x34",
"750ml"), years and dates ("2024", "2024-01-15"), percentages, times, ranges ("3-5 days"), short numbers ("2
items", "order 2 more"), product codes without a reference prefix ("HB-750"). Names of people are not detected.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["PII_TYPES", "MaskResult", "PiiSpan", "find_pii", "mask_pii", "pii_key"]

PII_TYPES = (
    "EMAIL",
    "PHONE",
    "ORDER_NUMBER",
    "CARD_NUMBER",
    "IBAN",
    "ADDRESS",
    "URL_WITH_TOKEN",
    "ID_NUMBER",
    "SECRET",
)


@dataclass(frozen=True)
class PiiSpan:
    type: str
    start: int
    end: int
    value: str


@dataclass
class MaskResult:
    text: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def masked(self) -> int:
        return sum(self.counts.values())


def mask_pii(text: str) -> MaskResult:
    """``text`` with every span find_pii reports replaced by its placeholder, and how many of each type."""
    text = "" if text is None else str(text)
    spans = find_pii(text)
    parts, last = [], 0
    for span in spans:
        parts.append(text[last : span.start])
        parts.append(f"[{span.type}]")
        last = span.end
    parts.append(text[last:])
    counts = Counter(span.type.lower() for span in spans)
    return MaskResult(text="".join(parts), counts=dict(sorted(counts.items())))


def find_pii(text: str) -> list[PiiSpan]:
    """Personal data in ``text``. Detectors run from the most specific to the most general; a span found
    earlier wins over any later one it overlaps."""
    text = "" if text is None else str(text)
    taken: list[tuple[int, int]] = [m.span() for m in _PROTECTED.finditer(text)]
    spans: list[PiiSpan] = []
    for detector in _DETECTORS:
        for kind, start, end in detector(text):
            if start >= end or any(start < b and a < end for a, b in taken):
                continue
            taken.append((start, end))
            spans.append(PiiSpan(kind, start, end, text[start:end]))
    return sorted(spans, key=lambda s: s.start)


def pii_key(span: PiiSpan) -> str:
    """A normalised value: lowercased emails and links, only letters and digits (uppercased) otherwise, so the
    same number written as "#1234-5678" and "12345678" compares equal. ORDER_NUMBER keys drop a reference
    prefix ("ORD-55812" and "55812" match)."""
    if span.type in ("EMAIL", "URL_WITH_TOKEN"):
        return span.value.strip().lower()
    key = re.sub(r"[^0-9A-Za-z]", "", span.value).upper()
    if span.type == "PHONE":
        return key[-10:]  # with or without the country code
    if span.type == "ORDER_NUMBER":
        return re.sub(rf"^(?:{_REF_PREFIXES})(?=\d)", "", key, flags=re.IGNORECASE) or key
    return key


# --- detectors ---------------------------------------------------------------------------------------------
# Each yields (type, start, end) for the part of the text to replace.

_PROTECTED = re.compile(r"\{\{[^{}\n]{1,80}\}\}|\[(?:" + "|".join(PII_TYPES) + r")\]")

_CURRENCY_BEFORE = re.compile(
    r"(?:[$€£¥₹]|\b(?:rs|inr|usd|eur|gbp|cad|aud|aed|sgd|mrp|price|cost|costs|pay|paid|total|amount|"
    r"refund of)\.?)\s*$",
    re.IGNORECASE,
)
_UNIT_AFTER = re.compile(
    r"^\s*(?:%|/-|rupees?|dollars?|euros?|pounds?|usd|inr|eur|gbp|ml|l|cl|mm|cm|m|km|in|inch(?:es)?|ft|g|"
    r"gm|kg|lbs?|oz|mah|w|kw|v|gb|mb|tb|px|dpi|rpm|mins?|minutes?|hours?|hrs?|days?|years?|yrs?|pcs|pieces|units?|"
    r"items?|x\b)(?![a-z])",
    re.IGNORECASE,
)


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def _is_amount(text: str, start: int, end: int) -> bool:
    """A price or a measurement: a currency before, or a unit/percent after."""
    before = text[max(0, start - 16) : start]
    return bool(_CURRENCY_BEFORE.search(before) or _UNIT_AFTER.match(text[end : end + 12]))


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _iban_ok(value: str) -> bool:
    compact = re.sub(r"\s", "", value).upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


_URL_TOKEN = re.compile(
    r"\bhttps?://[^\s<>\"']+?[?&#](?:[\w-]*(?:token|key|secret|password|passwd|pwd|auth|session|sid|sig|"
    r"signature|otp|code|reset))=[^\s<>\"']+",
    re.IGNORECASE,
)


def _urls(text):
    for m in _URL_TOKEN.finditer(text):
        end = m.end()
        while end > m.start() and text[end - 1] in ".,;:!?)]}'\"":
            end -= 1
        yield "URL_WITH_TOKEN", m.start(), end


_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![\w-])"
)


_SPELLED_EMAIL = re.compile(
    r"(?<![\w.])[a-z0-9][a-z0-9._%+-]*(?:\s+dot\s+[a-z0-9_%+-]+)*\s*(?:@|\(at\)|\[at\]|\s+at\s+)\s*"
    r"[a-z0-9-]+(?:\s*(?:\.|\(dot\)|\[dot\]|\s+dot\s+)\s*[a-z0-9-]+)*?\s*(?:\(dot\)|\[dot\]|\s+dot\s+)\s*"
    r"(?:com|net|org|in|co|io|edu|gov|uk|de|fr|info|biz|me|us|ca|au)\b",
    re.IGNORECASE,
)


def _emails(text):
    for pattern in (_EMAIL, _SPELLED_EMAIL):
        for m in pattern.finditer(text):
            yield "EMAIL", m.start(), m.end()


_ID_SHAPES = re.compile(
    r"(?<![\w-])(?<!\d[ -])(?:\d{3}-\d{2}-\d{4}|[2-9]\d{3} \d{4} \d{4}|[A-Z]{3}[PCHFATBLJG][A-Z]\d{4}[A-Z])"
    r"(?![\w-]|[ -]\d)"  # not a part of a longer group of numbers (a card)
)
_ID_CONTEXT = re.compile(
    r"\b(?:passport|ssn|social\s+security|aadhaa?r|(?-i:PAN)(?:\s+card)?|pan\s+(?:card|number|no\.?)|driver'?s?\s+licen[cs]e|driving\s+licen[cs]e|"
    r"licen[cs]e|national\s+id|tax\s+id|voter\s+id|upi(?:\s+id)?|vpa)"
    r"(?:\s*(?:number|num|no\.?|id|#|:|is|was|=|-))*\s*"
    r"(?P<id>[A-Za-z0-9][A-Za-z0-9.@/-]*[A-Za-z0-9])",
    re.IGNORECASE,
)


def _id_numbers(text):
    for m in _ID_SHAPES.finditer(text):
        yield "ID_NUMBER", m.start(), m.end()
    for m in _ID_CONTEXT.finditer(text):
        value = m.group("id")
        if re.search(r"\d", value) and len(value) >= 5 or "@" in value:
            yield "ID_NUMBER", m.start("id"), m.end("id")


_SECRET_CONTEXT = re.compile(
    r"\b(?:password|passcode|passwd|pwd|otp|one[-\s]time\s+(?:password|code|pin)|cvv2?|cvc|security\s+code|"
    r"verification\s+code|login\s+code)(?:\s+(?:number|code))?(?:\s*(?:is|was|:|=|-))*\s*"
    r"(?P<v>[\"'“]?[^\s\"'”]{3,40}[\"'”]?)",
    re.IGNORECASE,
)
_PIN = re.compile(
    r"\bpin(?:\s+(?:number|no\.?))?(?:\s*(?:is|was|:|=|-))*\s*(?P<v>\d{4,6})(?![\w-])", re.IGNORECASE
)


def _secrets(text):
    for m in _SECRET_CONTEXT.finditer(text):
        value = m.group("v")
        core = value.rstrip(".,;:!?)\"'”").lstrip("\"'“")
        if core and re.search(r"[\d\W_]", core):
            start = m.start("v") + value.index(core)
            yield "SECRET", start, start + len(core)
    for m in _PIN.finditer(text):
        yield "SECRET", m.start("v"), m.end("v")


_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")


def _ibans(text):
    for m in _IBAN.finditer(text):
        if _iban_ok(m.group()):
            yield "IBAN", m.start(), m.end()


# 13-19 digits: contiguous, or in groups of 3-6 joined by the same single space or dash.
_CARD = re.compile(
    r"(?<![\w.,+-])(?:\d{13,19}|\d{4}([ -])\d{4}(?:\1\d{4}){1,2}(?:\1\d{1,4})?|\d{4}([ -])\d{6}\2\d{4,5})"
    r"(?![\w%]|[.,]\d|-\d)"
)


# Issuer prefixes (Visa 4, Mastercard 51-55 and 22-27, Amex 34/37, Diners/JCB 30/35/36/38, Discover and RuPay
# 60/65/81/82, UnionPay 62): a Luhn-valid id like "113542617735902" is not a card.
_CARD_PREFIX = re.compile(r"4|5[1-5]|2[2-7]|3[0-8]|6[0-9]|8[12]")


def _cards(text):
    for m in _CARD.finditer(text):
        digits = _digits(m.group())
        if not 13 <= len(digits) <= 19 or _is_amount(text, m.start(), m.end()):
            continue
        if _luhn_ok(digits) and _CARD_PREFIX.match(digits):
            yield "CARD_NUMBER", m.start(), m.end()
        elif not m.group().isdigit():  # a grouped id: Aadhaar-like or a card number mistyped
            yield "ORDER_NUMBER", m.start(), m.end()


_REF_PREFIXES = r"ORD|ORDER|INV|PO|RMA|TRK|REF|TXN|TRX|CONF|BKG|CASE|TKT|TICKET|AWB|SHP|RET|CUST|ACC|ACCT"
_REF_CODE = re.compile(
    rf"(?<![\w-])(?:{_REF_PREFIXES})(?:[-#_/ ]|\.? ?#? ?)?(?=[A-Z0-9-]*\d)[A-Z0-9]+(?:-[A-Z0-9]+)*"
    r"(?![\w-])",
    re.IGNORECASE,
)


def _ref_codes(text):
    for m in _REF_CODE.finditer(text):
        value = m.group()
        if len(_digits(value)) < 4 or not re.match(rf"(?:{_REF_PREFIXES})", value):  # uppercase prefix only
            continue
        if re.fullmatch(r"(?i:po)\s*\d{1,4}", value):  # "PO 12" is too short to be an order
            continue
        yield "ORDER_NUMBER", m.start(), m.end()


# A reference word, then connectors, then the id. Only the id is masked.
_REF_CONTEXT = re.compile(
    r"\b(?:order|purchase|invoice|receipt|tracking|transaction|confirmation|reference|ref|booking|ticket|case|"
    r"account|acct|shipment|consignment|parcel|package|return|rma|refund|awb|customer|membership|member|"
    r"subscription|policy)s?"
    r"(?P<marker>(?:\s*(?:number|num|no\.?|nr\.?|id|code|ref|#|:|is|was|=|-)\s*)*)"
    r"\s*(?P<id>#?[A-Z0-9](?:[A-Z0-9]|[-/](?=[A-Z0-9]))*)",
    re.IGNORECASE,
)


def _ref_context(text):
    for m in _REF_CONTEXT.finditer(text):
        value = m.group("id")
        digits = _digits(value)
        start, end = m.start("id"), m.end("id")
        if _is_amount(text, start, end) or len(value) > 40:
            continue
        explicit = bool(m.group("marker").strip()) or value.startswith("#")
        if len(digits) >= 5 or (len(digits) == 4 and explicit and not _is_year(value)):
            yield "ORDER_NUMBER", start, end


def _is_year(value: str) -> bool:
    return bool(re.fullmatch(r"#?(?:19|20)\d\d", value))


_HASH_ID = re.compile(r"(?<![\w&#])#(?=[A-Z0-9-]*\d{4})[A-Z0-9]+(?:-[A-Z0-9]+)*(?![\w-])", re.IGNORECASE)


def _hash_ids(text):
    for m in _HASH_ID.finditer(text):
        if re.fullmatch(r"#[0-9a-f]{6}|#[0-9a-f]{3}", m.group(), re.IGNORECASE) and re.search(
            r"[a-f]", m.group(), re.IGNORECASE
        ):
            continue  # a colour
        yield "ORDER_NUMBER", m.start(), m.end()


_PHONE_CONTEXT = re.compile(
    r"\b(?:phone|mobile|cell|cellphone|tel|telephone|whatsapp|landline|contact number|call me|text me|"
    r"reach me|ring me|sms me)(?:\s*(?:number|num|no\.?|#|:|is|at|on|=|-))*\s*"
    r"(?P<number>\+?\(?\d(?:[\d]|[ .-](?=\(?\d)|\)\s?|\((?=\d))*\d)",
    re.IGNORECASE,
)

_PHONE_SHAPES = re.compile(
    r"(?<![\w.+/-])(?:"
    r"\+\d{1,3}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]?\d{1,5}){2,5}"  # +44 20 7946 0958, +1 (555) 123-4567
    r"|(?:1[ .-])?\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}"  # (555) 123-4567
    r"|(?:1[ .-])?\d{3}([.-])\d{3}\1\d{4}"  # 555-123-4567, 1-800-555-0199
    r"|\d{3} \d{3} \d{4}"  # 555 123 4567
    r"|0\d{2,4}[ -]\d{3,4}(?:[ -]\d{3,4})?"  # 020 7946 0958, 07700 900123
    r"|[6-9]\d{4}[ -]\d{5}"  # 98765 43210
    r")(?![\w%]|[.,]\d|-\d)"
)


def _phone_context(text):
    for m in _PHONE_CONTEXT.finditer(text):
        if 7 <= len(_digits(m.group("number"))) <= 15:
            yield "PHONE", m.start("number"), m.end("number")


def _phone_shapes(text):
    for m in _PHONE_SHAPES.finditer(text):
        value = m.group()
        digits = _digits(value)
        if not 8 <= len(digits) <= 15 or _is_amount(text, m.start(), m.end()):
            continue
        if value.startswith("0") and re.fullmatch(r"0\d{2,3}-\d{2,4}", value):
            continue
        yield "PHONE", m.start(), m.end()


_DIGIT_RUN = re.compile(r"(?<![\w.,/+-])\d{6,}(?![\w%]|[.,]\d|[-/]\d)")


def _digit_runs(text):
    for m in _DIGIT_RUN.finditer(text):
        value = m.group()
        if _is_amount(text, m.start(), m.end()):
            continue
        if len(value) == 10 or (len(value) == 11 and value[0] in "01"):
            yield "PHONE", m.start(), m.end()
        else:
            yield "ORDER_NUMBER", m.start(), m.end()


_STREET_TYPES = (
    r"street|st|avenue|ave|boulevard|blvd|road|rd|highway|hwy|marg|parkway|pkwy|lane|ln|drive|dr|"
    r"court|ct|way|place|pl|terrace|ter|close|crescent|cres|square|sq|row|circle|cir|trail|trl|"
    r"grove|gardens|mews|alley|plaza"
)
_LOWERCASE_STREET_TYPES = r"street|st|avenue|ave|boulevard|blvd|road|rd|highway|hwy|marg|parkway|pkwy"
_NOT_NAME = (
    r"(?!(?i:off|on|the|a|an|of|for|in|to|and|or|my|your|our|per|x|by|with|at|from|more|less|pack|set)\b)"
)
_UNIT = (
    r"(?:,?\s*(?i:apt|apartment|suite|ste|unit|flat|floor|fl|room|rm|#)\.?\s*#?\s*[A-Z0-9][A-Z0-9-]{0,5}\b)"
)
_POSTCODE = r"(?:\d{5}(?:-\d{4})?|\d{6}|\d{3} \d{3}|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}|[A-Z]\d[A-Z] ?\d[A-Z]\d)"
_CITY_LINE = (
    rf"(?:,\s*[A-Z][A-Za-z.'-]+(?:\s+[A-Z][A-Za-z.'-]+){{0,2}},?\s+(?:[A-Z]{{2,3}}\s+)?{_POSTCODE}\b)"
)
_DIRECTION = r"(?:\s+(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West)\b)?"
_HOUSE = r"(?<![\w.,$€£₹/#-])\d{1,5}[A-Za-z]?(?:[-/]\d{1,4}[A-Za-z]?)?,?"
# A street line must end the phrase: "2 carbon road bikes" and "4 Dining Place Mats" are products.
_STREET_END = (
    r"(?=\s*(?:$|[,.;:!?)\n])|\s+(?i:in|near|and|for|since|to|from|but|so|is|was|which|where|please|"
    r"thanks|thank|apt|apartment|suite|unit|flat|floor)\b)"
)
_STREET = re.compile(
    rf"{_HOUSE}\s+(?:"
    rf"(?:{_NOT_NAME}[A-Z0-9][\w'.-]*\s+){{1,4}}(?i:{_STREET_TYPES})"
    rf"|(?:{_NOT_NAME}[a-z0-9][\w'.-]*\s+){{1,4}}(?:{_LOWERCASE_STREET_TYPES})"
    rf")\b\.?{_DIRECTION}(?:{_UNIT}?{_CITY_LINE}|{_UNIT}){{0,1}}{_STREET_END}"
)
_PO_BOX = re.compile(r"\b(?i:p\.?\s*o\.?\s*box|post\s+office\s+box)\s*#?\s*\d{1,8}\b")
_UNIT_ONLY = re.compile(
    r"\b(?i:flat|apt|apartment|suite|house\s+no\.?|h\.?\s*no\.?|house\s+number|plot\s+no\.?|"
    r"door\s+no\.?|plot)\s*#?\s*\d{1,5}[A-Za-z]?(?:[-/]\d{1,4})?"
    r"(?![\w%]|[.,]\d|\s*(?i:%|off\b|rs\b|inr\b|₹|\$|discount|cashback|per\s*cent|percent))"
)
_POSTCODE_CONTEXT = re.compile(
    rf"\b(?i:zip|zip\s*code|postcode|post\s*code|postal\s*code|pin\s*code|pincode)"
    rf"(?:\s*(?:is|:|-|=))?\s*(?P<code>(?i:{_POSTCODE}))(?!\w)"
)


_SIZE_BEFORE = re.compile(r"\b(?i:size|sizes|uk|us|eu|fr|it|jp|pack\s+of|set\s+of|qty|quantity)\s*$")


def _addresses(text):
    for pattern in (_STREET, _PO_BOX, _UNIT_ONLY):
        for m in pattern.finditer(text):
            if pattern is _STREET and _SIZE_BEFORE.search(text[max(0, m.start() - 12) : m.start()]):
                continue  # "size 10 Wide Fit Court"
            yield "ADDRESS", m.start(), m.end()
    for m in _POSTCODE_CONTEXT.finditer(text):
        yield "ADDRESS", m.start("code"), m.end("code")


# Most specific first. Context beats shape: "order 4111111111111111" is an order number even if it passes Luhn,
# "phone 12345678" a phone number.
_DETECTORS = (
    _urls,
    _emails,
    _secrets,
    _ibans,
    _id_numbers,
    _addresses,
    _phone_context,
    _ref_context,
    _cards,
    _ref_codes,
    _hash_ids,
    _phone_shapes,
    _digit_runs,
)
