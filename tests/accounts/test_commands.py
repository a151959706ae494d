import io

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.models import AuditLog, Membership, Merchant, MerchantAPIKey, Role

pytestmark = pytest.mark.django_db


def test_create_merchant_with_owner():
    out = io.StringIO()
    call_command("create_merchant", "acme", name="Acme Outdoor", owner_email="Owner@Acme.test", stdout=out)
    merchant = Merchant.objects.get(slug="acme")
    assert merchant.name == "Acme Outdoor"
    membership = Membership.objects.get(merchant=merchant)
    assert membership.role == Role.OWNER
    assert membership.user.email == "owner@acme.test"
    assert "Created merchant 'acme'" in out.getvalue()
    assert AuditLog.objects.filter(merchant=merchant, action="merchant.create").exists()


def test_create_merchant_twice_is_a_clear_error():
    call_command("create_merchant", "acme", name="Acme", stdout=io.StringIO())
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_merchant", "acme", name="Acme again", stdout=io.StringIO())


def test_create_api_key_prints_a_working_key_as_last_line(merchant):
    out = io.StringIO()
    call_command("create_api_key", merchant.slug, scopes="read,write", stdout=out, stderr=io.StringIO())
    key = out.getvalue().strip().splitlines()[-1]
    stored = MerchantAPIKey.objects.get(merchant=merchant)
    assert stored.scopes == ["read", "write"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert client.get("/api/v1/me/").json()["merchant"]["slug"] == merchant.slug


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "--scopes", "read"], "No merchant"),
        (["northwind", "--scopes", "read,admin"], "Unknown scope"),
    ],
)
def test_create_api_key_bad_input(merchant, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_api_key", *args, stdout=io.StringIO(), stderr=io.StringIO())
    assert not MerchantAPIKey.objects.exists()


def test_demo_setup_is_safe_to_rerun():
    out = io.StringIO()
    call_command("demo_setup", stdout=out)
    first_key = [line for line in out.getvalue().splitlines() if "API key:" in line][0].split()[-1]
    merchant = Merchant.objects.get(slug="demo")
    assert merchant.products.count() >= 60
    assert merchant.products.values("category").distinct().count() >= 5

    out = io.StringIO()
    call_command("demo_setup", stdout=out)
    second_key = [line for line in out.getvalue().splitlines() if "API key:" in line][0].split()[-1]
    assert Merchant.objects.filter(slug="demo").count() == 1
    assert merchant.products.count() == 64
    assert "0 created, 0 updated, 64 unchanged" in out.getvalue()  # nothing rewritten

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {first_key}")
    assert client.get("/api/v1/me/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {second_key}")
    assert client.get("/api/v1/products/").json()["count"] == 64
