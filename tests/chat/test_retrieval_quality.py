"""Retrieval with the real MiniLM: ten FAQs, one per Bitext customer-support intent, and for each intent the
first eight shopper questions of the Bitext training data (typos, slang, order numbers and all) as a labelled
set of paraphrases. The right FAQ must come first for nearly all of them, and questions about nothing in
the knowledge base must score under the default handoff threshold."""

import csv
from collections import defaultdict
from pathlib import Path

import pytest

from chat.knowledge.embeddings import embed_knowledge_run
from chat.models import ChatSettings, KnowledgeItem
from chat.replies.engine import default_embedder
from chat.retrieval import retrieve

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

BITEXT = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "datasets"
    / "bitext_customer_support"
    / "bitext_customer_support_training.csv"
)
FAQ = {
    "cancel_order": (
        "How do I cancel an order?",
        "You can cancel an order from the Orders page until it has shipped.",
    ),
    "change_shipping_address": (
        "How do I change the delivery address of my order?",
        "Before an order ships you can edit its shipping address on the Orders page.",
    ),
    "check_payment_methods": (
        "Which payment methods do you accept?",
        "We accept Visa, Mastercard, American Express, PayPal and Apple Pay.",
    ),
    "delivery_period": (
        "How long does delivery take?",
        "Orders arrive within 3 to 5 business days in the US.",
    ),
    "get_refund": (
        "How do I get a refund?",
        "Return the item within 30 days and we refund the original payment method.",
    ),
    "track_order": (
        "How can I track my order?",
        "Use the tracking link in your shipping confirmation email.",
    ),
    "recover_password": (
        "I forgot my password",
        "Use 'Forgot password' on the sign-in page to get a reset link.",
    ),
    "delete_account": (
        "How do I close my account?",
        "You can delete your account under Account settings > Privacy.",
    ),
    "newsletter_subscription": (
        "How do I subscribe or unsubscribe from the newsletter?",
        "Manage newsletter emails under Account settings > Notifications.",
    ),
    "check_invoice": (
        "Where can I find my invoice?",
        "Invoices are on each order's page under Orders, as PDF.",
    ),
}
PER_INTENT = 8
OFF_TOPIC = [
    "what's the weather in Paris tomorrow",
    "who won the football game last night",
    "recommend a plumber in Ohio",
    "what is the meaning of life",
]


def labelled_questions() -> list[tuple[str, str]]:
    by_intent = defaultdict(list)
    with BITEXT.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["intent"] in FAQ and len(by_intent[row["intent"]]) < PER_INTENT:
                by_intent[row["intent"]].append(row["instruction"])
    return [(intent, question) for intent, questions in by_intent.items() for question in questions]


@pytest.mark.skipif(not BITEXT.is_file(), reason=f"the Bitext dataset is not at {BITEXT}")
def test_paraphrased_questions_find_their_faq(merchant):
    items = {
        intent: KnowledgeItem.objects.create(merchant=merchant, title=title, body=body)
        for intent, (title, body) in FAQ.items()
    }
    embedder = default_embedder()
    assert embed_knowledge_run(merchant.pk, embedder=embedder) == len(FAQ)
    questions = labelled_questions()
    assert len(questions) == len(FAQ) * PER_INTENT
    vectors = embedder.embed([q for _, q in questions])

    correct, confident = 0, 0
    misses = []
    for (intent, question), vector in zip(questions, vectors):
        result = retrieve(merchant_id=merchant.pk, question=question, query_vector=vector)
        top = result.knowledge[0][0] if result.knowledge else None
        if top == items[intent]:
            correct += 1
        else:
            misses.append((intent, question, top and top.title))
        confident += result.top_score >= ChatSettings().min_relevance
    # Measured: 78 of 80 first, 70 of 80 above the threshold (the rest would be handed to a person).
    assert correct / len(questions) >= 0.9, misses
    assert confident / len(questions) >= 0.75

    for question in OFF_TOPIC:
        result = retrieve(
            merchant_id=merchant.pk, question=question, query_vector=embedder.embed([question])[0]
        )
        assert result.top_score < ChatSettings().min_relevance, (question, result.sources())
