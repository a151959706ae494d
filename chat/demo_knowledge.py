"""Knowledge for the demo merchant, Storyfront Demo Outfitters (an outdoor-and-home store, see
catalog.demo_catalog): FAQ answers, the shipping, returns and warranty policies, and one internal-only policy
that staff see and the bot must never use. Written for this project; no third-party text.

Rows use the knowledge import's own keys (kind, title, body, is_internal), so `manage.py demo_chat` goes
through the same import path a merchant uses."""

FAQ: list[tuple[str, str]] = [
    (
        "How long does delivery take?",
        (
            "Orders placed before 2 pm on a working day leave our warehouse the same day. Standard delivery takes "
            "3 to 5 working days; express delivery takes 1 to 2 working days. You get a tracking link by email as "
            "soon as your parcel ships."
        ),
    ),
    (
        "How much does shipping cost?",
        (
            "Standard shipping is free on orders over $60 and $5.95 below that. Express shipping costs $14.95 on any "
            "order. The cost is shown at checkout before you pay."
        ),
    ),
    (
        "Do you ship internationally?",
        (
            "We ship to the United States, Canada, the United Kingdom and the European Union. International "
            "delivery takes 5 to 10 working days; import duties, where they apply, are shown at checkout."
        ),
    ),
    (
        "How do I track my order?",
        (
            "Use the tracking link in your shipping confirmation email. You can also sign in to your account and "
            "open Orders to see each parcel's status."
        ),
    ),
    (
        "Can I change or cancel my order?",
        (
            "You can change or cancel an order within one hour of placing it from the order page in your account. "
            "After that it is being packed; you can return it once it arrives instead. The assistant cannot change "
            "orders itself: ask for a person and our team will help."
        ),
    ),
    (
        "How do I return an item?",
        (
            "Start a return from Orders in your account within 30 days of delivery, print the prepaid label and drop "
            "the parcel at any post office. Items must be unused, with their tags. Your refund follows within 5 "
            "working days of the parcel reaching us."
        ),
    ),
    (
        "When will I get my refund?",
        (
            "Refunds go back to the original payment method within 5 working days of your return reaching our "
            "warehouse. Your bank may take another 2 to 3 days to show it."
        ),
    ),
    (
        "Can I exchange an item for another size?",
        (
            "Yes. Start a return and choose Exchange: we send the new size as soon as the original is scanned at "
            "the post office, at no extra shipping cost."
        ),
    ),
    (
        "Which payment methods do you accept?",
        (
            "We accept Visa, Mastercard, American Express, PayPal, Apple Pay and Google Pay. Gift cards can be "
            "combined with any of them."
        ),
    ),
    (
        "Are your insulated bottles dishwasher safe?",
        (
            "The lids are top-rack dishwasher safe. Wash the stainless steel bodies by hand with warm soapy water: a "
            "dishwasher can damage the vacuum seal and the powder coat."
        ),
    ),
    (
        "How do I choose my jacket size?",
        (
            "Our jackets have a regular fit with room for a fleece underneath. Measure your chest and compare it "
            "with the size chart on the product page; between two sizes, take the larger one for layering."
        ),
    ),
    (
        "How do I care for the cast iron skillet?",
        (
            "Rinse it with hot water while it is warm, dry it on the stove and wipe a few drops of oil over the "
            "surface. Avoid the dishwasher and long soaks, which cause rust."
        ),
    ),
    (
        "Do you have a physical store?",
        (
            "We are an online store. Our warehouse in Portland is not open to visitors, but our support team "
            "answers by chat and email every day from 8 am to 8 pm Pacific time."
        ),
    ),
    (
        "Do you offer gift cards?",
        "Yes, digital gift cards from $25 to $250, delivered by email on the date you choose. They never expire.",
    ),
    (
        "How do I contact a person?",
        (
            "Ask for a person in this chat at any time and a member of our team takes over the conversation. You "
            "can also email support@demo-outfitters.example."
        ),
    ),
]

POLICIES: list[tuple[str, str]] = [
    (
        "Shipping policy",
        (
            "Orders placed before 2 pm on a working day ship the same day from our Portland warehouse. Standard "
            "delivery (3 to 5 working days) is free on orders over $60, otherwise $5.95. Express delivery (1 to 2 "
            "working days) costs $14.95. We ship to the US, Canada, the UK and the EU; international delivery takes "
            "5 to 10 working days. Every parcel is tracked, and a parcel lost in transit is replaced or refunded."
        ),
    ),
    (
        "Returns policy",
        (
            "Unused items with their tags can be returned within 30 days of delivery for a full refund or an "
            "exchange. Return shipping is free with the prepaid label from your account. Personal care items can be "
            "returned only unopened. Refunds go to the original payment method within 5 working days of the return "
            "reaching our warehouse. Sale items are returnable on the same terms."
        ),
    ),
    (
        "Warranty policy",
        (
            "Everything we sell is covered for 2 years against defects in materials and workmanship; drinkware and "
            "cast iron carry a lifetime warranty. Normal wear, accidents and misuse are not covered. To claim, "
            "contact our team with your order number and a photo of the defect: we repair, replace or refund."
        ),
    ),
]

INTERNAL_POLICIES: list[tuple[str, str]] = [
    (
        "Goodwill refunds (staff only)",
        (
            "Staff may approve a goodwill refund or store credit of up to $40 without a manager when a delivery is "
            "more than 5 working days late. Above $40, or for a second goodwill gesture on the same account, ask the "
            "support lead. Never promise goodwill credit before checking the order history."
        ),
    ),
]


def demo_knowledge_rows() -> list[dict]:
    rows = [{"kind": "faq", "title": title, "body": body, "is_internal": False} for title, body in FAQ]
    rows += [
        {"kind": "policy", "title": title, "body": body, "is_internal": False} for title, body in POLICIES
    ]
    rows += [
        {"kind": "policy", "title": title, "body": body, "is_internal": True}
        for title, body in INTERNAL_POLICIES
    ]
    return rows
