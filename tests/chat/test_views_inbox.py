"""The Chat inbox: the empty state with the widget snippet, status tabs with counts, newest activity first,
search, the partial answers for HTMX (tabs, search, polling), model and shopper text shown escaped, and
that a merchant only ever sees its own conversations."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from chat.models import Conversation, Message

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
SCRIPT = "<script>alert('x')</script>"


def converse(merchant, *lines, status="open", customer="", minutes_ago=0, reason=""):
    """A conversation with (role, text) lines, its last activity `minutes_ago`."""
    when = timezone.now() - timedelta(minutes=minutes_ago)
    conversation = Conversation.objects.create(
        merchant=merchant,
        source="widget",
        status=status,
        customer_external_id=customer,
        handoff_reason=reason,
        last_message_at=when,
    )
    for role, text in lines:
        Message.objects.create(conversation=conversation, merchant=merchant, role=role, text=text)
    return conversation


def rows(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-testid="conversation-(\d+)"', html)]


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(reverse("chat:inbox"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_empty_inbox_explains_the_setup_and_shows_the_widget_snippet(login, merchant):
    html = login(Role.VIEWER).get(reverse("chat:inbox")).content.decode()
    assert 'data-testid="inbox-empty"' in html
    assert "Paste the widget snippet into your store" in html
    token = merchant.chat_settings.widget_token
    snippet = (
        f"&lt;script src=&quot;http://testserver/widget/{token}/widget.js&quot; async&gt;&lt;/script&gt;"
    )
    assert snippet in html
    assert "(none allowed yet)" in html
    # The Chat navigation item is the current page and no longer says "Soon".
    nav = re.search(r'<a class="nav-link is-active"[^>]*>.*?</a>', html, re.DOTALL).group(0)
    assert 'href="/chat/"' in nav and "Chat" in nav and "Soon" not in nav


def test_tabs_count_each_status_and_land_on_handed_off_conversations(login, merchant):
    converse(merchant, ("shopper", "Hi"), status="open")
    waiting = converse(merchant, ("shopper", "A person please"), status="handed_off", reason="requested")
    converse(merchant, ("shopper", "Thanks"), status="resolved")
    converse(merchant, ("shopper", "Still there?"), status="resolved")
    html = login().get(reverse("chat:inbox")).content.decode()
    counts = dict(re.findall(r'data-testid="tab-(\w+)">[^<]*<span class="tab-count">(\d+)</span>', html))
    assert counts == {"open": "1", "handed_off": "1", "resolved": "2", "all": "4"}
    assert 'aria-current="page" data-testid="tab-handed_off"' in html
    assert rows(html) == [waiting.pk]
    assert "Shopper asked for a person" in html

    html = login().get(reverse("chat:inbox"), {"status": "resolved"}).content.decode()
    assert len(rows(html)) == 2 and 'aria-current="page" data-testid="tab-resolved"' in html


def test_without_handoffs_the_open_tab_is_shown_and_an_empty_tab_says_what_lands_there(login, merchant):
    converse(merchant, ("shopper", "Hi"), status="open")
    html = login().get(reverse("chat:inbox")).content.decode()
    assert 'aria-current="page" data-testid="tab-open"' in html and len(rows(html)) == 1
    html = login().get(reverse("chat:inbox"), {"status": "handed_off"}).content.decode()
    assert 'data-testid="inbox-tab-empty"' in html and "Nobody is waiting for a person" in html


def test_newest_activity_first_with_the_last_thing_said(login, merchant):
    old = converse(merchant, ("shopper", "Where is my parcel?"), ("bot", "It ships today."), minutes_ago=30)
    new = converse(merchant, ("shopper", "Do you ship to Canada?"), minutes_ago=1)
    middle = converse(merchant, ("shopper", "Hello"), minutes_ago=10, customer="cust-42")
    html = login().get(reverse("chat:inbox"), {"status": "all"}).content.decode()
    assert rows(html) == [new.pk, middle.pk, old.pk]
    old_row = re.search(rf'data-testid="conversation-{old.pk}">.*?</li>', html, re.DOTALL).group(0)
    assert "Bot:</span> It ships today." in old_row and "2 messages" in old_row
    assert "cust-42" in html and f"Shopper #{new.pk}" in html


def test_shopper_and_model_text_are_shown_escaped(login, merchant):
    converse(merchant, ("shopper", "hello"), ("bot", f"Sure {SCRIPT}"))
    converse(merchant, ("shopper", SCRIPT), customer=SCRIPT)
    html = login().get(reverse("chat:inbox"), {"status": "all"}).content.decode()
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html


def test_search_matches_message_text_and_customer_ids(login, merchant):
    parcel = converse(merchant, ("shopper", "Where is my parcel?"))
    customer = converse(merchant, ("shopper", "Hi"), customer="VIP-0099")
    converse(merchant, ("shopper", "Do you sell gift cards?"))
    client = login()
    assert rows(client.get(reverse("chat:inbox"), {"status": "all", "q": "PARCEL"}).content.decode()) == [
        parcel.pk
    ]
    assert rows(client.get(reverse("chat:inbox"), {"status": "all", "q": "vip-00"}).content.decode()) == [
        customer.pk
    ]
    html = client.get(reverse("chat:inbox"), {"status": "all", "q": "nothing like this"}).content.decode()
    assert 'data-testid="inbox-no-match"' in html and rows(html) == []


def test_htmx_answers_the_results_partial_and_polls_do_not_announce_again(login, merchant):
    converse(merchant, ("shopper", "Hi"))
    client = login()
    partial = client.get(reverse("chat:inbox"), {"status": "open"}, **HTMX)
    html = partial.content.decode()
    assert "<html" not in html and 'data-testid="tab-open"' in html and "data-result-summary" in html
    assert 'hx-trigger="every 5s"' in html and "poll=1" in html
    assert "HX-Request" in partial["Vary"]
    polled = client.get(reverse("chat:inbox"), {"status": "open", "poll": "1"}, **HTMX).content.decode()
    assert "data-result-summary" not in polled and len(rows(polled)) == 1
    # Without HTMX the same URL is the whole page.
    assert "<html" in client.get(reverse("chat:inbox"), {"status": "open"}).content.decode()


def test_viewers_read_the_inbox(login, merchant):
    conversation = converse(merchant, ("shopper", "Hi"))
    response = login(Role.VIEWER).get(reverse("chat:inbox"))
    assert response.status_code == 200 and rows(response.content.decode()) == [conversation.pk]


def test_other_merchants_conversations_never_show(login, merchant, other_merchant):
    mine = converse(merchant, ("shopper", "Mine"))
    converse(other_merchant, ("shopper", "Theirs: secret order 5521"), status="handed_off")
    html = login().get(reverse("chat:inbox"), {"status": "all"}).content.decode()
    assert rows(html) == [mine.pk] and "5521" not in html
    counts = dict(re.findall(r'data-testid="tab-(\w+)">[^<]*<span class="tab-count">(\d+)</span>', html))
    assert counts["handed_off"] == "0" and counts["all"] == "1"
    html = login().get(reverse("chat:inbox"), {"status": "all", "q": "5521"}).content.decode()
    assert rows(html) == []


def test_pagination_keeps_the_tab_and_search(login, merchant):
    for minute in range(27):
        converse(merchant, ("shopper", f"parcel question {minute}"), minutes_ago=minute)
    client = login()
    html = client.get(reverse("chat:inbox"), {"status": "open", "q": "parcel"}).content.decode()
    assert len(rows(html)) == 25 and "Page 1 of 2" in html
    assert 'href="/chat/?status=open&amp;q=parcel&amp;page=2"' in html
    html = client.get(reverse("chat:inbox"), {"status": "open", "q": "parcel", "page": 2}).content.decode()
    assert len(rows(html)) == 2
