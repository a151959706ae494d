"""Grounding checks on generated copy, the facts: prices, numbers and measurements, materials and claims
against the product's data, also on real catalog text. Pure Python: no database, no model. Channel limits,
degenerate text and banned words are in test_grounding_channels.py."""

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from ml.engine.grounding import CLAIM_KINDS, EXAMPLE_PRODUCT_NAME, FACT_KINDS, check_copy
from tests.ml.engine.grounding_data import BOTTLE, body

MYNTRA = Path(__file__).resolve().parents[3].parent / "shared" / "datasets" / "myntra_fashion_catalog"
KURTA = {
    "sku": "10016283",
    "title": "EthnoVogue Women Beige Kurta Set with Dupatta",
    "brand": "EthnoVogue",
    "category": "Women",
    "price": "1299.00",
    "currency": "INR",
    "attributes": {"primary_color": "Beige", "fabric": "100% cotton", "sizes": "S, M, L, XL"},
    "description": "Beige calf length kurta, has a V-neck, three-quarter sleeves, 2 pockets.",
}


def fact_claims(report):
    """What the fact extractors found (this module tests them; the statement verifier has its own tests)."""
    return [c for c in report.unsupported if c.kind in FACT_KINDS]


def unsupported(report):
    return [(c.kind, c.text) for c in fact_claims(report)]


# --- prices ---------------------------------------------------------------------------------------------


def test_invented_price_is_flagged_with_offsets_into_its_field():
    text = "The Hydra bottle, now only $19.99 while it lasts."
    report = body(text)
    assert len(fact_claims(report)) == 1
    claim = fact_claims(report)[0]
    assert (claim.kind, claim.text, claim.field) == ("price", "$19.99", "body")
    assert text[claim.start : claim.end] == "$19.99"
    assert "24.90" in claim.reason
    assert not report.approvable and not report.passed


def test_offsets_point_into_the_field_that_holds_the_claim():
    fields = {"subject": "Cold for 24 hours", "body": "Meet the Hydra: 750 ml of cold water for €30."}
    report = check_copy(fields, BOTTLE, channel="email")
    [claim] = fact_claims(report)
    assert claim.field == "body" and fields["body"][claim.start : claim.end] == "€30"


@pytest.mark.parametrize(
    "text",
    [
        "Yours for $24.90.",
        "Yours for $24.9.",
        "Yours for USD 24.90.",
        "Yours for 24.90 USD.",
        "Yours for US$24.90.",
        "Yours for 24.90 dollars.",
        "Only 24.90!",
    ],
)
def test_the_real_price_is_supported_in_any_format(text):
    assert fact_claims(body(text)) == []


@pytest.mark.parametrize(
    "text", ["Rs. 1,299 only", "₹1299", "INR 1,299.00", "1299 INR", "Rs 1299/-", "just 1299 rupees"]
)
def test_rupee_prices_in_indian_formats(text):
    assert fact_claims(body(text, KURTA)) == []


def test_price_without_trailing_zero_cents_is_the_price_but_a_rounded_price_is_not():
    whole = dict(BOTTLE, price="25.00")
    assert fact_claims(body("Just $25.", whole)) == []
    assert unsupported(body("Just $25.")) == [("price", "$25")]  # 24.90 is not "$25"


def test_right_amount_in_the_wrong_currency_is_flagged():
    report = body("Just €24.90 or £24.90.")
    assert [c.kind for c in fact_claims(report)] == ["price", "price"]
    assert "USD" in fact_claims(report)[0].reason


def test_amounts_in_comma_and_indian_grouping():
    product = dict(BOTTLE, price="129999", currency="INR")
    assert fact_claims(body("Rs. 1,29,999 and ₹129,999", product)) == []
    assert unsupported(body("₹1,19,999", product)) == [("price", "₹1,19,999")]


# --- numbers, measurements, percentages -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "750ml of water",
        "750 ml of water",
        "750-ml bottle",
        "0.75 l of water",
        "0.75 litres",
        "cold for 24h",
        "cold for 24 hours",
        "cold for 1 day",
        "hot for 12 hrs",
        "weighs 340g",
        "weighs 0.34 kg",
        "a 2-year warranty",
        "a two-year warranty",
        "warranty: 24 months",
    ],
)
def test_measurements_match_the_data_after_normalising(text):
    assert fact_claims(body(text)) == []


@pytest.mark.parametrize(
    "text, flagged",
    [
        ("holds 1 litre", ("measurement", "1 litre")),
        ("cold for 48 hours", ("measurement", "48 hours")),
        ("a 5-year warranty", ("measurement", "5-year")),
        ("weighs just 200 g", ("measurement", "200 g")),
        ("a 3-pack", ("measurement", "3-pack")),
        ("pack of 2", ("measurement", "pack of 2")),
    ],
)
def test_invented_measurements_are_flagged(text, flagged):
    assert unsupported(body(text)) == [flagged]


