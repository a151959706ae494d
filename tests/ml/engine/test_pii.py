"""PII masking: typed placeholders for the personal data found in support texts, and nothing else masked.
Pure Python: no database, no model."""

import csv
import itertools
from pathlib import Path

import pytest

from ml.engine.pii import PII_TYPES, MaskResult, PiiSpan, find_pii, mask_pii, pii_key

BITEXT = (
    Path(__file__).resolve().parents[3].parent
    / "shared"
    / "datasets"
    / "bitext_customer_support"
    / "bitext_customer_support_training.csv"
)


@pytest.mark.parametrize(
    "text, expected",
    [
        # emails
        ("Email me at jane.doe+shop@example.co.uk please", "Email me at [EMAIL] please"),
        ("JOHN_SMITH@Mail.COM.", "[EMAIL]."),
        ("(contact: a.b-c@sub.domain.io)", "(contact: [EMAIL])"),
        # phones
        ("call +1 (555) 123-4567 tomorrow", "call [PHONE] tomorrow"),
        ("my number: +44 20 7946 0958", "my number: [PHONE]"),
        ("+919876543210", "[PHONE]"),
        ("Call 1-800-555-0199 now", "Call [PHONE] now"),
        ("it's 555.123.4567", "it's [PHONE]"),
        ("(555) 123-4567", "[PHONE]"),
        ("555 123 4567", "[PHONE]"),
        ("ring 020 7946 0958", "ring [PHONE]"),
        ("mobile 07700 900123", "mobile [PHONE]"),
        ("my phone is 98765 43210", "my phone is [PHONE]"),
        ("whatsapp me on 9876543210", "whatsapp me on [PHONE]"),
        ("phone number is 5551234", "phone number is [PHONE]"),
        ("text me at 555-1234", "text me at [PHONE]"),
        ("reach me on 0612345678", "reach me on [PHONE]"),
        # order and other reference numbers
        ("Where is order #12345678?", "Where is order #[ORDER_NUMBER]?"),
        ("#12345678 has not arrived", "[ORDER_NUMBER] has not arrived"),
        ("how can I cancel purchase 113542617735902?", "how can I cancel purchase [ORDER_NUMBER]?"),
        (
            "can you help me canceling purchase 00004587345?",
            "can you help me canceling purchase [ORDER_NUMBER]?",
        ),
        ("order 113542617735902", "order [ORDER_NUMBER]"),
        ("ORD-2024-55812 is late", "[ORDER_NUMBER] is late"),
        ("invoice INV-0042 please", "invoice [ORDER_NUMBER] please"),
        ("Tracking: 1Z999AA10123456784", "Tracking: [ORDER_NUMBER]"),
        ("My order number is 5551234", "My order number is [ORDER_NUMBER]"),
        ("order no. 4471 arrived broken", "order no. [ORDER_NUMBER] arrived broken"),
        ("order ABC12345 never came", "order [ORDER_NUMBER] never came"),
        ("my account 12345 is locked", "my account [ORDER_NUMBER] is locked"),
        ("RMA 88123 label", "RMA [ORDER_NUMBER] label"),
        ("ref: 20240115-7781", "ref: [ORDER_NUMBER]"),
        ("it came as 73220134", "it came as [ORDER_NUMBER]"),
        # cards (Luhn-valid, issuer prefix) and look-alikes
        ("card 4111 1111 1111 1111 expired", "card [CARD_NUMBER] expired"),
        ("4111-1111-1111-1111", "[CARD_NUMBER]"),
        ("5555555555554444", "[CARD_NUMBER]"),
        ("amex 3782 822463 10005", "amex [CARD_NUMBER]"),
        ("1234 5678 9012 3456", "[ORDER_NUMBER]"),  # grouped, fails Luhn: still an id
        ("4111111111111112", "[ORDER_NUMBER]"),
        # IBAN
        ("IBAN DE89 3704 0044 0532 0130 00 please", "IBAN [IBAN] please"),
        ("GB82WEST12345698765432", "[IBAN]"),
        # addresses
        ("I live at 221B Baker Street, London NW1 6XE", "I live at [ADDRESS]"),
        ("ship to 12 main st please", "ship to [ADDRESS] please"),
        ("Deliver to 742 Evergreen Terrace", "Deliver to [ADDRESS]"),
        ("1600 Pennsylvania Avenue NW, Washington, DC 20500", "[ADDRESS]"),
        ("send it to 350 Fifth Ave, Apt 4B.", "send it to [ADDRESS]."),
        ("P.O. Box 4521", "[ADDRESS]"),
        ("Apt 4B", "[ADDRESS]"),
        ("House No. 12, near the temple", "[ADDRESS], near the temple"),
        ("zip code 94107", "zip code [ADDRESS]"),
        ("pincode 560001", "pincode [ADDRESS]"),
        ("postcode: SW1A 1AA", "postcode: [ADDRESS]"),
        # spelled-out emails
        ("john dot doe at gmail dot com", "[EMAIL]"),
        ("write to jane(at)mail(dot)com", "write to [EMAIL]"),
        # government and payment ids
        ("SSN 123-45-6789", "SSN [ID_NUMBER]"),
        ("my aadhaar 2345 6789 0123", "my aadhaar [ID_NUMBER]"),
        ("PAN ABCPE1234F", "PAN [ID_NUMBER]"),
        ("my pan card number is abcpe1234f", "my pan card number is [ID_NUMBER]"),
        ("passport K1234567", "passport [ID_NUMBER]"),
        ("UPI id john@okicici", "UPI id [ID_NUMBER]"),
        # secrets
        ("password is hunter2!", "password is [SECRET]!"),
        ('my password: "Tr0ub4dor&3"', 'my password: "[SECRET]"'),
        ("OTP: 482913.", "OTP: [SECRET]."),
        ("cvv 123", "cvv [SECRET]"),
        ("my pin is 4567", "my pin is [SECRET]"),
        # links carrying secrets
        ("reset link https://shop.example/reset?token=abc123XYZ.", "reset link [URL_WITH_TOKEN]."),
        ("https://x.io/a?id=1&session_key=zz9", "[URL_WITH_TOKEN]"),
    ],
)
def test_masks_personal_data(text, expected):
    assert mask_pii(text).text == expected


