"""Settings page: merchant, members and API keys (only owners create and revoke)."""

import pytest
from django.urls import reverse

from accounts.models import AuditLog, MerchantAPIKey, Role
from accounts.services import Actor, api_key_create


def test_settings_lists_members_and_keys_of_the_current_merchant_only(
    client, owner, merchant, other_merchant, member_with_role, outsider
):
    member_with_role(Role.EDITOR)
    api_key_create(merchant=merchant, name="Storefront sync", scopes=["read"], actor=Actor.system())
    api_key_create(merchant=other_merchant, name="Contoso ERP", scopes=["read"], actor=Actor.system())
    client.force_login(owner)

    response = client.get(reverse("dashboard:settings"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "owner@example.com" in html
    assert "editor@example.com" in html
    assert "outsider@example.com" not in html
    assert "Storefront sync" in html
    assert "Contoso ERP" not in html
    assert "Create a key" in html


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR, Role.REVIEWER])
def test_non_owners_see_keys_but_cannot_create_or_revoke(client, merchant, member_with_role, role):
    key_obj, _ = api_key_create(
        merchant=merchant, name="Storefront sync", scopes=["read"], actor=Actor.system()
    )
    client.force_login(member_with_role(role))

    html = client.get(reverse("dashboard:settings")).content.decode()
    assert "Storefront sync" in html
    assert "Create a key" not in html
    assert "Only owners can create or revoke API keys." in html

    response = client.post(reverse("dashboard:api_key_create"), {"name": "Sneaky", "scopes": ["read"]})
    assert response.status_code == 403
    assert not MerchantAPIKey.objects.filter(name="Sneaky").exists()

    response = client.post(reverse("dashboard:api_key_revoke", args=[key_obj.prefix]))
    assert response.status_code == 403
    key_obj.refresh_from_db()
    assert not key_obj.revoked


def test_owner_creates_key_shown_once_and_stored_hashed(client, owner, merchant):
    client.force_login(owner)

    response = client.post(
        reverse("dashboard:api_key_create"), {"name": "Storefront sync", "scopes": ["read", "write"]}
    )

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    key_obj = MerchantAPIKey.objects.get(merchant=merchant, name="Storefront sync")
    key = response.context["new_key"]
    html = response.content.decode()
    assert f'value="{key}"' in html
    assert "only time it is shown" in html
    assert key_obj.scopes == ["read", "write"]
    assert key_obj.created_by == owner
    # Hashed at rest: the clear key is nowhere in the row, yet it authenticates.
    assert key not in (key_obj.id, key_obj.hashed_key)
    assert key.split(".", 1)[1] not in key_obj.hashed_key
    assert MerchantAPIKey.objects.get_from_key(key) == key_obj
    assert AuditLog.objects.filter(merchant=merchant, action="api_key.create", actor=owner).exists()
    # The page never shows the primary key (it embeds the hash).
    assert key_obj.hashed_key not in html

    later = client.get(reverse("dashboard:settings")).content.decode()
    assert key not in later
    assert key_obj.prefix in later


def test_key_creation_needs_a_name_and_a_scope(client, owner, merchant):
    client.force_login(owner)
    response = client.post(reverse("dashboard:api_key_create"), {"name": "", "scopes": []})
    assert response.status_code == 400
    html = response.content.decode()
    assert "This field is required." in html
    assert "Choose at least one scope." in html
    assert not MerchantAPIKey.objects.filter(merchant=merchant).exists()


def test_key_creation_rejects_unknown_scope(client, owner, merchant):
    client.force_login(owner)
    response = client.post(reverse("dashboard:api_key_create"), {"name": "x", "scopes": ["admin"]})
    assert response.status_code == 400
    assert not MerchantAPIKey.objects.filter(merchant=merchant).exists()


def test_owner_revokes_key(client, owner, merchant):
    key_obj, key = api_key_create(merchant=merchant, name="Old ERP", scopes=["read"], actor=Actor.system())
    client.force_login(owner)

    response = client.post(reverse("dashboard:api_key_revoke", args=[key_obj.prefix]), follow=True)

    key_obj.refresh_from_db()
    assert key_obj.revoked
    assert "Revoked the key" in response.content.decode()
    assert not MerchantAPIKey.objects.is_valid(key)
    assert AuditLog.objects.filter(merchant=merchant, action="api_key.revoke").exists()


def test_revoking_another_merchants_key_is_404(client, owner, other_merchant):
    key_obj, _ = api_key_create(
        merchant=other_merchant, name="Contoso ERP", scopes=["read"], actor=Actor.system()
    )
    client.force_login(owner)
    assert client.post(reverse("dashboard:api_key_revoke", args=[key_obj.prefix])).status_code == 404
    key_obj.refresh_from_db()
    assert not key_obj.revoked


def test_revoke_is_post_only(client, owner, merchant):
    key_obj, _ = api_key_create(merchant=merchant, name="k", scopes=["read"], actor=Actor.system())
    client.force_login(owner)
    assert client.get(reverse("dashboard:api_key_revoke", args=[key_obj.prefix])).status_code == 405
