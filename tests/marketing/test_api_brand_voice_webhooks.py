import pytest

from accounts.models import AuditLog
from marketing.models import BrandVoice, WebhookEndpoint

pytestmark = pytest.mark.django_db

VOICE = {
    "tone_words": ["warm", "plain-spoken"],
    "audience": "Hikers who buy once and keep things for years",
    "do_list": ["Mention what the product is made of"],
    "dont_list": ["Promise discounts"],
    "banned_words": ["cheap", "best ever"],
    "examples": ["Built for long days on the trail."],
}


def test_brand_voice_get_empty_then_put_then_get(api_client, merchant):
    empty = api_client.get("/api/v1/brand-voice/")
    assert empty.status_code == 200 and empty.json()["tone_words"] == []
    response = api_client.put("/api/v1/brand-voice/", VOICE, format="json")
    assert response.status_code == 200, response.json()
    assert {k: response.json()[k] for k in VOICE} == VOICE
    assert BrandVoice.objects.get(merchant=merchant).banned_words == ["cheap", "best ever"]
    partial = api_client.put("/api/v1/brand-voice/", {"audience": "Everyone"}, format="json")
    assert (
        partial.json()["banned_words"] == ["cheap", "best ever"] and partial.json()["audience"] == "Everyone"
    )
    assert AuditLog.objects.filter(action="brand_voice.update").count() == 2


@pytest.mark.parametrize(
    "payload",
    [
        {"tone_words": "warm"},
        {"banned_words": [["nested"]]},
        {"examples": ["x"] * 11},
        {"audience": "x" * 501},
    ],
)
def test_brand_voice_rejects_bad_input(api_client, payload):
    response = api_client.put("/api/v1/brand-voice/", payload, format="json")
    assert response.status_code == 400
    assert not BrandVoice.objects.exists()


def test_brand_voice_is_per_merchant_and_needs_write(
    api_client, outsider_api_client, make_api_client, merchant
):
    api_client.put("/api/v1/brand-voice/", VOICE, format="json")
    assert outsider_api_client.get("/api/v1/brand-voice/").json()["tone_words"] == []
    reader = make_api_client(merchant, scopes=["read"])
    assert reader.put("/api/v1/brand-voice/", {"audience": "x"}, format="json").status_code == 403


def test_webhook_secret_is_shown_once(api_client, merchant):
    response = api_client.post(
        "/api/v1/webhooks/",
        {"url": "https://shop.example.com/hooks", "events": ["content.published"]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 30
    endpoint = WebhookEndpoint.objects.get(pk=body["id"])
    assert endpoint.secret == body["secret"] and endpoint.merchant == merchant
    assert "secret" not in api_client.get(f"/api/v1/webhooks/{endpoint.pk}/").json()
    assert "secret" not in api_client.get("/api/v1/webhooks/").json()["results"][0]
    updated = api_client.patch(f"/api/v1/webhooks/{endpoint.pk}/", {"active": False}, format="json")
    assert updated.status_code == 200 and updated.json()["active"] is False and "secret" not in updated.json()
    assert api_client.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/").json()["results"] == []
    assert api_client.delete(f"/api/v1/webhooks/{endpoint.pk}/").status_code == 204
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "payload",
    [{"url": "not a url"}, {"url": "ftp://x.example.com"}, {"url": "https://x.example.com", "events": ["x"]}],
)
def test_webhook_rejects_bad_input(api_client, payload):
    assert api_client.post("/api/v1/webhooks/", payload, format="json").status_code == 400
    assert not WebhookEndpoint.objects.exists()


def test_managing_webhooks_needs_publish_scope(make_api_client, merchant):
    writer = make_api_client(merchant, scopes=["read", "write"])
    assert (
        writer.post("/api/v1/webhooks/", {"url": "https://x.example.com"}, format="json").status_code == 403
    )
    assert writer.get("/api/v1/webhooks/").status_code == 200


def test_outsider_gets_404_on_webhooks(api_client, outsider_api_client):
    endpoint_id = api_client.post(
        "/api/v1/webhooks/", {"url": "https://x.example.com"}, format="json"
    ).json()["id"]
    for method in ("get", "patch", "delete"):
        response = getattr(outsider_api_client, method)(f"/api/v1/webhooks/{endpoint_id}/", {}, format="json")
        assert response.status_code == 404
    assert outsider_api_client.get(f"/api/v1/webhooks/{endpoint_id}/deliveries/").status_code == 404
    assert WebhookEndpoint.objects.filter(pk=endpoint_id, active=True).exists()
