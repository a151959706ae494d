"""Copy prompts for a retry (what to do differently after the verifier's findings), few-shot examples from
the merchant's approved pieces, and the fact sheet's Type and Colour lines. Pure Python: no database, no model."""

from decimal import Decimal

import pytest

from ml.engine.grounding import EXAMPLE_PRODUCT_NAME, GroundingReport, check_copy
from ml.engine.prompts import (
    CHANNELS,
    EXAMPLES_CHAR_BUDGET,
    FEEDBACK_CHAR_BUDGET,
    MAX_EXAMPLES,
    build_copy_messages,
    parse_copy_output,
    product_colour,
    product_type,
    with_feedback,
)

KURTA = {
    "sku": "MY-1",
    "title": "Anouk Women Blue Printed Straight Kurta",
    "brand": "Anouk",
    "category": "Women",
    "price": "999",
    "currency": "INR",
    "attributes": {"num_images": "5", "primary_color": "Blue"},
    "description": "Blue printed straight kurta, has a round neck, three-quarter sleeves, straight hem.",
}
JEANS = {
    "title": "Roadster Men Black Slim Fit Jeans",
    "brand": "Roadster",
    "category": "Men",
    "price": "1299",
    "currency": "INR",
    "attributes": {"primary_color": "Black"},
    "description": "Black wash slim fit jeans, mid-rise, clean look, stretchable.",
}
JEANS_COPY = {
    "title": "Roadster Black Slim Fit Jeans",
    "body": "Black slim fit jeans from Roadster, mid-rise and stretchable, with a clean look.",
}
BAG = {
    "title": "DKNY Unisex Black & Grey Printed Medium Trolley Bag",
    "brand": "DKNY",
    "category": "Unisex",
    "price": "11745",
    "currency": "INR",
    "attributes": {},
    "description": "Printed medium trolley bag, secured with a TSA lock, four wheels. Warranty: 5 years.",
}
BAG_COPY = {
    "title": "DKNY Printed Trolley Bag",
    "body": "A black and grey printed trolley bag from DKNY with a TSA lock and four wheels.",
}
VOICE = {"dont": ["Never use exclamation marks"], "banned_words": ["cheap"]}


def request_of(messages):
    return messages[-1]["content"]


def check(fields, product, channel="product_description"):
    return check_copy(fields, product, channel=channel, banned_words=VOICE["banned_words"], brand_voice=VOICE)


# --- the retry prompt -------------------------------------------------------------------------------------


def feedback_lines(messages):
    system = messages[0]["content"]
    return [line[2:] for line in system[system.index(HEADER) :].splitlines() if line.startswith("- ")]


HEADER = "Your last draft for this product could not be used. This time:"


def test_a_retry_says_what_is_true_instead_of_what_was_wrong_and_keeps_the_request_as_it_was():
    draft = {
        "title": "Red Dress",
        "body": "A waterproof red dress from Anouk, now Rs. 499! Buy it on Amazon.",
    }
    report = check(draft, KURTA)
    assert not report.passed
    messages = build_copy_messages(KURTA, channel="product_description")
    retry = with_feedback(messages, report, product=KURTA)

    # Only the system message changes: the request stays worded exactly like the worked example's, which is
    # what keeps a small model in the answer format.
    assert retry[1:] == messages[1:]
    assert retry[0]["content"].startswith(messages[0]["content"] + "\n" + HEADER + "\n- ")
    lines = feedback_lines(retry)
    assert lines[:2] == [
        "The product is a kurta; call it that.",
        "The price is Rs. 999; give no other price.",
    ]
    assert "Do not use exclamation marks." in lines and "Name no shop, website or link." in lines
    assert len(lines) <= 5
    # A small model copies what it is shown: the invented words are not repeated to it.
    for invented in ("Dress", "dress", "499", "Amazon", "waterproof"):
        assert invented not in "\n".join(lines)
    # The input is not changed, and the stored report (a dict) gives the same prompt as the report object.
    assert HEADER not in messages[0]["content"]
    assert with_feedback(messages, report.to_dict(), product=KURTA) == retry


