"""The statement verifier: every content word backed by the facts or generic, colours, product types,
audiences, names, retailers, contradictions, placeholders, unfinished sentences, repetition and brand-voice
rules; including each example from the issue that the old checker let through. Pure Python."""

from decimal import Decimal

import pytest

from ml.engine.grounding import check_copy
from ml.engine.verification import (
    Evidence,
    contradictions,
    placeholders,
    repetitions,
    trim_unfinished,
    unfinished,
    unverified,
    voice_rules,
    voice_violations,
)

CUP = {
    "sku": "SF-0103",
    "title": "Campfire enamel cup",
    "brand": "Northwind",
    "category": "Drinkware",
    "price": "12.00",
    "currency": "USD",
    "attributes": {"colour": "Sand", "material": "enamel-coated steel", "capacity": "350 ml"},
    "description": "Classic speckled enamel cup for coffee by the fire; safe on a camp stove. Colour: sand.",
}
JEANS = {
    "sku": "10009781",
    "title": "SPYKAR Women Blue Super Skinny Fit High-Rise Cropped Jeans",
    "brand": "SPYKAR",
    "category": "Women",
    "price": Decimal("899.00"),
    "currency": "INR",
    "attributes": {"primary_color": "Blue"},
    "description": "Blue coloured wash 5-pocket high-rise cropped jeans, clean look, stretchable.",
}
SHIRT = {
    "sku": "10001",
    "title": "Roadster Men Mustard Yellow Regular Fit Casual Shirt",
    "brand": "Roadster",
    "category": "Men",
    "price": "799",
    "currency": "INR",
    "attributes": {"primary_color": "Mustard"},
    "description": "Mustard yellow casual shirt, has a spread collar, long sleeves, curved hem. Machine wash cold.",
}
FLEECE_CARE = (
    "Wash your fleece in cold water on a gentle cycle. Do not tumble dry. Returns are free within 30 days."
)
DEMO_VOICE = {"dont": ["Invent discounts, prices or sizes", "Never use exclamation marks"]}


def kinds(text, product, **kwargs):
    report = check_copy({"body": text}, product, channel="sms", **kwargs)
    return [(c.kind, c.text) for c in report.unsupported]


# --- the examples the old checker passed ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Buy one, get one free on this cup.", ("term", "free")),
        ("Buy Now at Amazon.", ("retailer", "Amazon")),
        ("Dr. Michael Johnson has personally reviewed this cup.", ("name", "Dr. Michael Johnson")),
        ("This cup is no longer available.", ("term", "longer available")),
    ],
)
def test_invented_offers_people_retailers_and_availability_are_unverified(text, expected):
    assert expected in kinds(text, CUP)


def test_wrong_product_type_in_a_title_is_caught():
    report = check_copy(
        {"title": "Campfire Enchilada", "body": "A speckled enamel cup for coffee by the fire."},
        CUP,
        channel="product_description",
    )
    assert [(c.kind, c.text, c.field) for c in report.unsupported] == [("product_type", "Enchilada", "title")]
    assert not report.approvable


def test_jeans_called_detox_underwear_is_caught():
    found = kinds("Blue Light Smart Detox Underwear for women.", JEANS)
    assert found == [("name", "Light"), ("product_type", "Detox Underwear")]


def test_wrong_colour_is_caught_and_the_right_family_is_backed():
    assert kinds("A red t-shirt for men.", SHIRT) == [("colour", "red")]
    assert kinds("A yellow casual shirt for men.", SHIRT) == []  # mustard backs its family name
    assert kinds("A mustard casual shirt, machine wash cold.", SHIRT) == []


def test_wrong_audience_is_caught():
    assert ("audience", "Men's") in kinds("Men's cropped jeans in blue.", JEANS)
    assert kinds("Cropped jeans for women, in blue.", JEANS) == []


def test_true_paraphrase_of_the_facts_passes():
    report = check_copy(
        {
            "title": "Campfire Enamel Cup in Sand",
            "body": "Meet the classic speckled enamel cup, made for coffee by the fire and safe on a camp stove. "
            "A simple, classic pick for every trip.",
        },
        CUP,
        channel="product_description",
        brand_voice=DEMO_VOICE,
    )
    assert report.approvable, report.to_dict()


def test_glued_words_of_scraped_descriptions_are_split_on_both_sides():
    product = dict(CUP, description="Speckled cup with a handleOne lid included")
    assert kinds("Speckled cup with a handle. One lid included.", product) == []
    assert kinds("A NorthWind cup.", CUP) == []  # the brand, capitalised differently


def test_hashtag_words_are_checked():
    report = check_copy(
        {"body": "A speckled enamel cup for coffee by the fire.", "hashtags": "#CampCoffee #BlackFriday"},
        CUP,
        channel="social_post",
    )
    assert [(c.field, c.text) for c in report.unsupported] == [("hashtags", "BlackFriday")]


# --- contradictions ----------------------------------------------------------------------------------------


def test_polar_contradiction_with_a_source_is_found():
    evidence = Evidence([FLEECE_CARE])
    found = contradictions("Wash your fleece in hot water.", evidence)
    assert [(f.kind, f.reason) for f in found] == [
        ("contradiction", 'says "hot" where the source says "cold"')
    ]
    assert contradictions("Wash your fleece in cold water.", evidence) == []


