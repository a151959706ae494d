"""Through a real browser: a login locked after wrong passwords, "Forgot your password?" from there, the
mailed link, a new password, and changing it again from the user menu; no console errors (CSP included)."""

import re

import pytest
from django.core import mail
from django.core.cache import cache

from accounts.auth_forms import ThrottledPasswordResetForm
from tests.browser.conftest import PASSWORD, log_in

pytestmark = pytest.mark.browser
expect = pytest.importorskip(
    "playwright.sync_api", reason="Browser tests need the playwright package."
).expect

NEW_PASSWORD = "Fresh-Lantern-73"
NEWER_PASSWORD = "Quiet-Harbor-58"


def test_lockout_reset_and_change(page, shop, live_server, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    cache.delete(ThrottledPasswordResetForm.mail_count_cache_key("owner@example.com"))
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto("/accounts/login/")
    for attempt in range(3):
        page.get_by_label("Email").fill("owner@example.com")
        page.get_by_label("Password").fill(f"wrong-{attempt}")
        page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Too many failed log-ins")
    expect(page.get_by_test_id("lockout")).to_contain_text("paused for 15 minutes")

    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill("owner@example.com")
    page.get_by_role("button", name="Send reset link").click()
    expect(page.get_by_test_id("reset-sent")).to_contain_text("If an account uses that email")

    (message,) = mail.outbox
    link = re.search(r"https?://\S+/accounts/password/reset/\S+/", message.body).group(0)
    page.goto(link.replace(re.match(r"https?://[^/]+", link).group(0), live_server.url))
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Password set")

    # The reset lifted the lockout: the new password works at once.
    log_in(page, password=NEW_PASSWORD)
    page.locator(".user-menu summary").click()
    page.get_by_test_id("change-password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Change your password")
    page.get_by_label("Current password").fill(NEW_PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEWER_PASSWORD)
    page.get_by_label("New password confirmation").fill(NEWER_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Password changed")
    shop["owner"].refresh_from_db()
    assert shop["owner"].check_password(NEWER_PASSWORD) and not shop["owner"].check_password(PASSWORD)
    # Chromium reports the lockout page's own 429 status on the console; anything else is a real error.
    assert [e for e in errors if "status of 429" not in e] == []
    assert len(errors) == 1
