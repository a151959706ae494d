"""Chat answers grounded in their sources: the relevant sentences of a source, product-fact answers with the
product's link, and generated text verified sentence by sentence (the invented facts from the issue: hot
water where the care item says cold, an invented return fee, an invented warranty percentage)."""

from ml.engine.chat_grounding import extractive_answer, product_answer, relevant_sentences, verify_answer

CARE = (
    "Wash your fleece in cold water on a gentle cycle. Do not tumble dry. Returns are free within 30 days. "
    "Refunds reach your card in 5 to 7 business days."
)
FLEECE = {
    "title": "Ember fleece pullover",
    "price": "89.00",
    "currency": "USD",
    "stock": 4,
    "attributes": {"sizes": "S-XL", "material": "recycled polyester fleece", "colour": "Rust"},
    "url": "https://shop.example/p/ember",
}


def test_the_relevant_sentences_not_the_whole_item():
    assert relevant_sentences("How should I wash my fleece?", CARE) == [
        "Wash your fleece in cold water on a gentle cycle."
    ]
    assert (
        extractive_answer("How long do refunds take?", CARE)
        == "Refunds reach your card in 5 to 7 business days."
    )
    assert extractive_answer("Do you sell gift cards?", CARE) is None


def test_product_questions_are_answered_from_the_facts_with_the_link():
    assert product_answer("How much is the Ember fleece?", FLEECE) == (
        "The Ember fleece pullover costs 89.00 USD. https://shop.example/p/ember"
    )
    assert product_answer("what sizes and what is it made of", FLEECE) == (
        "About the Ember fleece pullover: It comes in sizes S-XL. It is made of recycled polyester fleece. "
        "https://shop.example/p/ember"
    )
    assert product_answer("Is it in stock?", FLEECE).startswith(
        "About the Ember fleece pullover: It is in stock."
    )
    assert product_answer("Is it good for hiking?", FLEECE) is None


def test_invented_facts_are_dropped_and_supported_ones_kept():
    answer = verify_answer(
        "Wash your fleece in hot water. Returns are free within 30 days. There is a 5% to 7% return fee. "
        "It has an 18% warranty.",
        [CARE],
    )
    assert answer.text == "Returns are free within 30 days."
    assert [why for _, why in answer.dropped] == [
        "not in the sources: hot",
        "not in the sources: fee",
        "number not in the sources: 18",
    ]


def test_negation_contradiction_is_dropped():
    answer = verify_answer("You can tumble dry your fleece.", [CARE])
    assert answer.text == "" and answer.dropped


def test_service_language_needs_no_source():
    assert verify_answer("Happy to help! Returns are free within 30 days.", [CARE]).text == (
        "Happy to help! Returns are free within 30 days."
    )


def test_a_partial_reply_shows_only_complete_verified_sentences():
    partial = verify_answer("Returns are free within 30 days. Refunds reach your", [CARE], finished=False)
    assert partial.text == "Returns are free within 30 days." and partial.dropped == []


def test_nothing_supported_leaves_nothing():
    assert verify_answer("Our fleece is indeed waterproof.", [CARE]).text == ""


def _knowledge(score, body, id=1):
    from ml.engine.chat_grounding import Candidate

    return Candidate("knowledge", id, score, {"title": "t", "body": body})


def test_direct_answer_uses_only_the_best_candidate_and_only_when_confident():
    from ml.engine.chat_grounding import Candidate, direct_answer

    shipping = _knowledge(0.8, "We ship every weekday. Delivery is free over 50 GBP.", id=1)
    returns = _knowledge(0.6, "Delivery of returns is free with the prepaid label.", id=2)
    answer = direct_answer("Is delivery free?", [returns, shipping], min_score=0.5)
    assert answer.text == "Delivery is free over 50 GBP." and answer.mode == "extractive"
    assert answer.source.id == 1
    assert direct_answer("Is delivery free?", [returns, shipping], min_score=0.9) is None
    assert direct_answer("Is delivery free?", [], min_score=0.1) is None
    # The best item has no sentence about the question: no direct answer (the weaker item is not used).
    assert direct_answer("Do you sell gift cards?", [shipping, returns], min_score=0.5) is None
    mug = Candidate(
        "product",
        7,
        0.9,
        {
            "title": "Enamel mug",
            "price": "12.00",
            "currency": "GBP",
            "attributes": {"colour": "sage"},
            "url": "https://x.example/mug",
        },
    )
    product = direct_answer("What colour is the enamel mug?", [shipping, mug], min_score=0.5)
    assert product.mode == "product_facts" and product.text.startswith(
        "About the Enamel mug: Its colour is sage."
    )
    assert direct_answer("Is the enamel mug microwave safe?", [mug], min_score=0.5) is None


def test_a_bare_yes_or_no_and_pleasantries_alone_answer_nothing():
    # "No, no, no!" (SmolLM2 on "Do I pay for return shipping?") has no content word to check, but it is a claim.
    verified = verify_answer("No, no, no! Returns are free within 30 days.", [CARE])
    assert verified.text == "Returns are free within 30 days."
    assert verified.dropped[0][0] == "No, no, no!"
    # Only service language left: nothing the sources say, so nothing is shown (the caller hands off).
    assert verify_answer("Sure, happy to help! Please let me know.", [CARE]).text == ""
    # Words can be checked, a polarity cannot: the model's own yes/no is never shown.
    assert verify_answer("Yes, we give refunds on worn items.", [CARE]).text == ""
    assert verify_answer("Wash your fleece in cold water.", [CARE]).text == "Wash your fleece in cold water."


def test_list_stubs_and_availability_against_stock():
    sources = ["Linen napkins. 12.00 GBP. Out of stock.", CARE]
    # "Here's how it works: 1." (SmolLM2) introduces a list the shopper never sees.
    assert verify_answer("Returns are free within 30 days: 1. 2. 3.", sources).text == ""
    assert verify_answer("They're available for purchase now.", sources).text == ""
    assert (
        verify_answer("The linen napkins are out of stock.", sources).text
        == "The linen napkins are out of stock."
    )


def test_an_item_that_never_mentions_what_is_asked_gives_no_extract():
    from ml.engine.chat_grounding import Candidate, direct_answer

    enamel = (
        "Our enamel mugs are hand wash only. They're fine for warming a drink on a gas hob or camping "
        "stove, but don't heat them empty."
    )
    item = Candidate("knowledge", 1, 0.9, {"title": "Caring for enamelware", "body": enamel})
    teapot = Candidate("product", 2, 0.6, {"title": "Stoneware Teapot", "price": "38.00", "currency": "GBP"})
    # The question names a retrieved product the item never mentions: the item is about something else.
    assert direct_answer("Can I keep the teapot warm on the hob?", [item, teapot], min_score=0.5) is None
    # Half the question's words are not in the item at all: no extract either.
    assert direct_answer("Is the stoneware lid chip resistant?", [item], min_score=0.5) is None
    assert "gas hob" in direct_answer("Can I warm my enamel mug on the hob?", [item], min_score=0.5).text
