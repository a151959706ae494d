"""Password change (signed in) and reset (email link) pages: Django's auth views with our templates, audit
entries, no account enumeration, single-use links, a cap on reset mails, and the links that lead there."""

import re

import pytest
from axes.models import AccessAttempt
from django.core.cache import cache
from django.urls import reverse

from accounts.auth_forms import ThrottledPasswordResetForm
from accounts.models import AuditLog, Role
from tests.factories import MembershipFactory

PASSWORD = "pw-Storyfront-1"
NEW_PASSWORD = "Fresh-Lantern-73"


@pytest.fixture(autouse=True)
def clean_mail_counts():
    # Reset-mail counts live in the shared test Redis for an hour: start each test at zero.
    for email in ("owner@example.com", "nobody@example.com", "OWNER@example.com"):
        cache.delete(ThrottledPasswordResetForm.mail_count_cache_key(email))


def reset_link(mail) -> str:
    match = re.search(r"https?://testserver(/accounts/password/reset/[^\s]+/)", mail.body)
    assert match, mail.body
    return match.group(1)


# --- links --------------------------------------------------------------------------------------------------


def test_the_login_page_links_to_the_reset_page(client, db):
    html = client.get(reverse("accounts:login")).content.decode()
    assert f'href="{reverse("accounts:password_reset")}"' in html and "Forgot your password?" in html


def test_the_user_menu_links_to_the_change_page(client, owner):
    client.force_login(owner)
    html = client.get(reverse("dashboard:settings")).content.decode()
    assert f'href="{reverse("accounts:password_change")}"' in html


# --- change -------------------------------------------------------------------------------------------------


def test_changing_the_password_needs_a_login(client, db):
    response = client.get(reverse("accounts:password_change"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))