def test_measurement_from_an_attribute_key_that_names_the_unit():
    product = dict(BOTTLE, title="Hydra bottle", attributes={"capacity_ml": "750"}, description="")
    assert fact_claims(body("A roomy 750 ml bottle", product)) == []
    assert unsupported(body("A roomy 500 ml bottle", product)) == [("measurement", "500 ml")]


def test_ranges_and_dimensions_need_every_number():
    product = dict(BOTTLE, description="Box measures 30 x 20 x 10 cm. Ready in 2-3 days.")
    assert fact_claims(body("30 x 20 x 10 cm, ready in 2 to 3 days", product)) == []
    assert unsupported(body("30 x 25 x 10 cm", product)) == [("measurement", "30 x 25 x 10 cm")]


def test_numbers_in_the_description_and_title_are_supported():
    assert (
        fact_claims(body("Two pockets? No: 2 pockets, and a 750 bottle.", KURTA | {"title": "Bottle 750"}))
        == []
    )


def test_bare_numbers_not_in_the_data_are_flagged():
    report = body("Join 10,000 happy hikers in 2024.")
    assert unsupported(report) == [("number", "10,000"), ("number", "2024")]


def test_spelled_out_numbers_without_a_unit_are_harmless():
    assert fact_claims(body("One bottle, one promise: cold water all day.")) == []


def test_stock_and_sku_are_not_facts_to_repeat():
    assert unsupported(body("Only 17 left!")) == [("number", "17")]


def test_percentages_and_discounts():
    assert fact_claims(body("100% cotton, the real thing.", KURTA)) == []
    report = body("Get 20% off today, 50 percent of our fans agree.")
    assert unsupported(report) == [("percentage", "20% off"), ("percentage", "50 percent")]
    assert "discount" in fact_claims(report)[0].reason


def test_letter_sizes_must_be_in_the_data():
    assert fact_claims(body("Available in XL.", KURTA)) == []
    assert unsupported(body("Available up to 3XL.", KURTA)) == [("measurement", "3XL")]


# --- materials and claims -------------------------------------------------------------------------------


def test_invented_material_is_flagged():
    report = body("Stainless steel body with a genuine leather strap.")
    assert unsupported(report) == [("material", "leather")]
    assert "stainless steel" in fact_claims(report)[0].reason


def test_general_material_is_backed_by_a_specific_one_but_not_the_reverse():
    assert fact_claims(body("Tough steel, built to last.")) == []
    plain_steel = dict(BOTTLE, attributes={"material": "steel"})
    assert unsupported(body("Stainless steel body.", plain_steel)) == [("material", "Stainless steel")]


def test_faux_leather_does_not_back_leather():
    bag = dict(BOTTLE, title="Tote bag", attributes={"material": "PU leather"}, description="Roomy tote.")
    assert fact_claims(body("A faux leather tote.", bag)) == []
    assert unsupported(body("A leather tote.", bag)) == [("material", "leather")]


@pytest.mark.parametrize(
    "text, flagged",
    [
        ("A refreshing bottle made from fresh sea salt that adds flavour.", ("material", "fresh sea salt")),
        ("Crafted out of ocean driftwood and care.", ("material", "ocean driftwood")),
        ("Made of the finest bamboo fibre.", ("material", "bamboo")),  # a known material is checked as one
    ],
)
def test_invented_made_of_phrases_are_flagged(text, flagged):
    assert flagged in unsupported(body(text))


@pytest.mark.parametrize(
    "text",
    [
        "Made of stainless steel, so it lasts.",
        "Made from double-wall vacuum insulated steel.",
        "Made of love, for long days outside.",
        "Made with two walls and a BPA-free lid.",  # "made with" introduces features, not what it is made of
        "Made from a blend of stainless steel.",
    ],
)
def test_made_of_phrases_backed_by_the_data_or_figurative_are_fine(text):
    assert fact_claims(body(text)) == []


def test_material_free_claims_are_not_materials():
    assert ("material", "plastic") not in unsupported(body("Plastic-free packaging."))


@pytest.mark.parametrize(
    "text, claim",
    [
        ("Get 20% off this week", ("percentage", "20% off")),
        ("Free shipping on every order", ("claim", "Free shipping")),
        ("Backed by a lifetime warranty", ("claim", "lifetime warranty")),
        ("Our best-selling bottle", ("claim", "best-selling")),
        ("The #1 bottle for hikers", ("claim", "#1")),
        ("Award-winning design", ("claim", "Award-winning")),
        ("Made from organic materials", ("claim", "organic")),
        ("Fully waterproof", ("claim", "waterproof")),
        ("Made in Italy", ("claim", "Made in Italy")),
        ("100% recycled steel", ("percentage", "100%")),
        ("On sale now", ("claim", "On sale")),
        ("See www.example.net for more", ("claim", "www.example.net")),
        # Ranking claims the studio's copy made (bench/grounding/labels/studio-part-a.jsonl), both apostrophes.
        ("Meet the world’s most luxurious leather bottles.", ("claim", "world’s most")),
        ("The world's finest bottle.", ("claim", "world's finest")),
    ],
)
def test_invented_claims_are_flagged(text, claim):
    assert claim in unsupported(body(text))