def test_invented_details_get_one_line_per_kind():
    report = check(
        {"body": "A breathable cotton kurta from Anouk in blue with a round neck, loved by 5000 fans."},
        KURTA,
        "sms",
    )
    assert {c.kind for c in report.unsupported} >= {"term", "material", "number"}
    lines = feedback_lines(with_feedback(build_copy_messages(KURTA, channel="sms"), report, product=KURTA))
    assert lines == [
        "Name no material the facts do not name.",
        "Use no number the facts do not give.",
        "Use only words that say what the facts say; add no other details.",
    ]


def test_a_wrong_colour_is_answered_with_the_right_one():
    report = check({"body": "The red Anouk kurta with a round neck, Rs. 999."}, KURTA, "sms")
    assert [c.kind for c in report.unsupported] == ["colour"]
    lines = feedback_lines(with_feedback(build_copy_messages(KURTA, channel="sms"), report, product=KURTA))
    assert lines == ["Its colour is Blue; name no other colour."]
    # Without the product's facts the line still helps, without inventing a colour.
    assert feedback_lines(with_feedback(build_copy_messages(KURTA, channel="sms"), report)) == [
        "Name no colour."
    ]


def test_defects_and_channel_limits_are_fed_back_too():
    body = "Hi [Your Name], our blue Anouk kurta with a round neck is " + "really " * 30 + "for"
    report = check({"body": body}, KURTA, "sms")
    lines = feedback_lines(with_feedback(build_copy_messages(KURTA, channel="sms"), report, product=KURTA))
    assert lines == [
        "Keep the text under 160 characters.",
        "Leave no placeholders, brackets or markup.",
        "End with a complete sentence.",
        "Do not repeat words or phrases.",
    ]
    off_topic = check({"title": "Great pick", "body": "A great pick for every day."}, KURTA)
    lines = feedback_lines(
        with_feedback(build_copy_messages(KURTA, channel="product_description"), off_topic, product=KURTA)
    )
    assert "Say what the product is: a kurta." in lines
    assert "Write at least 50 characters of text." in lines


def test_no_findings_no_change_and_bad_reports_are_ignored():
    messages = build_copy_messages(KURTA, channel="sms")
    clean = check({"body": "The blue Anouk kurta with a round neck, Rs. 999."}, KURTA, "sms")
    assert clean.passed
    assert with_feedback(messages, clean, product=KURTA) == messages
    for report in (
        {},
        None,
        "oops",
        {"unsupported": "x"},
        {"unsupported": ["text", 3]},
        {"passed": False, "degenerate": None},
        {"degenerate": ["something new the checker says"]},
    ):
        assert with_feedback(messages, report) == messages
    # A finding of a kind this module does not know is still an invented detail.
    assert feedback_lines(with_feedback(messages, {"unsupported": [{"text": "x", "kind": "new-kind"}]})) == [
        "Use only words that say what the facts say; add no other details."
    ]
    assert with_feedback([], GroundingReport(degenerate=["the copy is empty"])) == []


def test_at_most_five_lines_the_products_identity_first():
    kinds = ["term", "name", "claim", "material", "number", "retailer", "price", "product_type", "colour"]
    report = GroundingReport.from_dict(
        {
            "unsupported": [
                {"text": k, "kind": k, "field": "body", "start": 0, "end": 1, "reason": "r"} for k in kinds
            ],
            "channel_violations": ["body is 200 characters; sms allows at most 160"],
            "banned": ["exclamation marks"],
        }
    )
    lines = feedback_lines(with_feedback(build_copy_messages(KURTA, channel="sms"), report, product=KURTA))
    assert lines == [
        "The product is a kurta; call it that.",
        "Its colour is Blue; name no other colour.",
        "The price is Rs. 999; give no other price.",
        "Keep the text under 160 characters.",
        "Do not use exclamation marks.",
    ]


@pytest.mark.parametrize("channel", CHANNELS)
def test_feedback_is_clipped_to_its_budget(channel):
    long = "unverified " * 40
    report = {
        "unsupported": [
            {
                "text": long + str(i),
                "kind": "term",
                "field": "body",
                "start": 0,
                "end": 1,
                "reason": "x" * 300,
            }
            for i in range(20)
        ],
        "degenerate": ["y" * 500] * 5,
        "channel_violations": ["z" * 500],
        "banned": ["w" * 200],
    }
    messages = build_copy_messages(KURTA, channel=channel)
    retry = with_feedback(messages, report, product=KURTA)
    added = len(retry[0]["content"]) - len(messages[0]["content"])
    assert 0 < added <= FEEDBACK_CHAR_BUDGET
    assert 1 <= len(feedback_lines(retry)) <= 5 and retry[1:] == messages[1:]
    assert "unverified" not in retry[0]["content"]


