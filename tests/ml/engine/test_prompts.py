"""Copy prompts and parsing of the model's replies. Pure Python: no database, no model (one test counts tokens
with the real SmolLM2 tokenizer when it has been provisioned)."""

from decimal import Decimal

import pytest

from ml.engine.grounding import CHANNEL_FIELDS, EXAMPLE_PRODUCT_NAME, check_copy
from ml.engine.prompts import CHANNELS, LENGTHS, PROMPT_CHAR_BUDGET, build_copy_messages, parse_copy_output

BOTTLE = {
    "sku": "HB-750",
    "title": "Hydra Insulated Bottle 750ml",
    "brand": "Hydra",
    "category": "Drinkware",
    "price": Decimal("24.90"),
    "currency": "USD",
    "attributes": {
        "capacity": "750 ml",
        "material": "stainless steel",
        "colour": "Forest green",
        "image_url": "https://cdn.example/hb.jpg",
    },
    "description": "Double-wall vacuum insulated bottle that keeps drinks cold for 24 hours. BPA-free lid.",
    "stock": 17,
    "url": "https://shop.example/p/hb-750",
}
VOICE = {
    "tone_words": ["warm", "playful"],
    "audience": "weekend hikers",
    "do": ["mention the capacity"],
    "dont": ["use exclamation marks"],
    "banned_words": ["cheap", "deal"],
    "examples": [
        "Cold water, warm hearts. The Hydra goes where you go.",
        "Second example.",
        "Third example.",
    ],
}


def prompt_text(messages):
    return "\n".join(m["content"] for m in messages)


# --- building ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", CHANNELS)
def test_messages_carry_every_fact_and_the_brand_voice(channel):
    messages = build_copy_messages(BOTTLE, channel=channel, tone="upbeat", brand_voice=VOICE)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert all(isinstance(m["content"], str) and m["content"] for m in messages)
    text = prompt_text(messages)
    for fact in (
        "Hydra Insulated Bottle 750ml",
        "Hydra",
        "Drinkware",
        "$24.90",
        "750 ml",
        "stainless steel",
        "Forest green",
        "keeps drinks cold for 24 hours",
        "BPA-free lid",
    ):
        assert fact in text
    for voice in (
        "warm",
        "playful",
        "weekend hikers",
        "mention the capacity",
        "use exclamation marks",
        "cheap",
        "deal",
        "Cold water, warm hearts",
        "upbeat",
    ):
        assert voice in text
    assert "Third example" not in text  # at most two examples
    # Listing details and stale facts are not product facts.
    for not_a_fact in ("cdn.example", "HB-750", "17", "shop.example"):
        assert not_a_fact not in text


@pytest.mark.parametrize(
    "channel, answer_format, limit",
    [
        ("product_description", "Title: <", "50 to 1200 characters"),
        ("email", "Subject: <", "Subject: at most 60 characters"),
        ("sms", "SMS: <", "160 characters"),
        ("social_post", "Hashtags: <", "5 hashtags"),
        ("ad_headline", "Headline: <", "40 characters"),
    ],
)
def test_messages_name_the_answer_format_and_the_hard_limit(channel, answer_format, limit):
    system, example_request, _, request = build_copy_messages(BOTTLE, channel=channel)
    assert limit in system["content"]
    assert answer_format in request["content"]
    # The example request is worded exactly like the real one (a 135M model follows the format only then).
    assert (
        example_request["content"].split("Product facts:")[0] == request["content"].split("Product facts:")[0]
    )
    assert example_request["content"].split("\nAnswer in")[1] == request["content"].split("\nAnswer in")[1]


