"""Settings › Members: invitations (hashed, single use, expiring), role changes and removals guarded so a merchant
never loses its last owner, each with an audit entry; only owners manage, outsiders get 404."""

import re
import socket
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.middleware import SESSION_KEY
from accounts.models import AuditLog, Invitation, Membership, Role
from accounts.services import (
    Actor,
    InvitationError,
    MemberError,
    invitation_accept,
    invitation_revoke,
    member_invite,
    membership_remove,
    membership_role_change,
)
from tests.factories import MembershipFactory, UserFactory

BASE_URL = "https://app.example.com"
NEW_PASSWORD = "Lantern-Harbor-47"
LINK = re.compile(r"https?://\S+/invitations/(?P<token>[\w-]+)/")


def invite(merchant, owner, email="new@example.com", role=Role.EDITOR):
    return member_invite(
        merchant=merchant, email=email, role=role, actor=Actor.for_user(owner), base_url=BASE_URL
    )


def token_in(mail) -> str:
    return LINK.search(mail.body).group("token")


def membership_of(user, merchant):
    return Membership.objects.get(user=user, merchant=merchant)


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


def test_the_last_owner_can_be_neither_demoted_nor_removed(merchant, owner):
    sole = membership_of(owner, merchant)
    with pytest.raises(MemberError, match="last owner"):
        membership_role_change(membership=sole, role=Role.EDITOR, actor=Actor.for_user(owner))
    with pytest.raises(MemberError, match="last owner"):
        membership_remove(membership=sole, actor=Actor.for_user(owner))
    sole.refresh_from_db()
    assert sole.role == Role.OWNER


def test_role_change_and_removal_with_two_owners(merchant, owner, member_with_role):
    second = membership_of(member_with_role(Role.EDITOR), merchant)
    actor = Actor.for_user(owner)

    membership_role_change(membership=second, role=Role.OWNER, actor=actor)
    membership_role_change(membership=membership_of(owner, merchant), role=Role.VIEWER, actor=actor)
    # Now `second` is the only owner: the guard holds the other way round.
    with pytest.raises(MemberError, match="last owner"):
        membership_role_change(membership=second, role=Role.EDITOR, actor=actor)
    membership_remove(membership=membership_of(owner, merchant), actor=actor)

    assert list(Membership.objects.filter(merchant=merchant).values_list("role", flat=True)) == [Role.OWNER]
    changes = list(
        AuditLog.objects.filter(merchant=merchant, action="membership.role_change")
        .order_by("id")
        .values_list("changes__role", flat=True)
    )
    assert changes == [["editor", "owner"], ["owner", "viewer"]]
    removal = AuditLog.objects.get(merchant=merchant, action="membership.remove")
    assert removal.changes == {"user": "owner@example.com", "role": "viewer"}


def test_unknown_role_is_refused(merchant, owner, member_with_role):
    viewer = membership_of(member_with_role(Role.VIEWER), merchant)
    with pytest.raises(MemberError, match="Unknown role"):
        membership_role_change(membership=viewer, role="admin", actor=Actor.for_user(owner))
    with pytest.raises(MemberError, match="Unknown role"):
        invite(merchant, owner, role="admin")


# ---------- views: the members page and owner actions ----------


def test_owner_sees_members_invitations_and_the_invite_form(
    client, owner, merchant, member_with_role, outsider
):
    member_with_role(Role.EDITOR)
    client.force_login(owner)

    html = client.get(reverse("dashboard:members")).content.decode()

    assert "owner@example.com" in html and "editor@example.com" in html
    assert "outsider@example.com" not in html
    assert "No pending invitations" in html
    assert "Send invitation" in html
    # The sole owner's row offers neither a role change nor removal; the editor's offers both.
    assert "Last owner" in html
    assert reverse("dashboard:membership_remove", args=[membership_of(owner, merchant).pk]) not in html
    editor = Membership.objects.get(merchant=merchant, role=Role.EDITOR)
    assert reverse("dashboard:membership_remove", args=[editor.pk]) in html


def test_pending_invitations_are_listed_for_owners_only_of_this_merchant(
    client, owner, merchant, other_merchant, outsider
):
    invite(merchant, owner, email="pending@example.com")
    invite(other_merchant, outsider, email="elsewhere@example.com")
    client.force_login(owner)

    html = client.get(reverse("dashboard:members")).content.decode()

    assert "pending@example.com" in html
    assert "elsewhere@example.com" not in html
    assert "No pending invitations" not in html


