import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_missing_key_is_401_with_challenge(merchant):
    response = APIClient().get("/api/v1/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"
    assert "message" in response.json()


def test_wrong_key_is_401(merchant):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Api-Key nope.notakey")
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["message"] == "Invalid, revoked or expired API key."


def test_key_identifies_its_merchant_and_scopes(make_api_client, merchant):
    client = make_api_client(merchant, scopes=["read"])
    body = client.get("/api/v1/me/").json()
    assert body["merchant"]["slug"] == "northwind"
    assert body["key"]["scopes"] == ["read"]


def test_key_without_read_scope_is_403(make_api_client, merchant):
    client = make_api_client(merchant, scopes=["write"])
    response = client.get("/api/v1/me/")
    assert response.status_code == 403
    assert "'read' scope" in response.json()["message"]


def test_revoked_key_is_401(merchant):
    from accounts.services import Actor, api_key_create, api_key_revoke

    key_obj, key = api_key_create(merchant=merchant, name="k", scopes=["read"], actor=Actor.system())
    api_key_revoke(key=key_obj, actor=Actor.system())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert client.get("/api/v1/me/").status_code == 401


def test_key_is_stored_hashed(merchant):
    from accounts.models import MerchantAPIKey
    from accounts.services import Actor, api_key_create

    key_obj, key = api_key_create(merchant=merchant, name="k", scopes=["read"], actor=Actor.system())
    stored = MerchantAPIKey.objects.get(pk=key_obj.pk)
    assert key not in stored.hashed_key and key.split(".")[1] not in stored.hashed_key
    assert stored.is_valid(key)