def test_feedback_keeps_the_prompt_within_smollm2s_context(smollm2_checkpoint):
    tokenizers = pytest.importorskip("tokenizers")
    tokenizer = tokenizers.Tokenizer.from_file(str(smollm2_checkpoint / "tokenizer.json"))
    report = {
        "unsupported": [{"text": "word " * 30, "kind": "term", "reason": "r " * 100}] * 9,
        "degenerate": ["d " * 200] * 3,
    }
    product = dict(KURTA, description="Blue printed straight kurta. " * 40)
    messages = build_copy_messages(product, channel="email", examples=[(JEANS, JEANS_COPY), (BAG, BAG_COPY)])
    retry = with_feedback(messages, report, product=product)
    tokens = sum(len(tokenizer.encode(m["content"]).ids) + 5 for m in retry)
    assert tokens <= 700  # SmolLM2 reads 8192; this keeps a batch of retries cheap


# --- the fact sheet ---------------------------------------------------------------------------------------


def test_the_fact_sheet_states_the_product_type_and_colour():
    request = request_of(build_copy_messages(KURTA, channel="sms"))
    assert "- Type: kurta\n" in request
    assert "- Colour: Blue\n" in request
    assert "Primary color" not in request  # the colour attribute is the Colour line, not a second line
    assert "5" not in request.split("Description:")[0].split("Price:")[0]  # listing details stay out

    bag = request_of(build_copy_messages(BAG, channel="sms"))
    assert "- Type: trolley bag\n" in bag and "- Colour: black & grey\n" in bag  # from the title


@pytest.mark.parametrize(
    "title, category, kind, colour",
    [
        ("EthnoVogue Women Beige & Grey Kurta Set with Jacket", "Women", "kurta", "beige & grey"),
        ("Men Navy Blue Solid Polo Collar T-shirt", "Men", "t-shirt", "navy blue"),
        ("Track Pants", "", "track pants", ""),
        ("Campfire Enamel Cup", "Camping", "cup", ""),
        ("Sand Enamel Cup", "", "cup", ""),  # "sand" alone is not read as a colour
        ("Hydra 750", "Bottles", "bottles", ""),  # from the category when the title names no type
        ("Gift card", "Vouchers", "", ""),
    ],
)
def test_type_and_colour_come_from_the_product_itself(title, category, kind, colour):
    product = {"title": title, "category": category}
    assert product_type(product) == kind
    assert product_colour(product) == colour
    request = request_of(build_copy_messages(product, channel="sms"))
    assert ("- Type:" in request) == bool(kind)
    assert ("- Colour:" in request) == bool(colour)
    # Whatever the sheet says the product is, the facts back it: copy that repeats it is not flagged.
    if kind:
        assert not [
            c
            for c in check_copy({"body": f"The {title}, a {kind}."}, product, channel="sms").unsupported
            if c.kind == "product_type"
        ]


@pytest.mark.parametrize("channel", CHANNELS)
def test_the_worked_example_has_the_same_fact_lines_as_the_request(channel):
    _, example_request, _, request = build_copy_messages(BAG, channel=channel)

    def labels(text):
        return [line[2:].split(":")[0] for line in text.splitlines() if line.startswith("- ")]

    assert labels(example_request["content"]) == ["Name", "Type", "Colour", "Price", "Description"]
    real = labels(request["content"])
    assert [label for label in real if label in labels(example_request["content"])] == labels(
        example_request["content"]
    )
    assert "- Type: tote\n" in example_request["content"]


# --- few-shot examples from the merchant's approved pieces -------------------------------------------------


