"""Chat fixtures: a merchant with FAQs, a policy, an internal policy and two products; a keyword embedder that
stands in for MiniLM (the same texts always get the same unit vectors); a scripted generator that stands in
for the chat model and records what it was asked."""

from __future__ import annotations

import re
import threading
from decimal import Decimal

import numpy as np
import pytest

from accounts.services import Actor
from chat.models import ChatSettings, Conversation, KnowledgeItem, Message
from ml.engine.generation import GenerationResult
from ml.models import ModelVersion
from tests.factories import ProductFactory

ACTOR = Actor.system("test")

# Each dimension is a topic; a text's vector counts the topic words in it. Enough to make paraphrases close
# and unrelated questions orthogonal, with no model.
TOPICS = [
    ("return", "returns", "refund", "send back", "exchange"),
    ("ship", "shipping", "deliver", "delivery", "arrive", "parcel"),
    ("bottle", "flask", "drink"),
    ("jacket", "rain", "waterproof", "coat"),
    ("warranty", "guarantee", "broken", "defect"),
    ("size", "fit", "small", "large"),
    ("discount", "fraud", "staff", "escalation", "override"),
]


class KeywordEmbedder:
    name = "keyword-embedder"
    dimension = len(TOPICS) + 1

    def __init__(self):
        self.calls: list[list[str]] = []

    def embed(self, texts):
        self.calls.append(list(texts))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            lowered = text.lower()
            for dim, words in enumerate(TOPICS):
                out[row, dim] = sum(len(re.findall(rf"\b{re.escape(w)}", lowered)) for w in words)
            out[row, -1] = 0.05  # never all zeros
            out[row] /= np.linalg.norm(out[row])
        return out


class ScriptedGenerator:
    """Answers every request with `reply` (a string, or a function of the request); records the requests
    and the size of every batch it decoded. `stream` yields the reply word by word."""

    def __init__(
        self, reply="Our returns window is 30 days.", *, fail: Exception | None = None, delay: float = 0
    ):
        self.reply = reply
        self.fail = fail
        self.delay = delay
        self.requests = []
        self.batches: list[int] = []
        self.streamed = 0
        self._lock = threading.Lock()

    def _text(self, request) -> str:
        return self.reply(request) if callable(self.reply) else self.reply

    def generate(self, requests):
        import time

        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            self.requests.extend(requests)
            self.batches.append(len(requests))
        if self.fail:
            raise self.fail
        return [
            GenerationResult(
                text=self._text(r),
                prompt_tokens=100,
                completion_tokens=len(self._text(r).split()),
                finish_reason="stop",
                seconds=0.01,
                request_id=r.request_id,
            )
            for r in requests
        ]

    def stream(self, request):
        with self._lock:
            self.requests.append(request)
            self.streamed += 1
        if self.fail:
            raise self.fail
        words = self._text(request).split(" ")
        for i, word in enumerate(words):
            yield word if i == 0 else " " + word

    @property
    def system_prompt(self) -> str:
        return self.requests[-1].messages[0]["content"]


@pytest.fixture
def actor():
    return ACTOR


@pytest.fixture
def staff_actor(owner):
    return Actor.for_user(owner)


@pytest.fixture
def embedder():
    return KeywordEmbedder()


@pytest.fixture
def chat_settings(merchant):
    chat_settings, _ = ChatSettings.objects.get_or_create(merchant=merchant)
    chat_settings.allowed_origins = ["https://shop.example"]
    chat_settings.save()
    return chat_settings


INTERNAL_POLICY = (
    "Staff only: approve refunds over 500 dollars only with manager code ZEBRA-7741, and flag accounts with "
    "more than three returns a month for fraud review."
)


@pytest.fixture
def knowledge(merchant, embedder):
    """FAQs and policies, embedded with the keyword embedder (as the ml worker would have done)."""
    from chat.knowledge.embeddings import embed_knowledge_run

    items = {
        "returns": KnowledgeItem.objects.create(
            merchant=merchant,
            kind="faq",
            title="How do I return an item?",
            body="You can return unworn items within 30 days for a full refund from your orders page.",
        ),
        "shipping": KnowledgeItem.objects.create(
            merchant=merchant,
            kind="policy",
            title="Shipping policy",
            body="Orders ship within 2 business days; delivery takes 3 to 5 days in the US.",
        ),
        "warranty": KnowledgeItem.objects.create(
            merchant=merchant,
            kind="policy",
            title="Warranty",
            body="Every bottle has a two-year warranty against manufacturing defects.",
        ),
        "internal": KnowledgeItem.objects.create(
            merchant=merchant,
            kind="policy",
            title="Refund escalation (internal)",
            body=INTERNAL_POLICY,
            is_internal=True,
        ),
    }
    embed_knowledge_run(merchant.pk, embedder=embedder)
    return {key: KnowledgeItem.objects.get(pk=item.pk) for key, item in items.items()}


@pytest.fixture
def bottle(merchant):
    return ProductFactory(
        merchant=merchant,
        sku="BOTTLE-750",
        title="Trail bottle",
        brand="Northwind",
        price=Decimal("24.90"),
        attributes={"material": "stainless steel", "capacity": "750 ml"},
        description="Insulated bottle that keeps drinks cold for 24 hours.",
    )


@pytest.fixture
def jacket(merchant):
    return ProductFactory(
        merchant=merchant,
        sku="JKT-RAIN-2",
        title="Rain jacket",
        brand="Northwind",
        price=Decimal("89.00"),
        attributes={"sizes": "S, M, L"},
        description="A light waterproof jacket with a hood.",
    )


@pytest.fixture
def products(merchant, bottle, jacket, embedder):
    from chat.knowledge.embeddings import embed_products_run

    embed_products_run(merchant.pk, embedder=embedder)
    return {"bottle": bottle, "jacket": jacket}


@pytest.fixture
def chat_model(db):
    """A registered base model, so replies record which version wrote them (tests pass the generator)."""
    return ModelVersion.objects.create(name="chat-test-base", kind="base", path="/nonexistent/chat-test-base")


@pytest.fixture
def conversation(merchant, chat_settings):
    return Conversation.objects.create(merchant=merchant, source="api")


@pytest.fixture
def no_enqueue(monkeypatch):
    """Records reply ids that would be queued, instead of queueing them."""
    queued = []
    monkeypatch.setattr("chat.conversations.services.reply_enqueue", queued.append)
    monkeypatch.setattr("chat.conversations.services.product_vectors_refresh_soon", lambda **kw: None)
    monkeypatch.setattr("chat.knowledge.services._knowledge_embed_on_commit", lambda merchant_id: None)
    return queued


def pending_reply(conversation, text: str, *, stream: bool = False) -> Message:
    """A shopper message and the pending bot reply to it, as message_post leaves them."""
    Message.objects.create(
        conversation=conversation, merchant=conversation.merchant, role="shopper", text=text
    )
    return Message.objects.create(
        conversation=conversation,
        merchant=conversation.merchant,
        role="bot",
        status="pending",
        params={"stream": stream},
    )


@pytest.fixture
def single_torch_thread():
    """For tests with a real model: two OpenMP threads on two busy shared cores wait on each other at every op
    (see tests/ml/engine/conftest.py); behaviour, not speed, is under test."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def generated_replies_only(settings):
    """These tests are about generated replies; answering clear FAQ matches word for word is switched on
    by the tests of that path (test_faq_answers.py), and direct (extractive / product-facts) answers by
    test_direct_answers.py."""
    settings.CHAT_FAQ_ANSWER_MIN_COSINE = None
    settings.CHAT_DIRECT_ANSWER_MIN_SCORE = None
