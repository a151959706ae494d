"""Chat prompts for marketing copy and parsing of the model's reply into the channel's fields.

Standard library only. Public API:

    CHANNELS, LENGTHS, PROMPT_CHAR_BUDGET
    build_copy_messages(product, *, channel, tone="", length="medium", language="en", brand_voice=None,
                        customer=None, goal="", examples=()) -> [system, (user, assistant) per example, user]
    with_feedback(messages, report, *, product=None) -> the messages for a retry, told what to do differently
                        after the verifier's findings on the last draft
    product_type(product), product_colour(product) -> what the fact sheet states the product is, and its colour
    parse_copy_output(text, channel) -> {field: text} with exactly the channel's fields (CHANNEL_FIELDS)

The prompts are written for a 135M-parameter instruct model (SmolLM2-135M-Instruct): short, facts as a flat list,
one labelled answer format per channel ("Subject: ..." then "Body: ..."), the hard limit stated in characters, and one
worked example as a previous chat turn: without it the model ignores the format (a trial on 4 Myntra products,
greedy decoding: no email had a subject line; with it, all 4 did). The example's product is fictional and
grounding flags copy that names it (EXAMPLE_PRODUCT_NAME).
Everything together stays within PROMPT_CHAR_BUDGET characters (about 360 SmolLM2 tokens, at most ~390): the
brand voice's examples and do/don't lists are cut first, then the description and the attributes.

The facts are a fact sheet: only what the product data says, with what the product is ("Type", a product-type
word of its own title or category, from the verifier's vocabulary) and its colour (its colour attribute, else
the colours its title names, read as the verifier reads them) on lines of their own, since a wrong product type
or colour is what a small model most often invents. When the merchant has approved pieces of the channel, up to
two of them (facts and final text, `examples`) replace the fictional example: they teach the merchant's own
voice and format. They take at most EXAMPLES_CHAR_BUDGET characters in place of the fictional example's ~330, so
the real product's facts are never cut to make room for them, and an example is only shown with enough of its
facts that every claim of its text is backed by what is shown (else the model would learn to add facts).
A retry adds what to do differently, from the verifier's findings on the last draft, to the system message
(`with_feedback`, at most FEEDBACK_CHAR_BUDGET more characters).

Layout: `copy_messages` (build_copy_messages and its budgets), `facts` (the fact sheet, product_type,
product_colour), `feedback` (with_feedback), `parsing` (parse_copy_output) and `wording` (text helpers they share).
"""

from ..grounding import CHANNELS
from .copy_messages import (
    EXAMPLES_CHAR_BUDGET,
    GOAL_CHARS,
    LENGTHS,
    MAX_EXAMPLES,
    PROMPT_CHAR_BUDGET,
    build_copy_messages,
)
from .facts import product_colour, product_type
from .feedback import FEEDBACK_CHAR_BUDGET, FEEDBACK_ITEMS, with_feedback
from .parsing import parse_copy_output

__all__ = [
    "CHANNELS",
    "EXAMPLES_CHAR_BUDGET",
    "FEEDBACK_CHAR_BUDGET",
    "FEEDBACK_ITEMS",
    "GOAL_CHARS",
    "LENGTHS",
    "MAX_EXAMPLES",
    "PROMPT_CHAR_BUDGET",
    "build_copy_messages",
    "parse_copy_output",
    "product_colour",
    "product_type",
    "with_feedback",
]