@pytest.mark.parametrize(
    "text",
    [
        "It costs $24.90, or Rs 1499 in India",
        "₹1,499 only, MRP 2999",
        "Order total 1500000",
        "paid 2500000 rupees",
        "price 1299999",
        "size 42, waist 32x34, 750ml",
        "I need size 10 Wide Fit Court.",
        "bought it in 2023 for $1200",
        "50% off, flat 40% discount",
        "Flat 500 off on orders above 2999",
        "2 items, order 2 more",
        "order 2024",
        "delivered on 2024-01-15 at 10:30",
        "takes 3-5 business days, open 9am-5pm",
        "12/05/2024",
        "version 2.3.1 of the app",
        "pi is 3.14159265358979",
        "HB-750 is in stock, model XR-2000",
        "10000 mAh power bank, 256gb",
        "The 2 Way Stretch fabric",
        "I want 3 Drive modes",
        "2 carbon road bikes",
        "Set of 4 Dining Place Mats",
        "item #1 best seller",
        "#FF5733 colour",
        "&#12345;",
        "Buy 2 get 1 free",
        "temperature 20-25 C",
        "iphone 15 pro max",
        "room for 4 people",
        "http://shop.example/products?id=15&colour=red",
        "meet me at home dot",
        "my password is not working",
        "the OTP did not arrive",
        'Click "Lost Password" or "Password Recovery."',
        "reset your password successfully:",
        "frying pan 2800W, non-stick pan 28cm",
        "my licence expired",
        "",
    ],
)
def test_leaves_ordinary_text_alone(text):
    result = mask_pii(text)
    assert result.text == text
    assert result.counts == {}


