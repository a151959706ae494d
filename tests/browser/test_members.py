"""Settings › Members through a real browser: an owner invites a teammate by email, the teammate opens the mailed
link on a phone, sets a password and lands in the merchant's dashboard; the owner changes the role and removes them.

The live server runs in a thread of this process, so the locmem email backend Django's test setup installs
writes to the same `django.core.mail.outbox` the `mailoutbox` fixture hands out."""

import re

import pytest

from accounts.models import AuditLog, Membership, Role
from tests.browser.conftest import PASSWORD, PHONE, log_in
from tests.factories import MembershipFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.browser
expect = pytest.importorskip(
    "playwright.sync_api", reason="Browser tests need the playwright package."
).expect

TEAMMATE_PASSWORD = "Harbor-Lantern-2718"


@pytest.fixture
def northwind(transactional_db):
    owner = UserFactory(username="owner@example.com", password=PASSWORD)
    merchant = MerchantFactory(name="Northwind Outfitters", slug="northwind")
    MembershipFactory(user=owner, merchant=merchant, role=Role.OWNER)
    return merchant


def test_owner_invites_teammate_who_joins_then_changes_role_and_removes(
    northwind, new_page, live_server, mailoutbox
):
    owner_page = new_page()
    log_in(owner_page)
    owner_page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    owner_page.get_by_role("link", name=re.compile("Manage members")).click()
    expect(owner_page.get_by_role("heading", level=1)).to_have_text("Members of Northwind Outfitters")
    expect(owner_page.get_by_test_id("invitations-table")).to_contain_text("No pending invitations")

    # Invite with the keyboard: type the email, pick the role, Enter submits.
    owner_page.get_by_label("Email").fill("teammate@example.com")
    owner_page.get_by_label("Role").select_option("editor")
    owner_page.get_by_label("Email").press("Enter")
    expect(owner_page.get_by_role("status")).to_contain_text(
        "Invitation sent to teammate@example.com as editor."
    )
    expect(owner_page.get_by_test_id("invitations-table").locator("tbody tr")).to_have_count(1)
    expect(owner_page.get_by_test_id("invitations-table")).to_contain_text("teammate@example.com")

    [mail] = mailoutbox
    assert mail.to == ["teammate@example.com"]
    link = re.search(r"https?://\S+/invitations/[\w-]+/", mail.body).group(0)
    assert link.startswith(live_server.url)

    # The teammate opens the link on a phone, in a browser that has never seen the site.
    teammate = new_page(viewport=PHONE)
    teammate.goto(link)
    expect(teammate.get_by_role("heading", level=1)).to_have_text("Join Northwind Outfitters")
    teammate.get_by_label("Choose a password").fill(TEAMMATE_PASSWORD)
    teammate.get_by_label("Confirm the password").fill(TEAMMATE_PASSWORD)
    teammate.get_by_role("button", name="Create account and join").click()
    teammate.wait_for_url(f"{live_server.url}/")
    expect(teammate.get_by_role("heading", level=1)).to_have_text("Northwind Outfitters")
    expect(teammate.get_by_role("status")).to_contain_text(
        "Welcome to Northwind Outfitters. You joined as editor."
    )
    membership = Membership.objects.get(merchant=northwind, user__username="teammate@example.com")
    assert membership.role == Role.EDITOR

    # The link is spent.
    again = new_page()
    again.goto(link)
    expect(again.get_by_test_id("invitation-error")).to_contain_text("already been used")

    # The owner sees the new member (no pending invitation left) and makes them a reviewer, in place.
    owner_page.reload()
    expect(owner_page.get_by_test_id("invitations-table")).to_contain_text("No pending invitations")
    row = owner_page.get_by_test_id("members-table").locator("tr[data-member='teammate@example.com']")
    expect(row).to_be_visible()
    owner_page.evaluate("window.__sameDocument = true")
    row.get_by_label("Role for teammate@example.com").select_option("reviewer")
    row.get_by_role("button", name="Save role for teammate@example.com").click()
    expect(owner_page.get_by_test_id("members-notice")).to_have_text("teammate@example.com is now reviewer.")
    assert owner_page.evaluate("window.__sameDocument") is True
    membership.refresh_from_db()
    assert membership.role == Role.REVIEWER

    # Removing asks first; dismissing keeps the member, accepting removes them.
    owner_page.once("dialog", lambda dialog: dialog.dismiss())
    row.get_by_role("button", name="Remove teammate@example.com").click()
    expect(row).to_be_visible()
    assert Membership.objects.filter(pk=membership.pk).exists()
    owner_page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Remove teammate@example.com").click()
    expect(owner_page.get_by_test_id("members-notice")).to_have_text(
        "Removed teammate@example.com from Northwind Outfitters."
    )
    expect(owner_page.get_by_test_id("members-table").locator("tbody tr")).to_have_count(1)
    assert not Membership.objects.filter(pk=membership.pk).exists()

    # The removed teammate's next page load no longer reaches the merchant.
    teammate.reload()
    expect(teammate.get_by_role("heading", level=1)).to_have_text("You are not a member of any merchant yet")

    actions = set(AuditLog.objects.filter(merchant=northwind).values_list("action", flat=True))
    assert {
        "invitation.create",
        "invitation.accept",
        "membership.role_change",
        "membership.remove",
    } <= actions
