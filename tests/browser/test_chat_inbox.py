"""The Chat dashboard in a real browser: the inbox and a conversation on a 390 px phone (no sideways scrolling,
status and actions above the thread, a new shopper message arriving live, take over and reply), the knowledge
page's inline create / edit / delete and import report, and the settings page's validation and snippet.
Screenshots land in /tmp/storyfront-shots/chat-*.png."""

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.models import Role
from chat.models import ChatSettings, Conversation, KnowledgeItem, Message
from tests.browser.conftest import DESKTOP, PASSWORD, PHONE, log_in
from tests.factories import MembershipFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.browser
expect = pytest.importorskip(
    "playwright.sync_api", reason="Browser tests need the playwright package."
).expect

SHOTS_DIR = Path(os.environ.get("STORYFRONT_SHOTS_DIR", "/tmp/storyfront-shots"))
# Elements that stick out of the viewport on the right (scrollable tables and tab strips may).
OVERFLOWING_JS = """() => [...document.querySelectorAll('body *')]
  .filter(el => el.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
  .filter(el => !el.closest('.table-wrap, .status-tabs, details:not([open]) > :not(summary)'))
  .slice(0, 8)
  .map(el => `${el.tagName.toLowerCase()}.${[...el.classList].join('.')} right=${Math.round(el.getBoundingClientRect().right)}`)"""


def shot(page, name, full_page=True):
    SHOTS_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS_DIR / f"chat-{name}.png"), full_page=full_page)


def no_sideways_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1")
    assert page.evaluate(OVERFLOWING_JS) == []


def say(conversation, role, text, **fields):
    message = Message.objects.create(
        conversation=conversation, merchant=conversation.merchant, role=role, text=text, **fields
    )
    Conversation.objects.filter(pk=conversation.pk).update(last_message_at=timezone.now())
    return message


@pytest.fixture
def support(transactional_db):
    owner = UserFactory(username="owner@example.com", password=PASSWORD)
    merchant = MerchantFactory(name="Northwind Outfitters", slug="northwind")
    MembershipFactory(user=owner, merchant=merchant, role=Role.OWNER)
    ChatSettings.objects.create(merchant=merchant, allowed_origins=["https://shop.example"])
    returns = KnowledgeItem.objects.create(
        merchant=merchant, kind="policy", title="Returns policy", body="Unused items within 30 days."
    )
    earlier = timezone.now() - timedelta(hours=2)
    answered = Conversation.objects.create(merchant=merchant, source="widget", last_message_at=earlier)
    say(answered, "shopper", "Can I return a bottle I used once?")
    say(
        answered,
        "bot",
        "Used items can't be returned, but the bottle has a lifetime warranty against defects.",
        sources=[{"type": "knowledge", "id": returns.pk, "title": "Returns policy", "score": 0.74}],
    )
    waiting = Conversation.objects.create(
        merchant=merchant,
        source="widget",
        customer_external_id="cust-8812-with-a-rather-long-identifier",
        status="handed_off",
        handoff_reason="sensitive",
    )
    say(
        waiting,
        "shopper",
        "My jacket's zip broke on the first day and I want a refund dispute opened right now, "
        "this is the second time this happens with your products.",
    )
    say(waiting, "bot", "I'm passing you to a member of our team.", handoff=True)
    for n in range(3):
        done = Conversation.objects.create(
            merchant=merchant,
            source="api",
            status="resolved",
            last_message_at=earlier - timedelta(days=n + 1),
        )
        say(done, "shopper", f"Thanks for the help with order {n}!")
    return {"owner": owner, "merchant": merchant, "answered": answered, "waiting": waiting}


