"""Settings › Members: invitations (hashed, single use, expiring), accepting them through the link, and
withdrawing them; each with an audit entry."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.middleware import SESSION_KEY
from accounts.models import AuditLog, Invitation, Membership, Role
from accounts.services import Actor, InvitationError, MemberError, invitation_accept, invitation_revoke
from tests.accounts.members_data import BASE_URL, invite, membership_of, token_in
from tests.factories import MembershipFactory, UserFactory

NEW_PASSWORD = "Lantern-Harbor-47"


# ---------- services ----------


def test_invite_stores_only_the_token_hash_and_mails_the_link(merchant, owner, mailoutbox):
    invitation, token = invite(merchant, owner, email="  New@Example.COM ")

    assert invitation.email == "new@example.com"
    assert invitation.role == Role.EDITOR
    assert invitation.invited_by == owner
    assert token not in invitation.token_hash and len(invitation.token_hash) == 64
    assert Invitation.objects.filter(token_hash=Invitation.hash_token(token)).get() == invitation
    assert timedelta(days=6, hours=23) < invitation.expires_at - timezone.now() <= timedelta(days=7)

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["new@example.com"]
    assert "Northwind Outfitters" in mail.subject
    assert f"{BASE_URL}/invitations/{token}/" in mail.body
    assert "owner@example.com invited you" in mail.body
    entry = AuditLog.objects.get(merchant=merchant, action="invitation.create")
    assert entry.actor == owner
    assert entry.changes == {"email": "new@example.com", "role": "editor", "refreshed": False}


def test_reinviting_refreshes_the_open_invitation_and_kills_the_old_link(merchant, owner, mailoutbox):
    first, old_token = invite(merchant, owner, role=Role.VIEWER)
    second, new_token = invite(merchant, owner, email="NEW@example.com", role=Role.REVIEWER)

    assert second.pk == first.pk
    assert Invitation.objects.filter(merchant=merchant).count() == 1
    assert second.role == Role.REVIEWER
    assert len(mailoutbox) == 2
    with pytest.raises(InvitationError) as exc:
        invitation_accept(token=old_token, password=NEW_PASSWORD)
    assert exc.value.reason == "invalid"
    membership = invitation_accept(token=new_token, password=NEW_PASSWORD)
    assert membership.role == Role.REVIEWER
    assert AuditLog.objects.filter(action="invitation.create", changes__refreshed=True).count() == 1


def test_inviting_an_existing_member_is_refused(merchant, owner, member_with_role, mailoutbox):
    member_with_role(Role.VIEWER)
    with pytest.raises(MemberError, match="already a member"):
        invite(merchant, owner, email="Viewer@example.com")
    assert not Invitation.objects.exists()
    assert mailoutbox == []


def test_open_invitations_are_capped(merchant, owner, settings):
    settings.INVITATION_MAX_OPEN = 2
    invite(merchant, owner, email="a@example.com")
    invite(merchant, owner, email="b@example.com")
    with pytest.raises(MemberError, match="already has 2 pending invitations"):
        invite(merchant, owner, email="c@example.com")
    # Refreshing an open one is still allowed.
    invite(merchant, owner, email="a@example.com")


def test_accepting_as_a_new_user_creates_the_account_and_membership_once(merchant, owner):
    invitation, token = invite(merchant, owner)

    membership = invitation_accept(token=token, password=NEW_PASSWORD)

    user = membership.user
    assert user.username == user.email == "new@example.com"
    assert user.check_password(NEW_PASSWORD)
    assert membership.merchant == merchant and membership.role == Role.EDITOR
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None
    entry = AuditLog.objects.get(merchant=merchant, action="invitation.accept")
    assert entry.actor == user and entry.changes["role"] == "editor"

    with pytest.raises(InvitationError) as exc:
        invitation_accept(token=token, password="Another-Pass-99")
    assert exc.value.reason == "used"
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_accepting_as_the_signed_in_invitee(merchant, owner, other_merchant):
    invitee = UserFactory(username="new@example.com")
    MembershipFactory(user=invitee, merchant=other_merchant, role=Role.OWNER)
    _, token = invite(merchant, owner, role=Role.VIEWER)

    membership = invitation_accept(token=token, user=invitee)

    assert membership.user == invitee and membership.role == Role.VIEWER
    assert membership_of(invitee, other_merchant).role == Role.OWNER


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (lambda inv: inv.__class__.objects.filter(pk=inv.pk).update(expires_at=timezone.now()), "expired"),
        (lambda inv: invitation_revoke(invitation=inv, actor=Actor.system()), "revoked"),
        (
            lambda inv: inv.merchant.__class__.objects.filter(pk=inv.merchant_id).update(is_active=False),
            "invalid",
        ),
    ],
    ids=["expired", "revoked", "merchant-deactivated"],
)
def test_spoiled_links_are_refused(merchant, owner, spoil, reason):
    invitation, token = invite(merchant, owner)
    spoil(invitation)
    with pytest.raises(InvitationError) as exc:
        invitation_accept(token=token, password=NEW_PASSWORD)
    assert exc.value.reason == reason
    assert not get_user_model().objects.filter(username="new@example.com").exists()


def test_wrong_user_and_existing_account_cannot_accept(merchant, owner):
    _, token = invite(merchant, owner)
    stranger = UserFactory(username="stranger@example.com")
    with pytest.raises(InvitationError) as exc:
        invitation_accept(token=token, user=stranger)
    assert exc.value.reason == "wrong_user"

    UserFactory(username="new@example.com")
    with pytest.raises(InvitationError) as exc:
        invitation_accept(token=token, password=NEW_PASSWORD)
    assert exc.value.reason == "account_exists"
    assert Membership.objects.filter(merchant=merchant).count() == 1
    assert Invitation.objects.get().accepted_at is None


def test_revoke_is_audited_once(merchant, owner):
    invitation, _ = invite(merchant, owner)
    assert invitation_revoke(invitation=invitation, actor=Actor.for_user(owner)) is True
    assert invitation_revoke(invitation=invitation, actor=Actor.for_user(owner)) is False
    assert AuditLog.objects.filter(merchant=merchant, action="invitation.revoke").count() == 1


# ---------- views: the invitation link ----------


def test_new_user_sets_a_password_and_lands_in_the_merchants_dashboard(
    client, owner, merchant, other_merchant
):
    _, token = invite(merchant, owner, role=Role.REVIEWER)
    url = reverse("dashboard:invitation_accept", args=[token])

    page = client.get(url)
    assert page.status_code == 200
    assert page["Cache-Control"].startswith("max-age=0")
    html = page.content.decode()
    assert "Join Northwind Outfitters" in html and "Choose a password" in html

    mismatch = client.post(url, {"new_password1": NEW_PASSWORD, "new_password2": "something-else-1"})
    assert mismatch.status_code == 400
    assert "didn’t match" in mismatch.content.decode()
    weak = client.post(url, {"new_password1": "12345678", "new_password2": "12345678"})
    assert weak.status_code == 400
    assert not get_user_model().objects.filter(username="new@example.com").exists()

    response = client.post(url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302 and response.url == reverse("dashboard:home")
    assert client.session[SESSION_KEY] == merchant.pk
    home = client.get(response.url)
    assert home.status_code == 200
    assert "Welcome to Northwind Outfitters. You joined as reviewer." in home.content.decode()
    assert home.context["user"].username == "new@example.com"
    assert get_user_model().objects.get(username="new@example.com").check_password(NEW_PASSWORD)

    again = Client().get(url)
    assert again.status_code == 410
    assert "This invitation was already used" in again.content.decode()


def test_signed_in_invitee_accepts_with_a_post_only(client, owner, merchant, other_merchant):
    invitee = UserFactory(username="new@example.com")
    MembershipFactory(user=invitee, merchant=other_merchant, role=Role.VIEWER)
    _, token = invite(merchant, owner, role=Role.EDITOR)
    url = reverse("dashboard:invitation_accept", args=[token])
    client.force_login(invitee)

    page = client.get(url)
    assert page.status_code == 200
    assert "Accept and join Northwind Outfitters" in page.content.decode()
    assert not Membership.objects.filter(user=invitee, merchant=merchant).exists()

    response = client.post(url)
    assert response.status_code == 302
    assert membership_of(invitee, merchant).role == Role.EDITOR
    assert client.session[SESSION_KEY] == merchant.pk


def test_signed_in_as_someone_else_is_refused_with_a_clear_page(client, owner, merchant, outsider):
    _, token = invite(merchant, owner)
    url = reverse("dashboard:invitation_accept", args=[token])
    client.force_login(outsider)

    for response in (client.get(url), client.post(url)):
        assert response.status_code == 403
        html = response.content.decode()
        assert "This invitation is for someone else" in html
        assert (
            "This invitation is for new@example.com, but you are signed in as outsider@example.com." in html
        )
    assert not Membership.objects.filter(user=outsider, merchant=merchant).exists()
    assert Invitation.objects.get().accepted_at is None


def test_existing_account_must_log_in_first(client, owner, merchant):
    UserFactory(username="new@example.com")
    _, token = invite(merchant, owner)
    url = reverse("dashboard:invitation_accept", args=[token])

    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "already has an account" in html
    assert f'href="{reverse("accounts:login")}?next={url}"' in html
    assert "Choose a password" not in html

    response = client.post(url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 409
    assert not Membership.objects.filter(merchant=merchant, user__username="new@example.com").exists()


def test_expired_and_unknown_links_get_a_message_page(client, owner, merchant):
    invitation, token = invite(merchant, owner)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    url = reverse("dashboard:invitation_accept", args=[token])

    for response in (
        client.get(url),
        client.post(url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}),
    ):
        assert response.status_code == 410
        assert "This invitation has expired" in response.content.decode()
    assert not get_user_model().objects.filter(username="new@example.com").exists()

    unknown = client.get(reverse("dashboard:invitation_accept", args=["x" * 43]))
    assert unknown.status_code == 404
    assert "This invitation link is not valid" in unknown.content.decode()
    assert client.put(url).status_code == 405


def test_expired_invitation_shows_as_expired_to_the_owner_and_can_be_resent(
    client, owner, merchant, mailoutbox
):
    invitation, old_token = invite(merchant, owner)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(days=1))
    client.force_login(owner)
    assert "Expired" in client.get(reverse("dashboard:members")).content.decode()

    client.post(reverse("dashboard:member_invite"), {"email": "new@example.com", "role": "viewer"})

    invitation.refresh_from_db()
    assert invitation.status == "pending"
    new_token = token_in(mailoutbox[-1])
    assert new_token != old_token
    assert Client().get(reverse("dashboard:invitation_accept", args=[new_token])).status_code == 200


def test_admin_lists_invitations_without_the_hash_and_withdraws_them(client, owner, merchant):
    invitation, _ = invite(merchant, owner)
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))

    changelist = client.get("/admin/accounts/invitation/", {"q": "new@"})
    assert changelist.status_code == 200
    assert "new@example.com" in changelist.content.decode()
    detail = client.get(f"/admin/accounts/invitation/{invitation.pk}/change/")
    assert detail.status_code == 200
    assert invitation.token_hash not in detail.content.decode()
    assert client.get("/admin/accounts/invitation/add/").status_code == 403

    client.post(
        "/admin/accounts/invitation/",
        {"action": "revoke_selected", "_selected_action": [invitation.pk], "index": 0},
    )
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    assert AuditLog.objects.get(action="invitation.revoke").actor_label == "root"