@pytest.mark.parametrize("channel", CHANNELS)
def test_the_worked_example_shows_the_format_and_uses_only_its_own_facts(channel):
    """The example turn is what makes a 135M model answer in the channel's format; its answer must itself pass
    grounding against the example's facts and the channel's limits."""
    _, example_request, example_answer, request = build_copy_messages(BOTTLE, channel=channel)
    assert (
        EXAMPLE_PRODUCT_NAME in example_request["content"] and EXAMPLE_PRODUCT_NAME not in request["content"]
    )
    example_product = {
        "title": f"{EXAMPLE_PRODUCT_NAME} Canvas Tote",
        "brand": EXAMPLE_PRODUCT_NAME,
        "price": "35",
        "currency": "USD",
        "attributes": {"colour": "navy", "material": "canvas"},
        "description": "Roomy tote, two inner pockets.",
    }
    fields = parse_copy_output(example_answer["content"], channel)
    assert all(fields.values()), fields
    report = check_copy(fields, example_product, channel=channel)
    assert report.approvable, report.to_dict()
    # Copy that borrows the example's name for another product is caught.
    assert not check_copy(fields, BOTTLE, channel=channel).approvable


def test_price_is_written_the_way_customers_read_it():
    assert "Price: Rs. 1299" in prompt_text(
        build_copy_messages(dict(BOTTLE, price="1299.00", currency="INR"), channel="sms")
    )
    assert "Price: €9.5" in prompt_text(
        build_copy_messages(dict(BOTTLE, price=9.5, currency="EUR"), channel="sms")
    )
    assert "Price: 30 CHF" in prompt_text(
        build_copy_messages(dict(BOTTLE, price="30", currency="CHF"), channel="sms")
    )


def test_tone_length_language_and_customer():
    text = prompt_text(
        build_copy_messages(
            BOTTLE,
            channel="email",
            tone="urgent",
            length="short",
            language="hi",
            customer={"first_name": "Priya", "email": "p@example.com", "interests": ["hiking", "yoga"]},
        )
    )
    assert "Hindi" in text and "urgent" in text and "2 to 3 sentences" in text
    assert "Priya" in text and "hiking, yoga" in text and "p@example.com" not in text
    long_text = prompt_text(build_copy_messages(BOTTLE, channel="product_description", length="long"))
    assert "5 to 7 sentences" in long_text


def test_campaign_goal_steers_the_request_and_is_clipped():
    text = prompt_text(
        build_copy_messages(BOTTLE, channel="sms", goal="Back-to-trail week: lead with hiking")
    )
    assert "Campaign goal: Back-to-trail week: lead with hiking." in text
    assert "Campaign goal" not in prompt_text(build_copy_messages(BOTTLE, channel="sms", goal="   "))
    long_goal = "Remind weekend hikers why a cold drink matters " * 20
    clipped = prompt_text(build_copy_messages(BOTTLE, channel="sms", goal=long_goal))
    assert "Campaign goal: Remind weekend hikers" in clipped and long_goal.strip() not in clipped


def test_glued_scraped_sentences_are_split_for_the_model():
    product = dict(BOTTLE, description="Secured with a TSA lockOne handle on the topWarranty: 5 years")
    text = prompt_text(build_copy_messages(product, channel="product_description"))
    assert "TSA lock. One handle on the top. Warranty: 5 years" in text


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown channel"):
        build_copy_messages(BOTTLE, channel="fax")
    with pytest.raises(ValueError, match="unknown length"):
        build_copy_messages(BOTTLE, channel="sms", length="epic")
    assert LENGTHS == ("short", "medium", "long")


def test_minimal_product_still_builds():
    messages = build_copy_messages({"title": "Mug", "price": None}, channel="sms")
    assert "- Name: Mug" in messages[-1]["content"] and "Price" not in messages[-1]["content"]


def huge_inputs():
    words = ["light", "roomy", "bottle", "keeps", "water", "cold", "on", "long", "summer", "hikes"]
    text = " ".join(words[i % len(words)] for i in range(400))
    product = dict(
        BOTTLE, title=text[:600], description=text, attributes={f"detail_{i}": text[:300] for i in range(30)}
    )
    voice = {
        "tone_words": [f"tone{i}" for i in range(30)],
        "audience": text[:800],
        "do": [text[:200]] * 10,
        "dont": [text[:200]] * 10,
        "banned_words": ["cheap", "deal"],
        "examples": [text] * 5,
    }
    return product, voice


