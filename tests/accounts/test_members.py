"""Settings › Members: the members page, role changes and removals guarded so a merchant never loses its last
owner, each with an audit entry; only owners manage, outsiders get 404. Invitations are in test_invitations.py."""

import socket

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from accounts.models import AuditLog, Invitation, Membership, Role
from accounts.services import Actor, MemberError, membership_remove, membership_role_change
from tests.accounts.members_data import LINK, invite, membership_of

# ---------- services: roles ----------


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