def test_inbox_and_conversation_on_a_phone(new_page, support):
    page = new_page(PHONE)
    log_in(page)
    page.goto("/chat/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Inbox")
    expect(page.get_by_test_id("tab-handed_off")).to_have_attribute("aria-current", "page")
    for tab, count in (("open", "1"), ("handed_off", "1"), ("resolved", "3"), ("all", "5")):
        expect(page.get_by_test_id(f"tab-{tab}").locator(".tab-count")).to_have_text(count)
    row = page.get_by_test_id(f"conversation-{support['waiting'].pk}")
    expect(row).to_contain_text("cust-8812-with-a-rather-long-identifier")
    expect(row).to_contain_text("Sensitive topic")
    no_sideways_scroll(page)
    shot(page, "inbox-phone")

    # Tabs and search swap the list in place and keep the URL.
    page.get_by_test_id("tab-resolved").click()
    expect(page).to_have_url(re.compile(r"/chat/\?status=resolved$"))
    expect(page.locator("[data-testid^=conversation-]")).to_have_count(3)
    page.get_by_label("Search conversations").fill("order 1")
    expect(page.locator("[data-testid^=conversation-]")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"q=order(\+|%20)1"))
    no_sideways_scroll(page)

    # The waiting conversation: status and actions come first on a phone, then the thread.
    page.goto(f"/chat/conversations/{support['waiting'].pk}/")
    panel = page.get_by_test_id("conversation-panel")
    thread = page.get_by_test_id("thread")
    assert panel.bounding_box()["y"] < thread.bounding_box()["y"]
    expect(page.get_by_test_id("handoff-reason")).to_contain_text("Sensitive topic")
    no_sideways_scroll(page)
    shot(page, "conversation-phone")

    # A shopper message written elsewhere shows up without a reload.
    say(support["waiting"], "shopper", "Hello? Is anyone there?")
    expect(page.locator(".msg-shopper .msg-text").last).to_have_text(
        "Hello? Is anyone there?", timeout=10_000
    )

    page.get_by_test_id("take-over").click()
    expect(page.get_by_test_id("assigned-to")).to_have_text("owner@example.com")
    expect(page.get_by_test_id("take-over")).to_have_count(0)
    box = page.get_by_label(re.compile("Reply to the shopper"))
    box.fill("Sorry about the zip. I'm sending a replacement today.")
    page.get_by_test_id("send-reply").click()
    expect(page.locator(".msg-staff .msg-text")).to_have_text(
        "Sorry about the zip. I'm sending a replacement today."
    )
    expect(page.locator(".msg-system")).to_contain_text("A member of our team has joined the conversation.")
    no_sideways_scroll(page)
    shot(page, "conversation-phone-replied")
    assert (
        Message.objects.filter(conversation=support["waiting"], role="staff", author=support["owner"]).count()
        == 1
    )


def test_viewer_sees_the_conversation_read_only(new_page, support):
    viewer = UserFactory(username="viewer@example.com", password=PASSWORD)
    MembershipFactory(user=viewer, merchant=support["merchant"], role=Role.VIEWER)
    page = new_page(DESKTOP)
    log_in(page, username="viewer@example.com")
    page.goto(f"/chat/conversations/{support['answered'].pk}/")
    expect(page.get_by_test_id("read-only-note")).to_be_visible()
    expect(page.get_by_test_id("take-over")).to_have_count(0)
    expect(page.get_by_test_id("rate-up")).to_have_count(0)
    expect(page.get_by_test_id("sources").get_by_role("link", name="Returns policy")).to_be_visible()


def test_rate_correct_and_keyboard_shortcuts(new_page, support):
    page = new_page(DESKTOP)
    log_in(page)
    page.goto(f"/chat/conversations/{support['answered'].pk}/")
    reply = Message.objects.get(conversation=support["answered"], role="bot")
    message = page.get_by_test_id(f"message-{reply.pk}")
    message.get_by_test_id("rate-down").click()
    expect(page.get_by_test_id(f"message-{reply.pk}")).to_contain_text("Rated bad")
    page.get_by_test_id(f"message-{reply.pk}").get_by_test_id("correct-open").click()
    field = page.get_by_test_id(f"message-{reply.pk}").get_by_test_id("correction-input")
    expect(field).to_have_value(reply.text)
    field.fill("Used items can't be returned; a defect is covered by the lifetime warranty: write to us.")
    page.get_by_test_id(f"message-{reply.pk}").get_by_test_id("correction-save").click()
    expect(page.get_by_test_id(f"message-{reply.pk}").get_by_test_id("correction")).to_contain_text(
        "lifetime warranty"
    )
    reply.refresh_from_db()
    assert reply.rating == -1 and reply.correction.startswith("Used items can't be returned;")

    # "t" takes over, "?" shows the help.
    page.locator("body").press("t")
    expect(page.get_by_test_id("assigned-to")).to_have_text("owner@example.com")
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    shot(page, "conversation-desktop", full_page=False)