@pytest.mark.parametrize("channel", CHANNELS)
def test_prompt_stays_within_the_character_budget(channel):
    product, voice = huge_inputs()
    messages = build_copy_messages(
        product,
        channel=channel,
        brand_voice=voice,
        customer={"name": "N " * 100},
        goal="Clear out the summer range before autumn " * 10,
    )
    assert len(prompt_text(messages)) <= PROMPT_CHAR_BUDGET
    text = prompt_text(messages)
    assert "cheap" in text and "deal" in text  # banned words survive every cut
    assert "Answer in this format" in text


def test_prompt_stays_about_350_smollm2_tokens(smollm2_checkpoint):
    tokenizers = pytest.importorskip("tokenizers")
    tokenizer = tokenizers.Tokenizer.from_file(str(smollm2_checkpoint / "tokenizer.json"))
    product, voice = huge_inputs()
    for channel in CHANNELS:
        for messages in (
            build_copy_messages(product, channel=channel, brand_voice=voice),
            build_copy_messages(BOTTLE, channel=channel, brand_voice=VOICE),
        ):
            # The chat template adds about 5 tokens per message.
            tokens = sum(len(tokenizer.encode(m["content"]).ids) + 5 for m in messages)
            assert tokens <= 390, (channel, tokens)  # "about 360": 350 before the fact sheet's Type lines


# --- parsing ----------------------------------------------------------------------------------------------


def test_clean_labelled_outputs():
    assert parse_copy_output(
        "Title: Hydra Bottle\nBody: Cold water all day long.", "product_description"
    ) == {"title": "Hydra Bottle", "body": "Cold water all day long."}
    assert parse_copy_output("Subject: Stay cool\nBody: Hi Priya,\n\nMeet the Hydra.", "email") == {
        "subject": "Stay cool",
        "body": "Hi Priya,\n\nMeet the Hydra.",
    }
    assert parse_copy_output("SMS: Hydra 750 ml, cold 24h. $24.90", "sms") == {
        "body": "Hydra 750 ml, cold 24h. $24.90"
    }
    assert parse_copy_output("Post: Cold water, warm hearts.\nHashtags: #hydra #hiking", "social_post") == {
        "body": "Cold water, warm hearts.",
        "hashtags": "#hydra #hiking",
    }
    assert parse_copy_output("Headline: Cold for 24 hours", "ad_headline") == {"body": "Cold for 24 hours"}


def test_chatter_markdown_and_quotes_are_removed():
    raw = (
        "Sure! Here is a product description for the Hydra bottle:\n\n"
        '**Title:** "Hydra Insulated Bottle"\n'
        "**Body:** Keep it **cold** for *24 hours* with the [Hydra](https://shop.example/p/hb-750).\n\n"
        "I hope this helps! Let me know if you want changes."
    )
    assert parse_copy_output(raw, "product_description") == {
        "title": "Hydra Insulated Bottle",
        "body": "Keep it cold for 24 hours with the Hydra.",
    }


def test_unlabelled_email_uses_a_short_first_line_as_subject():
    raw = "Stay cool on every trail\n\nHi Priya,\nThe Hydra keeps water cold for 24 hours.\n"
    assert parse_copy_output(raw, "email") == {
        "subject": "Stay cool on every trail",
        "body": "Hi Priya,\nThe Hydra keeps water cold for 24 hours.",
    }


def test_unlabelled_email_starting_with_a_greeting_has_no_subject():
    raw = "Dear Priya,\n\nThe Hydra keeps water cold for 24 hours."
    fields = parse_copy_output(raw, "email")
    assert fields == {"subject": "", "body": "Dear Priya,\n\nThe Hydra keeps water cold for 24 hours."}
    assert "subject is required for email" in check_copy(fields, BOTTLE, channel="email").channel_violations


def test_unlabelled_description_is_all_body():
    raw = "The Hydra keeps water cold for 24 hours. Its lid is BPA-free."
    assert parse_copy_output(raw, "product_description") == {"title": "", "body": raw}