def test_negation_contradiction_with_a_source_is_found():
    evidence = Evidence([FLEECE_CARE])
    assert contradictions("Tumble dry your fleece.", evidence)[0].kind == "contradiction"
    assert contradictions("Do not tumble dry your fleece.", evidence) == []


def test_free_where_the_source_names_a_fee_is_a_contradiction():
    evidence = Evidence(["Returns cost a fee of 5 dollars within 30 days."])
    assert contradictions("Returns are free within 30 days.", evidence)


def test_contradiction_reaches_copy_through_check_copy():
    report = check_copy({"body": "A mustard casual shirt. Machine wash hot."}, SHIRT, channel="sms")
    assert any(c.kind == "contradiction" for c in report.unsupported)


# --- text defects ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Shop now [insert picture image] today.",
        "Best wishes, [Your Name]",
        "Meet the {product}.",
        "Click <insert link> to buy.",
        "Insert link here to buy.",
        "Sincerely, Your Name",
        "Only XXX left.",
    ],
)
def test_placeholders_are_found(text):
    assert placeholders(text)
    assert not check_copy({"body": text}, CUP, channel="sms").approvable


def test_plain_text_has_no_placeholders():
    assert placeholders("A speckled cup for coffee by the fire.") == []


@pytest.mark.parametrize(
    "text, full_stop, tail",
    [
        ("A speckled cup for coffee by the", False, "for coffee by the"),
        ("A speckled cup for coffee,", False, "speckled cup for coffee,"),
        ("A speckled cup for coff", True, "speckled cup for coff"),
        ("A speckled cup for coffee.", True, ""),
        ("A speckled cup for coffee #camp #coffee", False, ""),
        ("Speckled cup, safe on a camp stove", False, ""),
    ],
)
def test_unfinished_sentences(text, full_stop, tail):
    assert unfinished(text, needs_full_stop=full_stop) == tail


def test_trim_unfinished_keeps_complete_sentences_only():
    assert (
        trim_unfinished("A speckled cup. Safe on a camp stove. It keeps your cof")
        == "A speckled cup. Safe on a camp stove."
    )
    assert trim_unfinished("Safe on a camp stove and") == ""
    assert trim_unfinished("All done!") == "All done!"


def test_unfinished_description_body_is_blocked():
    report = check_copy(
        {
            "title": "Campfire enamel cup",
            "body": "A classic speckled enamel cup for coffee by the fire, safe on a camp stove and",
        },
        CUP,
        channel="product_description",
    )
    assert any("ends mid-sentence" in d for d in report.degenerate)
    assert not report.approvable


def test_empty_title_blocks_a_product_description():
    report = check_copy(
        {"title": "", "body": "A classic speckled enamel cup for coffee by the fire."},
        CUP,
        channel="product_description",
    )
    assert "title is required for product_description" in report.channel_violations


def test_repetitions():
    assert repetitions("Men's Men's Men's cropped jeans") == [(0, 17)]
    assert repetitions("Men's Men's jeans")
    assert repetitions("so so good") == []
    assert repetitions("Blue jeans. Blue jeans look great. Blue jeans look great.")  # the same sentence twice
    assert repetitions("Blue jeans. Cropped and high-rise.") == []


# --- brand voice -------------------------------------------------------------------------------------------


def test_voice_rules_understand_never_rules_in_the_merchants_words():
    rules = voice_rules(
        [
            "Never use exclamation marks",
            "No emoji",
            "Don't mention other shops or websites",
            'Never say "bargain"',
            "Invent discounts",
        ],
        banned_words=["cheap"],
    )
    labels = [label for label, _ in rules]
    assert labels[:4] == ["exclamation marks", "emoji", "other shops or websites", '"bargain"']
    assert "cheap" in labels
    found = voice_violations(["A bargain! Also on Amazon 😀", "Not cheap."], rules)
    assert found == ["exclamation marks", "emoji", "other shops or websites", '"bargain"', "cheap"]
    assert voice_violations(["A speckled cup for coffee."], rules) == []


def test_a_dont_rule_without_never_still_forbids():
    assert voice_violations(["Great cup!"], voice_rules(["Use exclamation marks"])) == ["exclamation marks"]


def test_brand_voice_rules_block_approval_through_check_copy():
    report = check_copy(
        {"body": "A speckled enamel cup for coffee by the fire!"}, CUP, channel="sms", brand_voice=DEMO_VOICE
    )
    assert report.banned == ["exclamation marks"]
    assert not report.approvable


# --- the vocabulary is closed ------------------------------------------------------------------------------


def test_unknown_words_are_unverified_and_grouped_with_their_neighbours():
    evidence = Evidence(["Classic speckled enamel cup"])
    found = unverified("A classic cup with quantum hyperglide coating.", evidence)
    assert [(f.kind, f.text) for f in found] == [("term", "quantum hyperglide coating")]


def test_generic_marketing_words_need_no_facts():
    evidence = Evidence(["Classic speckled enamel cup"])
    assert (
        unverified("Meet the perfect everyday cup: stylish, versatile and a wardrobe staple.", evidence) == []
    )


def test_checkable_properties_are_not_generic():
    evidence = Evidence(["Classic speckled enamel cup"])
    found = [f.text for f in unverified("A lightweight, durable, breathable cup.", evidence)]
    assert found == ["lightweight", "durable", "breathable"]


def test_skipped_spans_are_left_to_the_caller():
    evidence = Evidence(["cup"])
    assert unverified("A titanium cup.", evidence, skip=[(2, 10)]) == []