def test_approved_examples_replace_the_fictional_one():
    examples = [(JEANS, JEANS_COPY), (BAG, BAG_COPY)]
    assert check(JEANS_COPY, JEANS).passed and check(BAG_COPY, BAG).passed
    messages = build_copy_messages(KURTA, channel="product_description", examples=examples)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert EXAMPLE_PRODUCT_NAME not in "\n".join(m["content"] for m in messages)
    assert messages[2]["content"] == f"Title: {JEANS_COPY['title']}\nBody: {JEANS_COPY['body']}"
    assert parse_copy_output(messages[4]["content"], "product_description") == BAG_COPY
    assert "- Name: Roadster Men Black Slim Fit Jeans" in messages[1]["content"]
    # The example requests are worded exactly like the real one.
    for example in (messages[1], messages[3]):
        assert (
            example["content"].split("Product facts:")[0] == request_of(messages).split("Product facts:")[0]
        )
        assert example["content"].split("\nAnswer in")[1] == request_of(messages).split("\nAnswer in")[1]
    # The real product's facts are the same with or without examples.
    assert request_of(messages) == request_of(build_copy_messages(KURTA, channel="product_description"))
    assert messages[0] == build_copy_messages(KURTA, channel="product_description")[0]


def test_an_example_whose_text_its_facts_do_not_back_is_left_out():
    invented = {
        "title": "Roadster Jeans",
        "body": "Black slim fit jeans from Roadster, now 50% off at Amazon.",
    }
    messages = build_copy_messages(
        KURTA, channel="product_description", examples=[(JEANS, invented), (BAG, BAG_COPY)]
    )
    text = "\n".join(m["content"] for m in messages)
    assert "50% off" not in text and BAG_COPY["body"] in text
    only_bad = build_copy_messages(KURTA, channel="product_description", examples=[(JEANS, invented)])
    assert EXAMPLE_PRODUCT_NAME in only_bad[1]["content"]  # the fictional example stays
    empty = build_copy_messages(KURTA, channel="sms", examples=[(JEANS, {"body": ""})])
    assert EXAMPLE_PRODUCT_NAME in empty[1]["content"]


def test_an_example_shows_the_facts_its_text_needs_or_is_left_out():
    """An example's description is cut to fit its budget, but never below what its text says: the model
    must not learn that an answer may add facts the sheet does not show."""
    filler = "Regular fit with a mid-rise waist and a clean look that goes with anything. " * 8
    jeans = dict(JEANS, description=filler + "Made of stretchable denim with five pockets.")
    fields = {
        "title": "Roadster Black Jeans",
        "body": "Black slim fit jeans from Roadster with five pockets.",
    }
    assert check(fields, jeans).passed  # backed by the end of the full description only
    messages = build_copy_messages(KURTA, channel="product_description", examples=[(jeans, fields)])
    assert EXAMPLE_PRODUCT_NAME in messages[1]["content"]
    short = dict(jeans, description="Made of stretchable denim with five pockets. " + filler)
    shown = build_copy_messages(KURTA, channel="product_description", examples=[(short, fields)])
    assert "five pockets" in shown[1]["content"] and shown[2]["content"].endswith("with five pockets.")


@pytest.mark.parametrize("channel", CHANNELS)
def test_examples_stay_within_their_budget(channel):
    description = "Black wash slim fit jeans, mid-rise, clean look, stretchable. " * 20
    body = {
        "sms": "Black slim fit jeans from Roadster, mid-rise, with a clean look.",
        "ad_headline": "Roadster slim fit jeans",
    }.get(channel, "Black slim fit jeans from Roadster, mid-rise and stretchable, with a clean look. " * 4)
    fields = {
        "title": "Roadster Black Slim Fit Jeans",
        "subject": "Roadster black jeans",
        "body": body,
        "hashtags": "#Roadster #Jeans",
    }
    examples = [
        (dict(JEANS, title=f"Roadster Men Black Slim Fit Jeans {i}", description=description), fields)
        for i in range(6)
    ]
    messages = build_copy_messages(KURTA, channel=channel, examples=examples)
    turns = messages[1:-1]
    assert 2 <= len(turns) <= 2 * MAX_EXAMPLES
    if EXAMPLE_PRODUCT_NAME not in turns[0]["content"]:
        assert sum(len(m["content"]) for m in turns) <= EXAMPLES_CHAR_BUDGET
    assert request_of(messages) == request_of(build_copy_messages(KURTA, channel=channel))


def test_examples_with_odd_values_still_build():
    odd = {
        "title": None,
        "price": Decimal("10.5"),
        "attributes": ["not", "a", "mapping"],
        "description": None,
    }
    messages = build_copy_messages(KURTA, channel="sms", examples=[(odd, {"body": "A thing for 10.5 USD."})])
    assert messages[-1]["role"] == "user" and "- Type: kurta" in request_of(messages)
