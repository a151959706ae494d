"""A conversation's page: the thread (roles styled apart, sources linked, handoff reason, text escaped), the
live updates the page polls for, and the actions: take over, reply, hand back, resolve, rate and correct bot
replies. Viewers read only (403 on every action); another merchant's conversation answers 404."""

import re

import pytest
from django.urls import reverse

from accounts.models import Role
from chat.models import Conversation, Message
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
SCRIPT = "<script>alert('x')</script>"


def say(conversation, role, text="", **fields):
    return Message.objects.create(
        conversation=conversation, merchant=conversation.merchant, role=role, text=text, **fields
    )


@pytest.fixture
def conversation(merchant, chat_settings):
    return Conversation.objects.create(merchant=merchant, source="widget", origin="https://shop.example")


@pytest.fixture
def bot_reply(conversation, knowledge):
    product = ProductFactory(merchant=conversation.merchant, title="Trail bottle")
    say(conversation, "shopper", "Can I return my bottle?")
    return say(
        conversation,
        "bot",
        "Yes, within 30 days.",
        sources=[
            {
                "type": "knowledge",
                "id": knowledge["returns"].pk,
                "title": "How do I return an item?",
                "score": 0.81,
            },
            {"type": "product", "id": product.pk, "title": "Trail bottle", "score": 0.52},
        ],
    )


def url(name, conversation, *extra):
    return reverse(f"chat:{name}", args=[conversation.pk, *extra])


def reload(obj):
    obj.refresh_from_db()
    return obj


# ---------- The page ----------


def test_the_thread_styles_each_role_and_links_a_replys_sources(
    login, owner, conversation, bot_reply, knowledge
):
    say(conversation, "system", "A member of our team has joined the conversation.")
    say(conversation, "staff", "Hello, Sam here.", author=owner)
    html = login(Role.VIEWER).get(url("conversation", conversation)).content.decode()
    for role in ("shopper", "bot", "system", "staff"):
        assert f'class="msg msg-{role}' in html
    assert "Hello, Sam here." in html and "owner@example.com" in html
    sources = re.search(r'data-testid="sources">.*?</div>', html, re.DOTALL).group(0)
    assert f'href="{reverse("chat:knowledge_item", args=[knowledge["returns"].pk])}"' in sources
    product_id = bot_reply.sources[1]["id"]
    assert f'href="{reverse("catalog:product_detail", args=[product_id])}"' in sources
    assert "How do I return an item?" in sources and "Trail bottle" in sources
    assert "from https://shop.example" in html


