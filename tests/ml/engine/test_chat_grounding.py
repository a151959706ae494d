"""Chat answers grounded in their sources: the relevant sentences of a source, product-fact answers with the
product's link, and generated text verified sentence by sentence (the invented facts from the issue: hot
water where the care item says cold, an invented return fee, an invented warranty percentage)."""

from ml.engine.chat_grounding import extractive_answer, product_answer, relevant_sentences, verify_answer

CARE = ("Wash your fleece in cold water on a gentle cycle. Do not tumble dry. Returns are free within 30 days. "
        "Refunds reach your card in 5 to 7 business days.")
FLEECE = {"title": "Ember fleece pullover", "price": "89.00", "currency": "USD", "stock": 4,
          "attributes": {"sizes": "S-XL", "material": "recycled polyester fleece", "colour": "Rust"},
          "url": "https://shop.example/p/ember"}


def test_the_relevant_sentences_not_the_whole_item():
    assert relevant_sentences("How should I wash my fleece?", CARE) == ["Wash your fleece in cold water on a gentle cycle."]
    assert extractive_answer("How long do refunds take?", CARE) == "Refunds reach your card in 5 to 7 business days."
    assert extractive_answer("Do you sell gift cards?", CARE) is None


def test_product_questions_are_answered_from_the_facts_with_the_link():
    assert product_answer("How much is the Ember fleece?", FLEECE) == (
        "The Ember fleece pullover costs 89.00 USD. https://shop.example/p/ember")
    assert product_answer("what sizes and what is it made of", FLEECE) == (
        "About the Ember fleece pullover: It comes in sizes S-XL. It is made of recycled polyester fleece. "
        "https://shop.example/p/ember")
    assert product_answer("Is it in stock?", FLEECE).startswith("About the Ember fleece pullover: It is in stock.")
    assert product_answer("Is it good for hiking?", FLEECE) is None


def test_invented_facts_are_dropped_and_supported_ones_kept():
    answer = verify_answer(
        "Wash your fleece in hot water. Returns are free within 30 days. There is a 5% to 7% return fee. "
        "It has an 18% warranty.", [CARE])
    assert answer.text == "Returns are free within 30 days."
    assert [why for _, why in answer.dropped] == [
        "not in the sources: hot", "not in the sources: fee", "number not in the sources: 18"]


def test_negation_contradiction_is_dropped():
    answer = verify_answer("You can tumble dry your fleece.", [CARE])
    assert answer.text == "" and answer.dropped


def test_service_language_needs_no_source():
    assert verify_answer("Happy to help! Returns are free within 30 days.", [CARE]).text == (
        "Happy to help! Returns are free within 30 days.")


def test_a_partial_reply_shows_only_complete_verified_sentences():
    partial = verify_answer("Returns are free within 30 days. Refunds reach your", [CARE], finished=False)
    assert partial.text == "Returns are free within 30 days." and partial.dropped == []


def test_nothing_supported_leaves_nothing():
    assert verify_answer("Our fleece is indeed waterproof.", [CARE]).text == ""
