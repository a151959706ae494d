"""Login brute-force protection (django-axes, accounts/login_throttle.py): lockout per username and address,
per address across usernames, the lockout page, the cool-off, the audit entry and the trusted-proxy
address."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.db.models import F
from django.urls import reverse

from accounts.models import AuditLog, Role
from tests.factories import MembershipFactory, UserFactory

PASSWORD = "pw-Storyfront-1"


@pytest.fixture(autouse=True)
def limits(settings):
    settings.LOGIN_FAILURE_LIMIT = 5
    settings.LOGIN_IP_FAILURE_LIMIT = 20
    settings.TRUSTED_PROXY_COUNT = 0


def log_in(client, username="owner@example.com", password=PASSWORD, **extra):
    return client.post(reverse("accounts:login"), {"username": username, "password": password}, **extra)


def fail(client, times, username="owner@example.com", **extra):
    return [log_in(client, username, "wrong-password", **extra).status_code for _ in range(times)]


def pass_the_cool_off():
    """Moves every recorded attempt back past the 15-minute cool-off, as if the time had passed."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=16))


def test_five_wrong_passwords_lock_the_login_with_a_readable_page(client, owner):
    assert fail(client, 4) == [200] * 4
    locked = log_in(client, "owner@example.com", "wrong-password")
    assert locked.status_code == 429
    response = log_in(client)  # the right password, too late
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    html = response.content.decode()
    assert "Too many failed log-ins" in html and "paused for 15 minutes" in html
    assert "/static/css/app.css" in html  # the dashboard's own plain-card page, not axes' plain text
    assert reverse("accounts:password_reset") in html
    assert "_auth_user_id" not in client.session


def test_after_the_cool_off_the_right_password_works(client, owner):
    fail(client, 5)
    assert log_in(client).status_code == 429
    pass_the_cool_off()
    response = log_in(client)
    assert response.status_code == 302 and response["Location"] == reverse("dashboard:home")
    assert client.session["_auth_user_id"] == str(owner.pk)


def test_a_success_before_the_limit_starts_the_count_again(client, owner):
    fail(client, 4)
    assert log_in(client).status_code == 302
    client.logout()
    assert fail(client, 4) == [200] * 4


def test_the_lockout_is_per_username_and_address(client, owner, outsider):
    fail(client, 5, REMOTE_ADDR="198.51.100.7")
    assert log_in(client, REMOTE_ADDR="198.51.100.7").status_code == 429
    # The real user on their own network is not locked out by someone guessing elsewhere...
    assert log_in(client, REMOTE_ADDR="203.0.113.5").status_code == 302
    client.logout()
    # ...and another person behind the guesser's address can still log in.
    assert log_in(client, "outsider@example.com", REMOTE_ADDR="198.51.100.7").status_code == 302


def test_one_address_trying_many_usernames_is_locked_for_all(client, owner, settings):
    settings.LOGIN_IP_FAILURE_LIMIT = 6
    for n in range(6):
        assert log_in(client, f"stuffed{n}@example.com", "leaked-password").status_code in (200, 429)
    # Credential stuffing: even a correct pair from that address is refused now.
    assert log_in(client).status_code == 429
    assert log_in(client, REMOTE_ADDR="203.0.113.5").status_code == 302


def test_the_lockout_is_audited_once_for_each_merchant_of_the_user(client, merchant, other_merchant, owner):
    MembershipFactory(user=owner, merchant=other_merchant, role=Role.VIEWER)
    fail(client, 7, REMOTE_ADDR="198.51.100.7")
    entries = AuditLog.objects.filter(action="user.locked_out")
    assert sorted(e.merchant_id for e in entries) == sorted([merchant.pk, other_merchant.pk])
    entry = entries.get(merchant=merchant)
    assert entry.object_type == "user" and entry.object_id == str(owner.pk)
    assert entry.changes == {"ip": "198.51.100.7", "username": "owner@example.com"}
    assert "198.51.100.7" in entry.summary and entry.actor is None


def test_an_unknown_username_is_locked_without_an_audit_entry(client, merchant):
    fail(client, 5, username="nobody@example.com")
    assert log_in(client, "nobody@example.com").status_code == 429
    assert not AuditLog.objects.filter(action="user.locked_out").exists()


def test_without_trusted_proxies_a_forged_forwarded_for_does_not_escape_the_lockout(client, owner):
    for n in range(5):
        log_in(client, "owner@example.com", "wrong-password", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    assert log_in(client, HTTP_X_FORWARDED_FOR="203.0.113.99").status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}


def test_behind_a_trusted_proxy_the_lockout_follows_the_forwarded_client(client, owner, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for _ in range(5):
        log_in(
            client,
            "owner@example.com",
            "wrong-password",
            HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7",
            **proxy,
        )
    assert log_in(client, HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy).status_code == 429
    # Everyone comes through the same proxy; the real user's own forwarded address is not locked.
    assert log_in(client, HTTP_X_FORWARDED_FOR="203.0.113.5", **proxy).status_code == 302
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.7"}
    assert AuditLog.objects.get(action="user.locked_out").changes["ip"] == "198.51.100.7"


def test_the_admin_login_is_protected_too(client, db):
    UserFactory(username="staff@example.com", is_staff=True, is_superuser=True)
    url = reverse("admin:login")
    for _ in range(5):
        client.post(url, {"username": "staff@example.com", "password": "wrong-password"})
    response = client.post(url, {"username": "staff@example.com", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