def test_template_slots_and_placeholders_are_left_untouched_and_masking_is_idempotent():
    text = (
        "Your order {{Order Number}} ships to {{Delivery Address}}; call {{Customer Support Phone Number}}. "
        "Mine is order 113542617735902, email a@b.co, phone 555-123-4567."
    )
    once = mask_pii(text)
    assert "{{Order Number}}" in once.text and "{{Customer Support Phone Number}}" in once.text
    assert once.text.endswith("order [ORDER_NUMBER], email [EMAIL], phone [PHONE].")
    twice = mask_pii(once.text)
    assert twice.text == once.text
    assert twice.counts == {}


def test_counts_use_lowercase_type_names():
    result = mask_pii("a@b.co, c@d.co, +44 20 7946 0958, order #99887766, 4111 1111 1111 1111")
    assert isinstance(result, MaskResult)
    assert result.counts == {"card_number": 1, "email": 2, "order_number": 1, "phone": 1}
    assert result.masked == 5
    assert set(result.counts) <= {t.lower() for t in PII_TYPES}


def test_context_beats_shape():
    # A Luhn-valid card-shaped number after "order" is the order's id; a 10-digit run after "order" too.
    assert mask_pii("order 4111111111111111").text == "order [ORDER_NUMBER]"
    assert mask_pii("order 5551234567").text == "order [ORDER_NUMBER]"
    assert mask_pii("5551234567").text == "[PHONE]"
    assert mask_pii("113542617735902").text == "[ORDER_NUMBER]"  # Luhn-valid but no card issuer prefix


def test_several_kinds_in_one_message_keep_the_text_between():
    text = "Hi, I'm at 12 Oak Road. Order #55512345 was charged to 4111 1111 1111 1111; mail me at me@x.org!"
    assert mask_pii(text).text == (
        "Hi, I'm at [ADDRESS]. Order #[ORDER_NUMBER] was charged to [CARD_NUMBER]; mail me at [EMAIL]!"
    )


def test_find_pii_spans_are_ordered_and_disjoint():
    text = "email a@b.co or call 555-123-4567 about order 12345678"
    spans = find_pii(text)
    assert [s.type for s in spans] == ["EMAIL", "PHONE", "ORDER_NUMBER"]
    assert all(text[s.start : s.end] == s.value for s in spans)
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))


def test_pii_key_normalises_the_same_value_written_differently():
    def key(text):
        (span,) = find_pii(text)
        return pii_key(span)

    assert key("order #1234-5678") == key("12345678")
    assert key("ORD-55812345") == key("order 55812345")
    assert key("+1 (555) 123-4567") == key("555.123.4567")
    assert key("Jane@Example.com") == key("jane@example.com")
    assert key("4111 1111 1111 1111") == key("4111-1111-1111-1111")
    assert pii_key(PiiSpan("EMAIL", 0, 7, "a@b.com")) != pii_key(PiiSpan("EMAIL", 0, 7, "c@b.com"))


def test_none_and_non_strings_are_handled():
    assert mask_pii(None).text == ""
    assert mask_pii(12345678).text == "[ORDER_NUMBER]"


def test_bitext_order_ids_are_all_masked_and_templates_survive():
    if not BITEXT.exists():
        pytest.skip(f"the Bitext data set is not at {BITEXT}")
    with BITEXT.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    ids = [r for r in rows if r["entity_type"] in ("order_id", "invoice_id")]
    assert len(ids) > 600
    for row in ids:
        masked = mask_pii(row["instruction"]).text
        assert row["entity_value"].lstrip("0") not in masked, row["instruction"]
    for row in rows[:500]:
        masked = mask_pii(row["response"]).text
        assert masked.count("{{") == row["response"].count("{{")