def test_the_change_page_renders_in_the_dashboard(client, owner, merchant):
    client.force_login(owner)
    response = client.get(reverse("accounts:password_change"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Change your password" in html and 'class="shell"' in html and merchant.name in html
    assert 'autocomplete="current-password"' in html and 'autocomplete="new-password"' in html


def test_a_wrong_current_password_is_refused(client, owner):
    client.force_login(owner)
    response = client.post(
        reverse("accounts:password_change"),
        {"old_password": "not-it", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert "Your old password was entered incorrectly" in response.content.decode()
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)
    assert not AuditLog.objects.filter(action="user.password_changed").exists()


def test_a_weak_or_mismatched_new_password_is_refused(client, owner):
    client.force_login(owner)
    url = reverse("accounts:password_change")
    weak = client.post(
        url, {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"}
    )
    assert weak.status_code == 200 and "too common" in weak.content.decode()
    mismatch = client.post(
        url, {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": "x"}
    )
    assert mismatch.status_code == 200 and "didn’t match" in mismatch.content.decode()


def test_changing_the_password_keeps_the_session_and_is_audited(
    client, owner, merchant, other_merchant, settings
):
    settings.TRUSTED_PROXY_COUNT = 1
    MembershipFactory(user=owner, merchant=other_merchant, role=Role.EDITOR)
    client.force_login(owner)
    response = client.post(
        reverse("accounts:password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7",
    )
    assert response.status_code == 302 and response["Location"] == reverse("accounts:password_change_done")
    assert "Password changed" in client.get(response["Location"]).content.decode()
    assert client.get(reverse("dashboard:home")).status_code == 200  # still signed in here
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)
    entries = AuditLog.objects.filter(action="user.password_changed")
    assert sorted(entries.values_list("merchant_id", flat=True)) == sorted([merchant.pk, other_merchant.pk])
    entry = entries.get(merchant=merchant)
    assert entry.actor == owner and entry.actor_label == "owner@example.com"
    assert entry.changes == {"ip": "198.51.100.7", "username": "owner@example.com"}


# --- reset --------------------------------------------------------------------------------------------------


def test_reset_answers_alike_for_known_and_unknown_emails(client, owner, mailoutbox):
    url = reverse("accounts:password_reset")
    known = client.post(url, {"email": "owner@example.com"})
    unknown = client.post(url, {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == reverse("accounts:password_reset_done")
    done = client.get(known["Location"]).content.decode()
    assert "If an account uses that email" in done and "60 minutes" in done
    assert [m.to for m in mailoutbox] == [["owner@example.com"]]


def test_a_malformed_email_is_a_form_error_not_a_500(client, db, mailoutbox):
    response = client.post(reverse("accounts:password_reset"), {"email": "not an email"})
    assert response.status_code == 200
    assert "Enter a valid email address" in response.content.decode()
    assert mailoutbox == []


def test_the_reset_link_sets_a_new_password_once_and_is_audited(client, owner, merchant, mailoutbox):
    client.post(reverse("accounts:password_reset"), {"email": "OWNER@example.com"})
    (mail,) = mailoutbox
    assert mail.subject == "Reset your Storyfront password"
    link = reset_link(mail)
    form_page = client.get(
        link, follow=True
    )  # Django swaps the token for a session marker, then shows the form
    assert form_page.status_code == 200 and "Choose a new password" in form_page.content.decode()
    set_url = form_page.redirect_chain[-1][0]
    response = client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("accounts:password_reset_complete")
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)
    entry = AuditLog.objects.get(action="user.password_reset", merchant=merchant)
    assert entry.actor == owner and entry.changes["ip"] == "127.0.0.1"
    # Single use: the same link now says so, and sets nothing.
    again = client.get(link, follow=True)
    assert again.status_code == 200 and "This link does not work any more" in again.content.decode()
    assert (
        client.post(
            reverse("accounts:login"), {"username": "owner@example.com", "password": NEW_PASSWORD}
        ).status_code
        == 302
    )


def test_a_forged_or_expired_link_is_refused_with_a_page(client, owner, mailoutbox, settings):
    forged = client.get(reverse("accounts:password_reset_confirm", args=["MQ", "abc-123"]))
    assert forged.status_code == 200 and "This link does not work any more" in forged.content.decode()
    client.post(reverse("accounts:password_reset"), {"email": "owner@example.com"})
    settings.PASSWORD_RESET_TIMEOUT = -1  # every link is already past its time
    expired = client.get(reset_link(mailoutbox[0]), follow=True)
    assert "This link does not work any more" in expired.content.decode()


def test_resetting_lifts_the_login_lockout_of_that_user(client, owner, mailoutbox):
    for _ in range(5):
        client.post(reverse("accounts:login"), {"username": "owner@example.com", "password": "wrong"})
    assert (
        client.post(
            reverse("accounts:login"), {"username": "owner@example.com", "password": PASSWORD}
        ).status_code
        == 429
    )
    client.post(reverse("accounts:password_reset"), {"email": "owner@example.com"})
    form_page = client.get(reset_link(mailoutbox[0]), follow=True)
    client.post(
        form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert not AccessAttempt.objects.filter(username="owner@example.com").exists()
    response = client.post(
        reverse("accounts:login"), {"username": "owner@example.com", "password": NEW_PASSWORD}
    )
    assert response.status_code == 302


def test_reset_mails_to_one_address_are_capped_per_hour(client, owner, mailoutbox, settings):
    settings.PASSWORD_RESET_EMAILS_PER_HOUR = 3
    codes = [
        client.post(reverse("accounts:password_reset"), {"email": "owner@example.com"}).status_code
        for _ in range(5)
    ]
    assert codes == [302] * 5  # the page never tells
    assert len(mailoutbox) == 3


def test_the_reset_pages_are_plain_cards_for_visitors(client, db):
    for name in (
        "accounts:password_reset",
        "accounts:password_reset_done",
        "accounts:password_reset_complete",
    ):
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        html = response.content.decode()
        assert 'class="plain-card"' in html and "https://" not in html, name
