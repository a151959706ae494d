"""Grounding checks for generated marketing copy: is every fact in the text backed by the product's data?

Standard library only (the web process re-checks a piece after every edit). Public API:

    check_copy(fields, product, *, channel, banned_words=(), prompt="") -> GroundingReport
    GroundingReport(unsupported, channel_violations, degenerate, banned) (+ .passed, .approvable,
        .to_dict(), .from_dict()); Claim(text, kind, field, start, end, reason)
    CHANNELS, CHANNEL_FIELDS, CHANNEL_LIMITS, CLAIM_KINDS, EXAMPLE_PRODUCT_NAME, hashtag_list(text)
    distinct_n(texts, n=2), duplicate_rate(texts) for the campaign quality benchmark

What counts as supported. The product's facts are its title, brand, category, description, attribute keys
and values, price and currency (not SKU, stock or URL: a model repeating a stock level or an id is making a
claim that goes stale). The text and the facts go through the same extractors, so a fact is supported when
the same normalised fact is found in the product data:
- price (a currency amount): equal to the product price (24.9 == 24.90; 25 == 25.00, but 25 != 24.90) in a
  compatible currency ($ is any dollar, Rs/INR/₹ are rupees), or equal to an amount the data itself states;
- percentage: the same percentage appears in the data ("100% cotton"); "20% off" is reported as a discount;
- measurement (a number with a unit; ranges and "30 x 20 cm" give every number the unit; "pack of 3",
  "3-pack"): the same quantity in the data, in any unit of the same dimension ("0.75 l" == "750 ml",
  "24h" == "24 hours" == "1 day", within 1.5% across units); an attribute like {"capacity_ml": "750"} counts;
- number (anything else with digits, including ordinals and digits inside codes like "A4"): the number
  appears anywhere in the data. Spelled-out numbers count only next to a unit ("two-year", "one litre");
- letter sizes (XS, XL, XXL, 3XL; not the ambiguous S/M/L) must appear in the data;
- material: the same material is named in the data; a general name is backed by a specific one ("steel" by
  "stainless steel", "wood" by "oak", "wool" by "merino") but not the other way, and "leather" is not backed
  by "faux/PU/vegan leather" ("art silk" is not silk); for "made from/of <phrase>" outside the known materials
  ("made from sea salt"), every content word of the phrase must be in the data;
- claim-like phrases (waterproof, organic, vegan, recycled, BPA-free, warranty, guarantee, free shipping,
  discounts and sales, best-selling, #1, award-winning, made in <country>, ...): the same claim, or a stronger
  one that implies it (waterproof backs water-resistant, a lifetime warranty backs warranty), is in the data;
- links: only the product's own URL or one the data states;
- the name of the prompts' worked example product (EXAMPLE_PRODUCT_NAME) is reported as copied from it.
Degenerate output and channel limits are listed separately; see check_copy.

The modules, in the order a check uses them: channels (fields, limits, hashtags), units (numbers, currencies,
units), phrases (material and claim tables), extraction (fact-like spans of a text), facts (a product's facts
and why a claim is unsupported), degenerate (broken output, diversity measures), report (Claim,
GroundingReport) and check (check_copy, CopyChecker).
"""

from .channels import CHANNEL_FIELDS, CHANNEL_LABELS, CHANNEL_LIMITS, CHANNELS, hashtag_list
from .check import CopyChecker, check_copy
from .degenerate import distinct_n, duplicate_rate
from .extraction import EXAMPLE_PRODUCT_NAME
from .report import CLAIM_KINDS, FACT_KINDS, STATEMENT_KINDS, Claim, GroundingReport

__all__ = [
    "CHANNELS",
    "CHANNEL_FIELDS",
    "CHANNEL_LABELS",
    "CHANNEL_LIMITS",
    "CLAIM_KINDS",
    "EXAMPLE_PRODUCT_NAME",
    "FACT_KINDS",
    "STATEMENT_KINDS",
    "Claim",
    "CopyChecker",
    "GroundingReport",
    "check_copy",
    "distinct_n",
    "duplicate_rate",
    "hashtag_list",
]
