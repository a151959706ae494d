"""The storefront widget's public endpoints: the token, the merchant's allowed origins (CORS, preflight),
the per-conversation session secret, the switch, rate limits, polling and the reply stream."""

import json

import pytest

from chat.models import ChatSettings, Conversation, Message
from ml.engine.chat import handoff_notice

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example"


@pytest.fixture(autouse=True)
def no_worker(monkeypatch):
    queued = []
    monkeypatch.setattr("chat.conversations.services.reply_enqueue", queued.append)
    monkeypatch.setattr("chat.conversations.services.product_vectors_refresh_soon", lambda **kw: None)
    return queued


@pytest.fixture
def widget(chat_settings):
    return f"/widget/{chat_settings.widget_token}"


def start(client, widget, origin=SHOP):
    response = client.post(
        f"{widget}/conversations/", {}, content_type="application/json", HTTP_ORIGIN=origin
    )
    assert response.status_code == 201, response.content
    return response.json()


def post(client, widget, conversation, text, *, secret=None, origin=SHOP):
    return client.post(
        f"{widget}/conversations/{conversation['id']}/messages/",
        {"text": text},
        content_type="application/json",
        HTTP_ORIGIN=origin,
        HTTP_X_WIDGET_SESSION=conversation["session_secret"] if secret is None else secret,
    )


# --- token, origin, switch ---------------------------------------------------------------------------------


def test_config_for_an_allowed_origin_echoes_it(client, widget, chat_settings):
    response = client.get(f"{widget}/config", HTTP_ORIGIN=SHOP)
    assert response.status_code == 200
    assert response.json()["bot_name"] == chat_settings.bot_name
    assert response.json()["greeting"] == chat_settings.greeting
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert "Origin" in response["Vary"]
    assert client.get(f"{widget}/config/", HTTP_ORIGIN=SHOP).status_code == 200


def test_an_unknown_origin_is_refused_without_cors_headers(client, widget):
    for origin in ("https://evil.example", "https://shop.example.evil.com", "null", "http://shop.example"):
        response = client.get(f"{widget}/config", HTTP_ORIGIN=origin)
        assert response.status_code == 403, origin
        assert "Access-Control-Allow-Origin" not in response
        assert response.json()["code"] == "permission_denied"
    response = client.post(
        f"{widget}/conversations/", {}, content_type="application/json", HTTP_ORIGIN="https://evil.example"
    )
    assert response.status_code == 403 and not Conversation.objects.exists()


def test_same_origin_and_non_browser_requests_pass(client, widget):
    same = client.get(f"{widget}/config", HTTP_ORIGIN="http://testserver")
    assert same.status_code == 200 and same["Access-Control-Allow-Origin"] == "http://testserver"
    plain = client.get(f"{widget}/config")
    assert plain.status_code == 200 and "Access-Control-Allow-Origin" not in plain


