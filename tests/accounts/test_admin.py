import pytest
from django.contrib.auth import get_user_model

from accounts.models import AuditLog, MerchantAPIKey
from accounts.services import Actor, api_key_create, audit_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    return client


@pytest.mark.parametrize(
    ("model", "filter_param"),
    [
        ("merchant", "is_active__exact"),
        ("membership", "merchant__id__exact"),
        ("merchantapikey", "merchant__id__exact"),
        ("auditlog", "merchant__id__exact"),
    ],
)
def test_changelists_load_search_and_filter(
    admin_client, merchant, other_merchant, owner, model, filter_param
):
    api_key_create(merchant=merchant, name="k", scopes=["read"], actor=Actor.system())
    response = admin_client.get(f"/admin/accounts/{model}/", {"q": "north"})
    assert response.status_code == 200
    assert "Northwind" in response.content.decode() or model == "merchantapikey"
    value = 1 if filter_param == "is_active__exact" else merchant.id
    response = admin_client.get(f"/admin/accounts/{model}/", {filter_param: value})
    assert response.status_code == 200


def test_audit_log_is_read_only(admin_client, merchant):
    entry = audit_record(
        merchant=merchant, actor=Actor.system(), action="test.thing", object_type="x", object_id="1"
    )
    assert admin_client.get("/admin/accounts/auditlog/add/").status_code == 403
    response = admin_client.post(f"/admin/accounts/auditlog/{entry.pk}/change/", {"action": "changed"})
    assert response.status_code == 403
    assert (
        admin_client.post(f"/admin/accounts/auditlog/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    entry.refresh_from_db()
    assert entry.action == "test.thing"


def test_admin_creates_a_scoped_key_and_shows_it_once(admin_client, merchant):
    response = admin_client.post(
        "/admin/accounts/merchantapikey/add/",
        {"name": "ERP", "merchant": merchant.id, "scopes": '["read", "write"]'},
        follow=True,
    )
    assert response.status_code == 200
    key = MerchantAPIKey.objects.get(merchant=merchant, name="ERP")
    assert key.scopes == ["read", "write"]
    assert "be shown again" in response.content.decode()
    assert AuditLog.objects.filter(merchant=merchant, action="api_key.create").exists()


def test_admin_rejects_unknown_scope(admin_client, merchant):
    response = admin_client.post(
        "/admin/accounts/merchantapikey/add/",
        {"name": "ERP", "merchant": merchant.id, "scopes": '["read", "root"]'},
    )
    assert response.status_code == 200
    assert "Unknown scope" in response.content.decode()
    assert not MerchantAPIKey.objects.exists()