@pytest.mark.parametrize("role", [Role.EDITOR, Role.REVIEWER, Role.VIEWER])
def test_non_owners_see_members_but_cannot_manage(
    client, owner, merchant, member_with_role, role, mailoutbox
):
    invitation, _ = invite(merchant, owner, email="pending@example.com")
    mailoutbox.clear()
    user = member_with_role(role)
    target = membership_of(owner, merchant)
    client.force_login(user)

    html = client.get(reverse("dashboard:members")).content.decode()
    assert "owner@example.com" in html
    assert "pending@example.com" not in html
    assert "Send invitation" not in html
    assert "Only owners can invite members" in html

    assert (
        client.post(
            reverse("dashboard:member_invite"), {"email": "x@example.com", "role": "owner"}
        ).status_code
        == 403
    )
    assert (
        client.post(reverse("dashboard:membership_role", args=[target.pk]), {"role": "viewer"}).status_code
        == 403
    )
    assert client.post(reverse("dashboard:membership_remove", args=[target.pk])).status_code == 403
    assert client.post(reverse("dashboard:invitation_revoke", args=[invitation.pk])).status_code == 403
    # Not even their own role: promoting oneself is managing members.
    own = membership_of(user, merchant)
    assert (
        client.post(reverse("dashboard:membership_role", args=[own.pk]), {"role": "owner"}).status_code == 403
    )

    assert mailoutbox == []
    target.refresh_from_db()
    own.refresh_from_db()
    assert (target.role, own.role) == (Role.OWNER, role)
    assert Invitation.objects.get().revoked_at is None


def test_another_merchants_members_and_invitations_are_404(client, owner, merchant, other_merchant, outsider):
    theirs = membership_of(outsider, other_merchant)
    their_invitation, _ = invite(other_merchant, outsider)
    client.force_login(owner)

    assert (
        client.post(reverse("dashboard:membership_role", args=[theirs.pk]), {"role": "viewer"}).status_code
        == 404
    )
    assert client.post(reverse("dashboard:membership_remove", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("dashboard:invitation_revoke", args=[their_invitation.pk])).status_code == 404
    assert client.post("/settings/members/not-a-number/remove/").status_code == 404

    theirs.refresh_from_db()
    their_invitation.refresh_from_db()
    assert theirs.role == Role.OWNER and their_invitation.revoked_at is None


def test_member_actions_are_post_only_and_need_the_csrf_token(owner, merchant, member_with_role):
    editor = membership_of(member_with_role(Role.EDITOR), merchant)
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    url = reverse("dashboard:membership_role", args=[editor.pk])

    assert client.get(url).status_code == 405
    assert client.get(reverse("dashboard:membership_remove", args=[editor.pk])).status_code == 405
    assert client.post(url, {"role": "viewer"}).status_code == 403
    assert (
        client.post(
            reverse("dashboard:member_invite"), {"email": "a@example.com", "role": "viewer"}
        ).status_code
        == 403
    )
    editor.refresh_from_db()
    assert editor.role == Role.EDITOR

    page = client.get(reverse("dashboard:members"))
    token = page.cookies["csrftoken"].value
    assert client.post(url, {"role": "viewer", "csrfmiddlewaretoken": token}).status_code == 302
    editor.refresh_from_db()
    assert editor.role == Role.VIEWER


def test_owner_invites_from_the_page_and_the_mail_holds_the_link(client, owner, merchant, mailoutbox):
    client.force_login(owner)

    response = client.post(
        reverse("dashboard:member_invite"), {"email": "Teammate@Example.com", "role": "reviewer"}
    )

    assert response.status_code == 302
    assert response.url == reverse("dashboard:members") + "#invitations"
    invitation = Invitation.objects.get(merchant=merchant)
    assert (invitation.email, invitation.role) == ("teammate@example.com", Role.REVIEWER)
    [mail] = mailoutbox
    match = LINK.search(mail.body)
    assert match.group(0).startswith("http://testserver/invitations/")
    assert Invitation.objects.filter(token_hash=Invitation.hash_token(match.group("token"))).exists()
    html = client.get(response.url).content.decode()
    assert "Invitation sent to teammate@example.com as reviewer" in html
    assert "teammate@example.com" in html


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"email": "not-an-email", "role": "viewer"}, "Enter a valid email address."),
        ({"email": "", "role": "viewer"}, "This field is required."),
        ({"email": "a@example.com", "role": "admin"}, "Select a valid choice."),
        (
            {"email": "owner@example.com", "role": "viewer"},
            "owner@example.com is already a member of Northwind Outfitters.",
        ),
    ],
    ids=["bad-email", "no-email", "bad-role", "existing-member"],
)
def test_invite_form_errors(client, owner, merchant, data, error, mailoutbox):
    client.force_login(owner)
    response = client.post(reverse("dashboard:member_invite"), data)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Invitation.objects.exists()
    assert mailoutbox == []


def test_a_failed_send_saves_nothing(client, owner, merchant, settings):
    # A real SMTP backend pointed at a loopback port nobody listens on: the connection is refused.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 5
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    client.force_login(owner)

    response = client.post(reverse("dashboard:member_invite"), {"email": "a@example.com", "role": "viewer"})

    assert response.status_code == 503
    assert "could not be sent, so nothing was saved" in response.content.decode()
    assert not Invitation.objects.exists()
    assert not AuditLog.objects.filter(action="invitation.create").exists()