def test_preflight(client, widget):
    url = f"{widget}/conversations/1/messages/"
    ok = client.options(
        url,
        HTTP_ORIGIN=SHOP,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type, x-widget-session",
    )
    assert ok.status_code == 204
    assert ok["Access-Control-Allow-Origin"] == SHOP
    assert "POST" in ok["Access-Control-Allow-Methods"]
    assert "X-Widget-Session" in ok["Access-Control-Allow-Headers"]
    assert int(ok["Access-Control-Max-Age"]) > 0
    denied = client.options(
        url, HTTP_ORIGIN="https://evil.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert denied.status_code == 403 and "Access-Control-Allow-Origin" not in denied


def test_unknown_token_is_404(client):
    response = client.get("/widget/wgt_not-a-real-token/config", HTTP_ORIGIN=SHOP)
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert "Access-Control-Allow-Origin" not in response


def test_a_switched_off_widget_is_403_but_readable_by_the_shop(client, widget, chat_settings):
    ChatSettings.objects.filter(pk=chat_settings.pk).update(widget_enabled=False)
    response = client.get(f"{widget}/config", HTTP_ORIGIN=SHOP)
    assert response.status_code == 403 and "switched off" in response.json()["message"]
    assert response["Access-Control-Allow-Origin"] == SHOP  # so the widget can tell why


# --- conversations and the session secret ------------------------------------------------------------------


def test_start_post_and_poll(client, widget, merchant, no_worker):
    conversation = start(client, widget)
    assert len(conversation["session_secret"]) >= 40 and conversation["status"] == "open"
    stored = Conversation.objects.get(pk=conversation["id"])
    assert (stored.merchant, stored.source, stored.origin) == (merchant, "widget", SHOP)

    response = post(client, widget, conversation, "<img src=x onerror=alert(1)> Where is my parcel?")
    assert response.status_code == 201 and response["Access-Control-Allow-Origin"] == SHOP
    body = response.json()
    assert (
        body["shopper_message"]["text"] == "<img src=x onerror=alert(1)> Where is my parcel?"
    )  # JSON, as sent
    assert body["reply"]["status"] == "pending" and body["reply"]["role"] == "bot"
    assert Message.objects.get(pk=body["reply"]["id"]).params == {"stream": True}
    assert set(body["reply"]) == {"id", "role", "text", "status", "handoff", "sources", "created_at"}

    secret = {"HTTP_X_WIDGET_SESSION": conversation["session_secret"], "HTTP_ORIGIN": SHOP}
    polled = client.get(f"{widget}/conversations/{conversation['id']}/messages/", **secret).json()
    assert [m["role"] for m in polled["messages"]] == ["shopper", "bot"] and polled[
        "conversation_status"
    ] == "open"
    after = client.get(
        f"{widget}/conversations/{conversation['id']}/messages/?after={body['shopper_message']['id']}",
        **secret,
    ).json()
    assert [m["id"] for m in after["messages"]] == [body["reply"]["id"]]
    bad = client.get(f"{widget}/conversations/{conversation['id']}/messages/?after=x", **secret)
    assert bad.status_code == 400

    # A reply dropped because staff took over is not shown to the shopper.
    Message.objects.filter(pk=body["reply"]["id"]).update(status="failed", text="", error="taken over")
    polled = client.get(f"{widget}/conversations/{conversation['id']}/messages/", **secret).json()
    assert [m["role"] for m in polled["messages"]] == ["shopper"]


def test_handoff_through_the_widget(client, widget):
    conversation = start(client, widget)
    body = post(client, widget, conversation, "I need a real person").json()
    assert body["handoff"] is True and body["reply"]["text"] == handoff_notice("requested")
    assert body["conversation_status"] == "handed_off"


def test_wrong_or_missing_session_secret_is_404(client, widget):
    conversation = start(client, widget)
    assert post(client, widget, conversation, "hi", secret="guess").status_code == 404
    assert post(client, widget, conversation, "hi", secret="").status_code == 404
    url = f"{widget}/conversations/{conversation['id']}/messages/"
    assert client.get(url, HTTP_ORIGIN=SHOP).status_code == 404
    assert client.get(url, HTTP_ORIGIN=SHOP, HTTP_X_WIDGET_SESSION="x" * 43).status_code == 404
    assert not Message.objects.exists()


def test_existing_and_missing_conversation_ids_answer_alike(client, widget, merchant, other_merchant):
    """Another session's, another widget's and a nonexistent conversation: same status, body and headers, so
    the answers do not reveal which ids exist."""
    mine = start(client, widget)
    another_session = start(client, widget)
    theirs = ChatSettings.objects.create(merchant=other_merchant, allowed_origins=[SHOP])
    their_conversation = start(client, f"/widget/{theirs.widget_token}")
    missing_id = Conversation.objects.order_by("-pk").first().pk + 1000
    answers = []
    for conversation_id in (another_session["id"], their_conversation["id"], missing_id):
        for method in ("get", "post"):
            response = getattr(client, method)(
                f"{widget}/conversations/{conversation_id}/messages/",
                *([{"text": "hi"}] if method == "post" else []),
                content_type="application/json",
                HTTP_ORIGIN=SHOP,
                HTTP_X_WIDGET_SESSION=mine["session_secret"],
            )
            answers.append(
                (response.status_code, response.content, response.get("Access-Control-Allow-Origin"))
            )
        stream = client.get(
            f"{widget}/conversations/{conversation_id}/stream/?message=1",
            HTTP_ORIGIN=SHOP,
            HTTP_X_WIDGET_SESSION=mine["session_secret"],
        )
        answers.append((stream.status_code, stream.content, stream.get("Access-Control-Allow-Origin")))
    assert answers[0] == (404, b'{"message":"No such conversation.","code":"not_found"}', SHOP)
    assert set(answers) == {answers[0]}
    assert not Message.objects.exists()


def test_other_conversations_are_404_through_this_widget(client, widget, merchant, other_merchant):
    theirs = ChatSettings.objects.create(merchant=other_merchant, allowed_origins=[SHOP])
    their_conversation = start(client, f"/widget/{theirs.widget_token}")
    api_conversation = Conversation.objects.create(merchant=merchant, source="api")
    for conversation_id, secret in (
        (their_conversation["id"], their_conversation["session_secret"]),
        (api_conversation.pk, ""),
    ):
        response = client.post(
            f"{widget}/conversations/{conversation_id}/messages/",
            {"text": "hi"},
            content_type="application/json",
            HTTP_ORIGIN=SHOP,
            HTTP_X_WIDGET_SESSION=secret or "x",
        )
        assert response.status_code == 404
    assert not Message.objects.exists()


def test_bad_message_bodies_are_400(client, widget):
    conversation = start(client, widget)
    assert post(client, widget, conversation, "").status_code == 400
    assert post(client, widget, conversation, "x" * 2001).status_code == 400
    response = client.post(
        f"{widget}/conversations/{conversation['id']}/messages/",
        "not json",
        content_type="application/json",
        HTTP_ORIGIN=SHOP,
        HTTP_X_WIDGET_SESSION=conversation["session_secret"],
    )
    assert response.status_code == 400


# --- rate limits -------------------------------------------------------------------------------------------


@pytest.fixture
def frozen_minute(monkeypatch):
    """Thirty seconds into a fixed minute, so the one-minute window cannot turn over mid-test."""
    now = 1_900_000_000 - 1_900_000_000 % 60 + 30
    monkeypatch.setattr("chat.api.widget.time.time", lambda: now)


def test_posting_is_rate_limited_per_session(client, widget, chat_settings, frozen_minute):
    ChatSettings.objects.filter(pk=chat_settings.pk).update(rate_limit_per_minute=3)
    conversation = start(client, widget)
    other = start(client, widget)
    assert [post(client, widget, conversation, f"question {i}").status_code for i in range(3)] == [201] * 3
    limited = post(client, widget, conversation, "one more")
    assert limited.status_code == 429
    assert limited["Retry-After"] == "30"
    assert (
        limited["Access-Control-Allow-Origin"] == SHOP
        and "Retry-After" in limited["Access-Control-Expose-Headers"]
    )
    assert limited.json()["code"] == "throttled"
    assert Message.objects.filter(conversation_id=conversation["id"], role="shopper").count() == 3
    assert post(client, widget, other, "my own session").status_code == 201  # another shopper is not limited


def test_starting_conversations_is_rate_limited_per_client(client, widget, settings, frozen_minute):
    settings.CHAT_WIDGET_STARTS_PER_MINUTE = 2
    codes = [
        client.post(
            f"{widget}/conversations/", {}, content_type="application/json", HTTP_ORIGIN=SHOP
        ).status_code
        for _ in range(4)
    ]
    assert codes == [201, 201, 429, 429]
    other_client = client.post(
        f"{widget}/conversations/",
        {},
        content_type="application/json",
        HTTP_ORIGIN=SHOP,
        REMOTE_ADDR="10.0.0.9",
    )
    assert other_client.status_code == 201


def test_start_limit_ignores_a_spoofed_forwarded_for_without_a_trusted_proxy(
    client, widget, settings, frozen_minute
):
    settings.CHAT_WIDGET_STARTS_PER_MINUTE = 2
    settings.TRUSTED_PROXY_COUNT = 0
    codes = [
        client.post(
            f"{widget}/conversations/",
            {},
            content_type="application/json",
            HTTP_ORIGIN=SHOP,
            REMOTE_ADDR="192.0.2.10",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",  # a new made-up address each time
        ).status_code
        for n in range(3)
    ]
    assert codes == [201, 201, 429]


def test_start_limit_is_per_shopper_behind_a_trusted_proxy(client, widget, settings, frozen_minute):
    """Behind one proxy every request comes from the proxy's address; the shopper is the right-most
    X-Forwarded-For entry, so two shoppers have their own buckets."""
    settings.CHAT_WIDGET_STARTS_PER_MINUTE = 2
    settings.TRUSTED_PROXY_COUNT = 1

    def start_as(forwarded_for):
        return client.post(
            f"{widget}/conversations/",
            {},
            content_type="application/json",
            HTTP_ORIGIN=SHOP,
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=forwarded_for,
        ).status_code

    # The first shopper forges a different left-hand entry each time; only the proxy's entry counts.
    assert [start_as(f"1.2.3.{n}, 203.0.113.7") for n in range(3)] == [201, 201, 429]
    assert start_as("203.0.113.8") == 201


# --- the reply stream --------------------------------------------------------------------------------------


def test_stream_of_a_finished_reply(client, widget):
    conversation = start(client, widget)
    reply_id = post(client, widget, conversation, "Do you ship to Canada?").json()["reply"]["id"]
    Message.objects.filter(pk=reply_id).update(
        status="complete",
        text="Yes, we ship to Canada.",
        sources=[{"type": "knowledge", "id": 1, "title": "Shipping", "score": 0.8}],
        prompt="SECRET PROMPT",
    )
    response = client.get(
        f"{widget}/conversations/{conversation['id']}/stream/?message={reply_id}",
        HTTP_ORIGIN=SHOP,
        HTTP_X_WIDGET_SESSION=conversation["session_secret"],
        HTTP_ACCEPT="text/event-stream",
    )
    assert response.status_code == 200 and response["Access-Control-Allow-Origin"] == SHOP
    raw = b"".join(response.streaming_content).decode()
    assert raw.startswith("event: done\n") and "SECRET PROMPT" not in raw
    done = json.loads(raw.split("data: ", 1)[1])
    assert (done["text"], done["status"], done["conversation_status"]) == (
        "Yes, we ship to Canada.",
        "complete",
        "open",
    )
    assert done["sources"] == [{"type": "knowledge", "title": "Shipping"}]


def test_stream_needs_the_secret_and_a_bot_reply(client, widget):
    conversation = start(client, widget)
    shopper_id = post(client, widget, conversation, "Hello").json()["shopper_message"]["id"]
    url = f"{widget}/conversations/{conversation['id']}/stream/"
    assert client.get(f"{url}?message={shopper_id}", HTTP_ORIGIN=SHOP).status_code == 404
    secret = {"HTTP_ORIGIN": SHOP, "HTTP_X_WIDGET_SESSION": conversation["session_secret"]}
    assert client.get(f"{url}?message={shopper_id}", **secret).status_code == 404
    assert client.get(f"{url}?message=abc", **secret).status_code == 400
    assert client.get(f"{url}?message=999999", **secret).status_code == 404