def test_a_knowledge_source_link_leads_to_the_item_in_the_list(login, knowledge):
    response = login().get(reverse("chat:knowledge_item", args=[knowledge["returns"].pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("chat:knowledge") + f"#knowledge-{knowledge['returns'].pk}"


def test_handoff_reason_and_the_handoff_reply_are_shown(login, conversation):
    say(conversation, "shopper", "I want a refund dispute")
    say(conversation, "bot", "I'm passing you to a person.", handoff=True)
    Conversation.objects.filter(pk=conversation.pk).update(status="handed_off", handoff_reason="sensitive")
    html = login().get(url("conversation", conversation)).content.decode()
    assert 'data-testid="handoff-reason">Sensitive topic' in html
    assert "Handed off: sensitive topic" in html
    assert "Waiting for a person" in html
    assert 'data-testid="send-reply"' in html  # anyone who can act may answer straight away


def test_model_and_shopper_text_are_escaped(login, conversation):
    say(conversation, "shopper", SCRIPT)
    say(conversation, "bot", f"Here: {SCRIPT}", sources=[{"type": "knowledge", "id": 1, "title": SCRIPT}])
    html = login().get(url("conversation", conversation)).content.decode()
    assert SCRIPT not in html
    assert html.count("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;") >= 3


def test_a_pending_reply_shows_the_typing_indicator_and_a_streaming_one_its_text(login, conversation):
    say(conversation, "shopper", "Hi")
    pending = say(conversation, "bot", status="pending")
    html = login().get(url("conversation", conversation)).content.decode()
    item = re.search(rf'id="message-{pending.pk}".*?</li>', html, re.DOTALL).group(0)
    assert 'class="typing"' in item and "The bot is writing" in item
    Message.objects.filter(pk=pending.pk).update(status="streaming", text="Our returns")
    html = login().get(url("conversation", conversation)).content.decode()
    item = re.search(rf'id="message-{pending.pk}".*?</li>', html, re.DOTALL).group(0)
    assert "Our returns" in item and "stream-caret" in item and "rate-up" not in item


def test_a_reply_dropped_because_staff_took_over_says_so_and_takes_no_feedback(login, conversation):
    say(conversation, "shopper", "Hi")
    dropped = say(
        conversation,
        "bot",
        status="failed",
        error="Not answered: the conversation was handed_off before the reply was written.",
    )
    html = login().get(url("conversation", conversation)).content.decode()
    item = re.search(rf'id="message-{dropped.pk}".*?</li>', html, re.DOTALL).group(0)
    assert "Not sent: Not answered: the conversation was handed_off" in item
    assert "rate-up" not in item and "correct-open" not in item


def test_the_page_starts_polling_after_the_last_settled_message(login, conversation):
    first = say(conversation, "shopper", "Hi")
    pending = say(conversation, "bot", status="pending")
    html = login().get(url("conversation", conversation)).content.decode()
    poller = re.search(r'<div id="thread-poller"[^>]*>', html).group(0)
    assert f"after={first.pk}&amp;seen={pending.pk}" in poller
    assert 'hx-trigger="every 2s, chat-refresh from:body"' in poller


# ---------- Live updates ----------


def updates(client, conversation, *, after, seen, state="open:", composer="open"):
    return client.get(
        url("conversation_updates", conversation),
        {"after": after, "seen": seen, "state": state, "composer": composer},
        **HTMX,
    )


def test_updates_append_new_messages_and_replace_unfinished_ones(login, conversation):
    first = say(conversation, "shopper", "Hi")
    reply = say(conversation, "bot", "Hel", status="streaming")
    client = login()
    html = updates(client, conversation, after=first.pk, seen=reply.pk).content.decode()
    # The streaming reply is sent again, to replace the copy on the page; nothing new, state unchanged.
    assert f'id="message-{reply.pk}"' in html and 'hx-swap-oob="true"' in html
    assert "beforeend:#thread-messages" not in html and 'id="conversation-panel"' not in html
    assert f"after={first.pk}&amp;seen={reply.pk}" in html

    Message.objects.filter(pk=reply.pk).update(status="complete", text="Hello! How can I help?")
    new = say(conversation, "shopper", "Where is my parcel?")
    html = updates(client, conversation, after=first.pk, seen=reply.pk).content.decode()
    appended = re.search(r'<ol hx-swap-oob="beforeend:#thread-messages">(.*?)</ol>', html, re.DOTALL).group(1)
    assert f'id="message-{new.pk}"' in appended and "Where is my parcel?" in appended
    replaced = re.search(rf'<li id="message-{reply.pk}"[^>]*>', html).group(0)
    assert 'hx-swap-oob="true"' in replaced and "Hello! How can I help?" in html
    # Everything is settled now: the next poll starts after the newest message.
    assert f"after={new.pk}&amp;seen={new.pk}" in html


def test_updates_refresh_the_panel_and_composer_when_the_state_changed(login, conversation):
    say(conversation, "shopper", "I want to talk to a human")
    notice = say(conversation, "bot", "A person will reply here.", handoff=True)
    Conversation.objects.filter(pk=conversation.pk).update(status="handed_off", handoff_reason="requested")
    html = updates(login(), conversation, after=0, seen=notice.pk).content.decode()
    panel = re.search(r'<aside id="conversation-panel"[^>]*>', html).group(0)
    assert 'hx-swap-oob="true"' in panel and 'data-status="handed_off"' in panel
    assert re.search(r'<div id="composer"[^>]*hx-swap-oob="true"', html)
    assert 'value="handed_off:"' in html  # the panel's new state, which the next poll sends back
    html = updates(
        login(), conversation, after=notice.pk, seen=notice.pk, state="handed_off:", composer="handed_off"
    ).content.decode()
    assert 'id="conversation-panel"' not in html and 'id="composer"' not in html


def test_updates_need_htmx_and_belong_to_the_merchant(login, conversation, other_merchant):
    client = login()
    response = client.get(url("conversation_updates", conversation))
    assert response.status_code == 302 and response["Location"] == url("conversation", conversation)
    theirs = Conversation.objects.create(merchant=other_merchant, source="widget")
    assert updates(client, theirs, after=0, seen=0).status_code == 404
    assert client.get(url("conversation", theirs)).status_code == 404
    bad = client.get(url("conversation_updates", conversation), {"after": "x", "seen": "-3"}, **HTMX)
    assert bad.status_code == 200  # junk cursors count as 0


# ---------- Actions ----------


def test_take_over_assigns_me_and_answers_with_the_panel_and_composer(login, owner, conversation):
    say(conversation, "shopper", "Hi")
    response = login().post(url("take_over", conversation), **HTMX)
    assert response.status_code == 200 and response["HX-Trigger"] == "chat-refresh"
    conversation = reload(conversation)
    assert (conversation.status, conversation.assigned_to, conversation.handoff_reason) == (
        "handed_off",
        owner,
        "staff",
    )
    html = response.content.decode()
    assert 'data-testid="action-notice"' in html and "You have taken over" in html
    assert "You are answering this shopper" in html
    assert (
        re.search(r'<div id="composer"[^>]*hx-swap-oob="true"', html) and 'data-testid="send-reply"' in html
    )
    assert 'data-testid="take-over"' not in html and 'data-testid="hand-back"' in html
    assert conversation.messages.filter(role="system").exists()


def test_taking_over_a_handed_off_conversation_keeps_the_typed_reply(login, owner, conversation):
    Conversation.objects.filter(pk=conversation.pk).update(status="handed_off", handoff_reason="requested")
    html = login().post(url("take_over", conversation), **HTMX).content.decode()
    assert reload(conversation).assigned_to == owner
    assert 'id="composer"' not in html  # the status did not change: the composer (and its text) stays
    assert 'data-testid="handoff-reason">Shopper asked for a person' in html


def test_reply_sends_a_staff_message_and_comes_back_empty(login, owner, conversation):
    Conversation.objects.filter(pk=conversation.pk).update(status="handed_off", handoff_reason="requested")
    response = login().post(url("reply", conversation), {"text": "  Hi, I'm Sam from support.  "}, **HTMX)
    assert response.status_code == 200
    message = conversation.messages.get(role="staff")
    assert (message.text, message.author) == ("Hi, I'm Sam from support.", owner)
    assert reload(conversation).assigned_to == owner  # replying to an unassigned conversation takes it over
    composer = re.search(r'<div id="composer".*?</form>', response.content.decode(), re.DOTALL).group(0)
    assert "Sam from support" not in composer


def test_an_empty_or_oversized_reply_is_refused_with_the_text_kept(login, conversation):
    Conversation.objects.filter(pk=conversation.pk).update(status="handed_off")
    client = login()
    response = client.post(url("reply", conversation), {"text": "   "}, **HTMX)
    assert response.status_code == 422 and "This field is required." in response.content.decode()
    response = client.post(url("reply", conversation), {"text": "x" * 4001}, **HTMX)
    assert response.status_code == 422 and "x" * 4001 in response.content.decode()
    assert not conversation.messages.filter(role="staff").exists()


def test_hand_back_returns_the_conversation_to_the_bot(login, owner, conversation):
    Conversation.objects.filter(pk=conversation.pk).update(status="handed_off", assigned_to=owner)
    html = login().post(url("hand_back", conversation), **HTMX).content.decode()
    conversation = reload(conversation)
    assert (conversation.status, conversation.assigned_to) == ("open", None)
    assert "Handed back" in html and "The bot is answering" in html
    # Handing back a conversation the bot already serves is refused and says why.
    response = login().post(url("hand_back", conversation), **HTMX)
    assert response.status_code == 409
    assert "Only a conversation with a person can be handed back" in response.content.decode()


def test_resolve_without_javascript_redirects_back_with_a_message(login, conversation):
    response = login().post(url("resolve", conversation), follow=True)
    assert response.redirect_chain[-1][0] == url("conversation", conversation)
    assert reload(conversation).status == "resolved"
    html = response.content.decode()
    assert "Resolved." in html and 'data-testid="resolve"' not in html


def test_reviewers_and_editors_act_too(login, conversation):
    assert login(Role.REVIEWER).post(url("take_over", conversation), **HTMX).status_code == 200
    assert login(Role.EDITOR).post(url("resolve", conversation), **HTMX).status_code == 200
    assert reload(conversation).status == "resolved"


def test_viewers_only_read(login, conversation, bot_reply):
    client = login(Role.VIEWER)
    html = client.get(url("conversation", conversation)).content.decode()
    assert 'data-testid="read-only-note"' in html
    for action in ("take-over", "resolve", "send-reply", "rate-up", "correct-open"):
        assert f'data-testid="{action}"' not in html
    for name in ("take_over", "hand_back", "resolve"):
        assert client.post(url(name, conversation), **HTMX).status_code == 403
    assert client.post(url("reply", conversation), {"text": "hi"}, **HTMX).status_code == 403
    assert (
        client.post(url("message_rate", conversation, bot_reply.pk), {"rating": "1"}, **HTMX).status_code
        == 403
    )
    assert (
        client.post(
            url("message_correct", conversation, bot_reply.pk), {"correction": "No"}, **HTMX
        ).status_code
        == 403
    )
    conversation = reload(conversation)
    assert (
        conversation.status == "open"
        and not conversation.messages.filter(role__in=["staff", "system"]).exists()
    )
    assert (reload(bot_reply).rating, bot_reply.correction) == (None, "")


def test_another_merchants_conversation_answers_404_to_every_action(login, other_merchant):
    theirs = Conversation.objects.create(merchant=other_merchant, source="widget")
    reply = say(theirs, "bot", "Their reply")
    client = login()
    for name in ("take_over", "hand_back", "resolve"):
        assert client.post(url(name, theirs), **HTMX).status_code == 404
    assert client.post(url("reply", theirs), {"text": "hi"}, **HTMX).status_code == 404
    assert client.post(url("message_rate", theirs, reply.pk), {"rating": "1"}, **HTMX).status_code == 404
    assert reload(theirs).status == "open" and reload(reply).rating is None


def test_a_message_of_another_conversation_is_not_found_through_mine(login, conversation, other_merchant):
    theirs = Conversation.objects.create(merchant=other_merchant, source="widget")
    their_reply = say(theirs, "bot", "Their reply")
    response = login().post(url("message_rate", conversation, their_reply.pk), {"rating": "1"}, **HTMX)
    assert response.status_code == 404 and reload(their_reply).rating is None


# ---------- Feedback on bot replies ----------


def test_rating_a_reply_and_pressing_again_takes_it_back(login, conversation, bot_reply):
    client = login()
    response = client.post(url("message_rate", conversation, bot_reply.pk), {"rating": "1"}, **HTMX)
    assert response.status_code == 200 and reload(bot_reply).rating == 1
    html = response.content.decode()
    assert html.startswith(f'<li id="message-{bot_reply.pk}"') or f'<li id="message-{bot_reply.pk}"' in html
    assert 'aria-pressed="true" aria-label="Good reply"' in html and "Rated good" in html
    client.post(url("message_rate", conversation, bot_reply.pk), {"rating": "-1"}, **HTMX)
    assert reload(bot_reply).rating == -1
    client.post(url("message_rate", conversation, bot_reply.pk), {"rating": "-1"}, **HTMX)
    assert reload(bot_reply).rating is None
    assert (
        client.post(url("message_rate", conversation, bot_reply.pk), {"rating": "5"}, **HTMX).status_code
        == 400
    )


def test_only_bot_replies_take_feedback(login, conversation, bot_reply):
    shopper = conversation.messages.get(role="shopper")
    assert (
        login().post(url("message_rate", conversation, shopper.pk), {"rating": "1"}, **HTMX).status_code
        == 404
    )


def test_correcting_a_reply_saves_the_correction(login, owner, conversation, bot_reply):
    client = login()
    response = client.post(
        url("message_correct", conversation, bot_reply.pk),
        {"correction": "Yes, within 30 days of delivery."},
        **HTMX,
    )
    assert response.status_code == 200
    bot_reply = reload(bot_reply)
    assert (bot_reply.correction, bot_reply.corrected_by) == ("Yes, within 30 days of delivery.", owner)
    html = response.content.decode()
    assert 'data-testid="correction"' in html and "Correction by owner@example.com" in html
    assert "Edit the correction" in html

    response = client.post(
        url("message_correct", conversation, bot_reply.pk), {"correction": "y" * 4001}, **HTMX
    )
    assert response.status_code == 422 and '<details class="correct-box" open>' in response.content.decode()
    assert reload(bot_reply).correction == "Yes, within 30 days of delivery."

    # Saving it blank clears it.
    client.post(url("message_correct", conversation, bot_reply.pk), {"correction": ""}, **HTMX)
    assert reload(bot_reply).correction == ""


def test_feedback_without_javascript_returns_to_the_message(login, conversation, bot_reply):
    response = login().post(url("message_rate", conversation, bot_reply.pk), {"rating": "1"})
    assert response.status_code == 302
    assert response["Location"] == url("conversation", conversation) + f"#message-{bot_reply.pk}"
