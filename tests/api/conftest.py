"""A small world for whole-API tests: one merchant with a row of every kind the API exposes (so generated ids can
hit real objects), an outsider merchant with its own rows, and an API key with every scope."""

import pytest

from accounts.services import Actor, api_key_create
from chat.models import Conversation, KnowledgeItem, Message
from marketing.models import Campaign, ContentPiece, WebhookDelivery, WebhookEndpoint
from ml.models import Job, ModelVersion
from tests.factories import CategoryFactory, MerchantFactory, ProductFactory


def _merchant_rows(merchant, base) -> dict[str, list[int]]:
    category = CategoryFactory(merchant=merchant, name="Bottles", slug="bottles")
    products = [
        ProductFactory(merchant=merchant, category=category),
        ProductFactory(merchant=merchant, category=None, attributes={}),
    ]
    campaign = Campaign.objects.create(merchant=merchant, name="Spring launch", channel="product_description")
    campaign.products.set(products)
    pieces = [
        ContentPiece.objects.create(
            merchant=merchant,
            campaign=campaign,
            product=product,
            variant=1,
            status=status,
            title="Trail bottle",
            body="A stainless steel bottle that keeps drinks cold for 24 hours.",
            grounding={"passed": True, "approvable": True, "unsupported": []},
            approvable=True,
        )
        for product, status in zip(products, (ContentPiece.Status.IN_REVIEW, ContentPiece.Status.APPROVED))
    ]
    lora = ModelVersion.objects.create(
        merchant=merchant,
        name="copy-lora",
        purpose="copy",
        kind="lora",
        parent=base,
        path="/nowhere",
        status=ModelVersion.Status.READY,
        metrics={"eval_loss": 1.0, "parent_eval_loss": 2.0},
    )
    jobs = [
        Job.objects.create(merchant=merchant, kind=Job.Kind.FINETUNE),
        Job.objects.create(
            merchant=merchant, kind=Job.Kind.FINETUNE, status=Job.Status.SUCCEEDED, result_version=lora
        ),
    ]
    conversation = Conversation.objects.create(merchant=merchant)
    message = Message.objects.create(
        conversation=conversation, merchant=merchant, role="shopper", text="Hello?"
    )
    knowledge = KnowledgeItem.objects.create(
        merchant=merchant, title="Returns", body="Returns within 30 days."
    )
    endpoint = WebhookEndpoint.objects.create(
        merchant=merchant, url="https://hooks.example.com/in", secret="s" * 32
    )
    WebhookDelivery.objects.create(
        merchant=merchant,
        endpoint=endpoint,
        piece=pieces[1],
        event="content.published",
        idempotency_key="k1",
    )
    return {
        "products": [p.pk for p in products],
        "campaigns": [campaign.pk],
        "contents": [p.pk for p in pieces],
        "models": [base.pk, lora.pk],
        "jobs": [j.pk for j in jobs],
        "conversations": [conversation.pk],
        "messages": [message.pk],
        "knowledge": [knowledge.pk],
        "webhooks": [endpoint.pk],
    }


@pytest.fixture
def api_world(transactional_db):
    """Rows are committed (transactional_db) so a live server thread sees them. Returns the key's
    Authorization header and the ids per resource, the merchant's and the outsider's."""
    merchant = MerchantFactory(name="Northwind Outfitters", slug="northwind")
    outsider = MerchantFactory(name="Contoso Goods", slug="contoso")
    base = ModelVersion.objects.create(name="smollm2-135m-instruct", kind="base", path="/models/smollm2")
    ids = _merchant_rows(merchant, base)
    outsider_ids = _merchant_rows(outsider, base)
    _, key = api_key_create(
        merchant=merchant,
        name="schemathesis",
        scopes=["read", "write", "publish"],
        actor=Actor.system("test"),
    )
    return {"authorization": f"Api-Key {key}", "ids": ids, "outsider_ids": outsider_ids}