def test_claims_stated_in_the_data_are_supported():
    assert fact_claims(body("BPA-free and vacuum insulated, with a 2-year warranty.")) == []
    product = dict(BOTTLE, description="Waterproof shell. Lifetime warranty. Free shipping in the US.")
    assert (
        fact_claims(body("Water-resistant, free shipping, warranty for life: lifetime warranty.", product))
        == []
    )


def test_the_products_own_link_is_allowed():
    assert fact_claims(body("Shop: https://shop.example/p/hb-750")) == []


def test_copy_that_names_the_prompts_example_product_is_flagged():
    assert unsupported(body(f"Meet the {EXAMPLE_PRODUCT_NAME} tote!")) == [("claim", EXAMPLE_PRODUCT_NAME)]
    nova = dict(BOTTLE, brand=EXAMPLE_PRODUCT_NAME)
    assert fact_claims(body(f"Meet the {EXAMPLE_PRODUCT_NAME} bottle!", nova)) == []


def test_hashtags_are_checked_too():
    report = check_copy(
        {"body": "Cold water, warm hearts.", "hashtags": "#hydra #vegan #sale2024"},
        BOTTLE,
        channel="social_post",
    )
    assert [(c.field, c.text) for c in fact_claims(report)] == [("hashtags", "vegan"), ("hashtags", "2024")]


def test_true_copy_passes():
    fields = {
        "title": "Hydra Insulated Bottle 750ml",
        "body": "Meet the Hydra: a 750 ml stainless steel bottle that keeps drinks cold for 24 hours and hot for "
        "12. The BPA-free lid fits most cup holders, and a 2-year warranty has your back. $24.90.",
    }
    report = check_copy(fields, BOTTLE, channel="product_description")
    assert report.passed and report.approvable, report.to_dict()


def test_every_claim_kind_is_one_the_review_page_knows():
    text = (
        "$5, 20% off, 3 pockets, 2 litres, XXL, leather, waterproof, made in Peru, www.x.example, "
        f"{EXAMPLE_PRODUCT_NAME}, grapefruit, red, underwear, for men, at Amazon, ask Doctor Smith. "
        "The lid is not BPA-free."
    )
    kinds = {c.kind for c in body(text).unsupported}
    assert kinds == set(CLAIM_KINDS)


# --- real catalog copy ----------------------------------------------------------------------------------


def _myntra_products(limit):
    path = MYNTRA / "myntra_products_catalog.csv"
    if not path.exists():
        pytest.skip(f"{MYNTRA} is not here (shared datasets are not checked out)")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [row for _, row in zip(range(limit), csv.DictReader(handle))]
    products = []
    for row in rows:  # the same mapping the catalog import makes of this file
        attributes = {"num_images": row["NumImages"]}
        if row["PrimaryColor"].strip():
            attributes["primary_color"] = row["PrimaryColor"].strip()
        products.append(
            {
                "sku": row["ProductID"],
                "title": row["ProductName"],
                "brand": row["ProductBrand"],
                "category": row["Gender"],
                "price": Decimal(row["Price (INR)"]).quantize(Decimal("0.01")),
                "currency": "INR",
                "attributes": attributes,
                "description": row["Description"],
            }
        )
    return products


def test_real_descriptions_are_grounded_in_their_own_data():
    products = _myntra_products(20)
    flagged = []
    for product in products:
        report = check_copy(
            {"title": product["title"], "body": product["description"]},
            product,
            channel="product_description",
        )
        if fact_claims(report):
            flagged.append((product["sku"], [(c.kind, c.text) for c in fact_claims(report)]))
    print(f"{len(flagged)} of {len(products)} real descriptions flagged: {flagged}")
    assert len(flagged) <= 2


def test_real_descriptions_checked_against_another_product_are_caught():
    """The checker is not vacuous on real text: copy about one product, checked against the next product's data,
    is flagged for most products whose copy states any fact (materials, sizes, numbers, warranties)."""
    products = _myntra_products(40)
    flagged = sum(
        bool(check_copy({"body": a["description"]}, b, channel="product_description").unsupported)
        for a, b in zip(products, products[1:] + products[:1])
    )
    print(f"{flagged} of {len(products)} descriptions flagged against another product's data")
    assert flagged >= len(products) // 3