def test_title_label_followed_by_unlabelled_body():
    raw = "Title: Hydra Bottle\nThe Hydra keeps water cold.\nIt fits cup holders."
    assert parse_copy_output(raw, "product_description") == {
        "title": "Hydra Bottle",
        "body": "The Hydra keeps water cold.\nIt fits cup holders.",
    }


def test_labels_on_one_line_and_other_label_names():
    assert parse_copy_output("Subject line: Cold water Body: Meet the Hydra.", "email") == {
        "subject": "Cold water",
        "body": "Meet the Hydra.",
    }
    assert parse_copy_output("Product name: Hydra\nDescription: Cold all day.", "product_description") == {
        "title": "Hydra",
        "body": "Cold all day.",
    }
    assert parse_copy_output("Caption: Trail ready.\nTags: hydra, trail life", "social_post") == {
        "body": "Trail ready.",
        "hashtags": "#hydra #traillife",
    }


def test_social_post_trailing_hashtags_move_to_the_hashtags_field():
    raw = "Cold water, warm hearts with the #Hydra bottle.\n\n#hiking #outdoors #Hiking"
    assert parse_copy_output(raw, "social_post") == {
        "body": "Cold water, warm hearts with the #Hydra bottle.",
        "hashtags": "#hiking #outdoors",
    }


def test_sms_is_one_line_and_trimmed_at_a_word_when_slightly_over():
    raw = (
        "Text message:\n"
        + "Hydra keeps your water icy cold for a full day on the trail and beyond. " * 2
        + "Shop now"
    )
    body = parse_copy_output(raw, "sms")["body"]
    assert "\n" not in body and len(body) <= 160
    assert raw.replace("Text message:\n", "").startswith(body) and not body.endswith((" ", ","))
    way_over = "word " * 60
    assert parse_copy_output(way_over, "sms")["body"] == way_over.strip()  # left for the grounding check


def test_ad_headline_takes_the_first_line_and_trims_dangling_words():
    assert parse_copy_output('"Cold for 24 hours"\nAnother option: Hot for 12', "ad_headline") == {
        "body": "Cold for 24 hours"
    }
    trimmed = parse_copy_output("Headline: Stay cool with icy water on all the trails", "ad_headline")["body"]
    assert trimmed == "Stay cool with icy water on all"  # not "... on all the"


def test_subject_slightly_over_is_trimmed():
    subject = parse_copy_output(
        "Subject: " + "Stay cool and hydrated on every single trail this summer, Priya\nBody: Hi.", "email"
    )["subject"]
    assert len(
        subject
    ) <= 60 and subject == "Stay cool and hydrated on every single trail this summer,".rstrip(",")


def test_chat_template_residue_and_a_second_turn_are_cut():
    raw = "Body: Cold water for every trail.<|im_end|>\n<|im_start|>user\nAnother one please"
    assert parse_copy_output(raw, "sms") == {"body": "Cold water for every trail."}
    assert parse_copy_output("<|im_start|>assistant\nSMS: Hydra, cold all day.", "sms") == {
        "body": "Hydra, cold all day."
    }


def test_empty_and_garbage_replies_give_empty_fields():
    for channel in CHANNELS:
        assert parse_copy_output("", channel) == {name: "" for name in CHANNEL_FIELDS[channel]}
    assert parse_copy_output("Sure! Here is your email:", "email") == {"subject": "", "body": ""}


def test_talk_in_the_middle_of_the_copy_is_kept_so_its_claims_are_checked():
    raw = "Subject: Meet the Hydra\nBody: Hello,\nPlease note that stock is limited: 20% off today only.\nCheers"
    assert parse_copy_output(raw, "email")["body"] == (
        "Hello,\nPlease note that stock is limited: 20% off today only.\nCheers"
    )


def test_copy_that_starts_like_chatter_is_kept():
    assert parse_copy_output("Here's to cold water on warm days.", "sms") == {
        "body": "Here's to cold water on warm days."
    }


def test_unknown_channel_is_an_error():
    with pytest.raises(ValueError, match="unknown channel"):
        parse_copy_output("x", "fax")