def test_knowledge_inline_create_edit_delete_and_import(new_page, support):
    page = new_page(DESKTOP)
    log_in(page)
    page.goto("/chat/knowledge/")
    expect(page.locator(".knowledge-item")).to_have_count(1)

    create = page.get_by_test_id("knowledge-create-form")
    create.get_by_label("Kind").select_option("policy")
    create.get_by_label("Question or policy name").fill("Goodwill credit")
    create.get_by_label("Answer or policy text").fill("Up to $40 for late deliveries, staff only.")
    create.get_by_test_id("new-internal").check()
    create.get_by_role("button", name="Add").click()
    expect(page.get_by_test_id("knowledge-created")).to_contain_text("Added “Goodwill credit”.")
    expect(page.locator(".knowledge-item")).to_have_count(2)
    item = KnowledgeItem.objects.get(title="Goodwill credit")
    row = page.get_by_test_id(f"knowledge-{item.pk}")
    expect(row.get_by_test_id("internal-badge")).to_have_text("Internal · staff-only")

    row.get_by_test_id("knowledge-edit").click()
    row = page.get_by_test_id(f"knowledge-{item.pk}")
    row.get_by_label("Question or policy name").fill("Goodwill credit (late parcels)")
    row.get_by_test_id("knowledge-save").click()
    expect(page.get_by_test_id(f"knowledge-{item.pk}").locator(".knowledge-title")).to_have_text(
        "Goodwill credit (late parcels)"
    )

    page.get_by_label("Search knowledge").fill("goodwill")
    expect(page.locator(".knowledge-item")).to_have_count(1)
    page.get_by_label("Search knowledge").fill("")
    expect(page.locator(".knowledge-item")).to_have_count(2)

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id(f"knowledge-{item.pk}").get_by_test_id("knowledge-delete").click()
    expect(page.locator(".knowledge-item")).to_have_count(1)
    assert not KnowledgeItem.objects.filter(pk=item.pk).exists()

    # An import with a bad row writes nothing and lists the problem; a good one adds its rows.
    page.get_by_test_id("knowledge-file").set_input_files(
        {
            "name": "kb.csv",
            "mimeType": "text/csv",
            "buffer": b"kind,title,body\nfaq,Gift cards?,From $25.\nrecipe,Soup,Hot.\n",
        }
    )
    page.get_by_test_id("knowledge-import-submit").click()
    expect(page.get_by_test_id("import-report")).to_contain_text(
        "Nothing was imported: 1 of 2 rows has errors."
    )
    expect(page.get_by_test_id("import-errors")).to_contain_text("Must be one of faq, policy.")
    page.get_by_test_id("knowledge-file").set_input_files(
        {"name": "kb.csv", "mimeType": "text/csv", "buffer": b"kind,title,body\nfaq,Gift cards?,From $25.\n"}
    )
    page.get_by_test_id("knowledge-import-submit").click()
    expect(page.get_by_test_id("import-report")).to_contain_text("1 created, 0 updated")
    expect(page.locator(".knowledge-item")).to_have_count(2)
    shot(page, "knowledge-desktop")

    phone = new_page(PHONE)
    log_in(phone)
    phone.goto("/chat/knowledge/")
    no_sideways_scroll(phone)
    shot(phone, "knowledge-phone")


def test_settings_validate_origins_and_show_the_snippet(new_page, support):
    page = new_page(PHONE)
    log_in(page)
    page.goto("/chat/settings/")
    token = ChatSettings.objects.get(merchant=support["merchant"]).widget_token
    expect(page.get_by_test_id("embed-snippet")).to_have_value(
        re.compile(rf'/widget/{token}/widget\.js" async></script>$')
    )
    origins = page.get_by_label("Allowed storefront origins")
    origins.fill("https://shop.example\nhttps://shop.example/cart")
    page.get_by_test_id("save-settings").click()
    expect(page.locator(".field-error")).to_contain_text("must be scheme://host[:port] only")
    no_sideways_scroll(page)
    shot(page, "settings-phone-error")
    page.get_by_label("Allowed storefront origins").fill("https://shop.example\nhttps://WWW.Shop.example/")
    page.get_by_test_id("save-settings").click()
    expect(page.get_by_role("status")).to_contain_text("Chat settings saved.")
    assert ChatSettings.objects.get(merchant=support["merchant"]).allowed_origins == [
        "https://shop.example",
        "https://www.shop.example",
    ]
