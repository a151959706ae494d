"""A piece that invents a price is flagged by the real grounding check, cannot be approved, and becomes
approvable once a person edits the price to the product's; banned words from the brand voice block too."""

import pytest

from accounts.services import Actor
from marketing.campaigns.services import brand_voice_set, content_piece_record
from marketing.workflow import content_check

pytestmark = pytest.mark.django_db

INVENTED = "Stainless steel trail bottle that keeps drinks cold for 24 hours. Now only $5, this week only!"
FIXED = "Stainless steel trail bottle that keeps drinks cold for 24 hours, yours for $24.90."


def _record(campaign, product, body):
    outcome = content_check(
        product=product, channel=campaign.channel, fields={"title": "Trail bottle", "body": body}
    )
    piece, created = content_piece_record(
        campaign=campaign,
        product=product,
        variant=1,
        fields={"title": "Trail bottle", "body": body},
        outcome=outcome,
        model_version=None,
        prompt="[]",
        params={},
        quality={},
        attempts=3,
    )
    assert created
    return piece


def test_an_invented_price_is_flagged_and_blocks_approval_until_edited(api_client, campaign, bottle):
    piece = _record(campaign, bottle, INVENTED)
    assert piece.status == "in_review" and piece.flagged and not piece.approvable
    claims = piece.grounding["unsupported"]
    # The price is off, and "this week only" is an offer the product data does not make.
    assert [(c["text"], c["kind"], c["field"]) for c in claims] == [
        ("$5", "price", "body"),
        ("week", "term", "body"),
    ]
    assert INVENTED[claims[0]["start"] : claims[0]["end"]] == "$5"  # spans let the review page highlight it

    refused = api_client.post(f"/api/v1/contents/{piece.pk}/approve/")
    assert refused.status_code == 409
    assert refused.json()["code"] == "grounding_failed"
    assert "unsupported claim" in refused.json()["message"]

    edited = api_client.patch(f"/api/v1/contents/{piece.pk}/", {"body": FIXED}, format="json")
    assert edited.status_code == 200
    assert edited.json()["approvable"] is True and edited.json()["grounding"]["unsupported"] == []
    approved = api_client.post(f"/api/v1/contents/{piece.pk}/approve/")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"


def test_an_edit_can_also_introduce_a_problem(api_client, campaign, bottle, merchant):
    brand_voice_set(merchant=merchant, actor=Actor.system("test"), banned_words=["cheap"])
    piece = _record(campaign, bottle, FIXED)
    assert piece.approvable and not piece.flagged
    edited = api_client.patch(
        f"/api/v1/contents/{piece.pk}/", {"body": FIXED + " Cheap and waterproof, 1 litre."}, format="json"
    ).json()
    assert edited["approvable"] is False and edited["flagged"] is True
    assert edited["grounding"]["banned"] == ["cheap"]
    # "Cheap" is a banned word and, like any word the facts do not back, an unverified claim too.
    assert {c["text"] for c in edited["grounding"]["unsupported"]} == {"Cheap", "waterproof", "1 litre"}
    assert api_client.post(f"/api/v1/contents/{piece.pk}/approve/").status_code == 409


def test_channel_limits_block_approval(api_client, merchant, bottle):
    from marketing.models import Campaign

    sms = Campaign.objects.create(merchant=merchant, name="Texts", channel="sms")
    long_text = "Trail bottle: keeps drinks cold for 24 hours. " * 5
    outcome = content_check(product=bottle, channel="sms", fields={"body": long_text})
    piece, _ = content_piece_record(
        campaign=sms,
        product=bottle,
        variant=1,
        fields={"body": long_text},
        outcome=outcome,
        model_version=None,
        prompt="",
        params={},
        quality={},
        attempts=1,
    )
    assert not piece.approvable and piece.grounding["channel_violations"]
    assert api_client.post(f"/api/v1/contents/{piece.pk}/approve/").status_code == 409
    short = api_client.patch(
        f"/api/v1/contents/{piece.pk}/", {"body": "Trail bottle: cold for 24 hours."}, format="json"
    ).json()
    assert short["approvable"] is True
    assert api_client.post(f"/api/v1/contents/{piece.pk}/approve/").status_code == 200