def test_owner_changes_a_role_and_removes_a_member(client, owner, merchant, member_with_role):
    editor_user = member_with_role(Role.EDITOR)
    editor = membership_of(editor_user, merchant)
    client.force_login(owner)

    response = client.post(
        reverse("dashboard:membership_role", args=[editor.pk]), {"role": "reviewer"}, follow=True
    )
    assert "editor@example.com is now reviewer." in response.content.decode()
    editor.refresh_from_db()
    assert editor.role == Role.REVIEWER

    response = client.post(reverse("dashboard:membership_remove", args=[editor.pk]), follow=True)
    assert "Removed editor@example.com from Northwind Outfitters." in response.content.decode()
    assert not Membership.objects.filter(pk=editor.pk).exists()
    assert get_user_model().objects.filter(pk=editor_user.pk).exists()
    assert AuditLog.objects.filter(merchant=merchant, actor=owner, action="membership.remove").exists()

    # The removed member's next request finds no merchant.
    client.force_login(editor_user)
    assert client.get(reverse("dashboard:home")).status_code == 403


def test_htmx_actions_answer_with_the_panel_and_409_on_refusal(client, owner, merchant, member_with_role):
    editor = membership_of(member_with_role(Role.EDITOR), merchant)
    client.force_login(owner)
    htmx = {"HTTP_HX_REQUEST": "true"}

    response = client.post(reverse("dashboard:membership_role", args=[editor.pk]), {"role": "owner"}, **htmx)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="members-panel"' in html and "<html" not in html
    assert "editor@example.com is now owner." in html

    response = client.post(reverse("dashboard:membership_role", args=[editor.pk]), {"role": "boss"}, **htmx)
    assert response.status_code == 422
    assert "Choose one of: Owner, Editor, Reviewer, Viewer." in response.content.decode()

    membership_remove(membership=editor, actor=Actor.for_user(owner))
    sole = membership_of(owner, merchant)
    response = client.post(reverse("dashboard:membership_remove", args=[sole.pk]), **htmx)
    assert response.status_code == 409
    assert "owner@example.com is the last owner of Northwind Outfitters" in response.content.decode()
    response = client.post(reverse("dashboard:membership_role", args=[sole.pk]), {"role": "viewer"}, **htmx)
    assert response.status_code == 409
    assert Membership.objects.get(pk=sole.pk).role == Role.OWNER


def test_last_owner_refusal_without_htmx_redirects_with_the_reason(client, owner, merchant):
    client.force_login(owner)
    sole = membership_of(owner, merchant)
    response = client.post(reverse("dashboard:membership_remove", args=[sole.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("dashboard:members")
    assert "is the last owner of Northwind Outfitters and cannot be removed" in response.content.decode()
    assert Membership.objects.filter(pk=sole.pk).exists()


def test_an_owner_can_leave_when_another_owner_remains(client, owner, merchant, member_with_role):
    membership_role_change(
        membership=membership_of(member_with_role(Role.EDITOR), merchant),
        role=Role.OWNER,
        actor=Actor.system(),
    )
    client.force_login(owner)
    response = client.post(reverse("dashboard:membership_remove", args=[membership_of(owner, merchant).pk]))
    assert response.status_code == 302 and response.url == reverse("dashboard:home")
    assert not Membership.objects.filter(user=owner).exists()


def test_owner_revokes_an_invitation_and_its_link_stops_working(client, owner, merchant):
    invitation, token = invite(merchant, owner)
    client.force_login(owner)

    response = client.post(reverse("dashboard:invitation_revoke", args=[invitation.pk]), follow=True)
    assert "Withdrew the invitation to new@example.com" in response.content.decode()
    assert "No pending invitations" in response.content.decode()
    assert (
        client.post(
            reverse("dashboard:invitation_revoke", args=[invitation.pk]), HTTP_HX_REQUEST="true"
        ).status_code
        == 409
    )

    anonymous = Client()
    response = anonymous.get(reverse("dashboard:invitation_accept", args=[token]))
    assert response.status_code == 410
    assert "This invitation was withdrawn" in response.content.decode()


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


def test_an_owner_who_leaves_with_htmx_is_sent_home_and_one_who_steps_down_loses_the_controls(
    client, owner, merchant, member_with_role
):
    other = member_with_role(Role.EDITOR)
    third = member_with_role(Role.REVIEWER)
    for user in (other, third):
        membership_role_change(
            membership=membership_of(user, merchant), role=Role.OWNER, actor=Actor.system()
        )
    client.force_login(owner)

    response = client.post(
        reverse("dashboard:membership_role", args=[membership_of(owner, merchant).pk]),
        {"role": "viewer"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "owner@example.com is now viewer." in html
    assert "Only owners can invite members" in html and "Withdraw" not in html

    client.force_login(other)
    response = client.post(
        reverse("dashboard:membership_remove", args=[membership_of(other, merchant).pk]),
        HTTP_HX_REQUEST="true",
    )
    assert response["HX-Redirect"] == reverse("dashboard:home")
    assert not Membership.objects.filter(user=other).exists()
