import re

import pytest
from django.urls import reverse

from accounts.services import Actor
from marketing.campaigns.services import brand_voice_set
from marketing.models import WebhookDelivery
from marketing.publishing.services import webhook_endpoint_create
from marketing.review.services import content_update
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root@example.com", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def objects(merchant, campaign, make_piece):
    actor = Actor.system("test")
    voice = brand_voice_set(merchant=merchant, actor=actor, tone_words=["warm"])
    piece = make_piece("in_review", body=f"Cold drinks {SCRIPT} all day long, in a stainless steel bottle.")
    content_update(piece=piece, actor=actor, title=f"Bottle {SCRIPT}")
    endpoint, _ = webhook_endpoint_create(merchant=merchant, actor=actor, url="https://example.com/hook")
    delivery = WebhookDelivery.objects.create(
        merchant=merchant,
        endpoint=endpoint,
        piece=piece,
        event="content.published",
        idempotency_key="k1",
        payload={"content": {"body": SCRIPT}},
    )
    return {
        "brandvoice": voice,
        "campaign": campaign,
        "contentpiece": piece,
        "contentrevision": piece.revisions.get(),
        "webhookendpoint": endpoint,
        "webhookdelivery": delivery,
    }


@pytest.mark.parametrize(
    "model",
    ["brandvoice", "campaign", "contentpiece", "contentrevision", "webhookendpoint", "webhookdelivery"],
)
def test_changelist_and_change_pages_load_and_escape_model_text(admin_client, objects, model):
    changelist = admin_client.get(reverse(f"admin:marketing_{model}_changelist"))
    assert changelist.status_code == 200
    change = admin_client.get(reverse(f"admin:marketing_{model}_change", args=[objects[model].pk]))
    assert change.status_code == 200
    html = change.content.decode()
    assert SCRIPT not in html
    if model in ("contentpiece", "contentrevision", "webhookdelivery"):
        assert "&lt;script&gt;" in html


def test_search_and_merchant_filter(admin_client, objects, other_merchant, merchant):
    url = reverse("admin:marketing_contentpiece_changelist")
    assert "BOTTLE-1" in admin_client.get(url, {"q": "cold drinks"}).content.decode()
    assert "BOTTLE-1" not in admin_client.get(url, {"q": "nothing like it"}).content.decode()
    assert (
        "BOTTLE-1" not in admin_client.get(url, {"merchant__id__exact": other_merchant.pk}).content.decode()
    )
    assert (
        "Spring launch"
        in admin_client.get(
            reverse("admin:marketing_campaign_changelist"), {"merchant__id__exact": merchant.pk}
        ).content.decode()
    )


@pytest.mark.parametrize("model", ["contentrevision", "webhookdelivery", "contentpiece"])
def test_records_are_read_only(admin_client, objects, model):
    assert admin_client.get(reverse(f"admin:marketing_{model}_add")).status_code == 403
    html = admin_client.get(
        reverse(f"admin:marketing_{model}_change", args=[objects[model].pk])
    ).content.decode()
    assert 'name="_save"' not in html
    response = admin_client.post(reverse(f"admin:marketing_{model}_change", args=[objects[model].pk]), {})
    assert response.status_code == 403


def test_webhook_secret_is_never_shown(admin_client, objects):
    endpoint = objects["webhookendpoint"]
    html = admin_client.get(
        reverse("admin:marketing_webhookendpoint_change", args=[endpoint.pk])
    ).content.decode()
    assert endpoint.secret not in html


def test_bulk_approve_action_applies_the_checks(admin_client, objects, make_piece, jacket):
    passing = make_piece("in_review", product=jacket)
    blocked = make_piece("in_review", product=jacket, variant=2, approvable=False)
    response = admin_client.post(
        reverse("admin:marketing_contentpiece_changelist"),
        {"action": "approve_passing", "_selected_action": [passing.pk, blocked.pk], "index": 0},
        follow=True,
    )
    html = response.content.decode()
    assert "Approved 1 piece(s); skipped 1." in html, re.findall(r"messagelist.*?</ul>", html, re.DOTALL)
    passing.refresh_from_db()
    blocked.refresh_from_db()
    assert (passing.status, blocked.status) == ("approved", "in_review")
