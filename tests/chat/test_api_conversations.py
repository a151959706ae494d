"""The chat API: starting conversations, posting a shopper message and getting the reply (201 when it is
ready in time, 202 with a poll URL when not, at once for a handoff), streaming it as Server-Sent Events,
listing messages; scopes, outsiders and bad input."""

import json
import threading
import time

import pytest
from django.db import connection

from chat.models import Conversation, Message
from chat.replies.run import reply_generate_run
from ml.engine.chat import handoff_notice
from tests.chat.conftest import ScriptedGenerator

pytestmark = pytest.mark.django_db

URL = "/api/v1/chat/conversations/"


@pytest.fixture(autouse=True)
def short_wait(settings):
    settings.CHAT_REPLY_WAIT_SECONDS = 0.3


@pytest.fixture
def no_worker(monkeypatch):
    queued = []
    monkeypatch.setattr("chat.conversations.services.reply_enqueue", queued.append)
    monkeypatch.setattr("chat.conversations.services.product_vectors_refresh_soon", lambda **kw: None)
    return queued


def start(client, **body):
    response = client.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


# --- conversations -----------------------------------------------------------------------------------------


def test_start_list_and_get(api_client, no_worker):
    body = start(api_client, customer_external_id="cust-42")
    assert (body["source"], body["status"], body["customer_external_id"]) == ("api", "open", "cust-42")
    assert "session_secret" not in body
    listed = api_client.get(URL).json()
    assert [row["id"] for row in listed["results"]] == [body["id"]]
    assert api_client.get(URL, {"status": "open"}).json()["count"] == 1
    assert api_client.get(URL, {"status": "resolved"}).json()["count"] == 0
    assert api_client.get(f"{URL}{body['id']}/").json()["id"] == body["id"]


def test_start_accepts_an_empty_body(api_client, no_worker):
    assert api_client.post(URL, {}, format="json").status_code == 201


def test_bad_input_answers_400_with_field_errors(api_client, no_worker):
    response = api_client.post(URL, {"customer_external_id": "x" * 201}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and "customer_external_id" in response.json()["field_errors"]
    response = api_client.get(URL, {"status": "sleeping"})
    assert response.status_code == 400 and "status" in response.json()["field_errors"]


def test_keys_need_the_right_scope(make_api_client, merchant, no_worker):
    reader = make_api_client(merchant, scopes=("read",))
    response = reader.post(URL, {}, format="json")
    assert response.status_code == 403 and "'write'" in response.json()["message"]
    assert reader.get(URL).status_code == 200
    conversation = Conversation.objects.create(merchant=merchant)
    assert reader.post(f"{URL}{conversation.pk}/messages/", {"text": "hi"}, format="json").status_code == 403
    assert reader.get(f"{URL}{conversation.pk}/messages/").status_code == 200
    writer = make_api_client(merchant, scopes=("write",))
    assert writer.get(URL).status_code == 403


def test_no_key_is_401(client):
    response = client.post(URL, {}, content_type="application/json")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_outsiders_get_404(api_client, outsider_api_client, no_worker):
    conversation = start(api_client)
    reply = api_client.post(f"{URL}{conversation['id']}/messages/", {"text": "Hello"}, format="json").json()
    base = f"{URL}{conversation['id']}/"
    assert outsider_api_client.get(base).status_code == 404
    assert outsider_api_client.get(f"{base}messages/").status_code == 404
    assert outsider_api_client.post(f"{base}messages/", {"text": "hi"}, format="json").status_code == 404
    assert outsider_api_client.get(f"{base}messages/{reply['reply']['id']}/").status_code == 404
    assert outsider_api_client.get(URL).json()["count"] == 0
    assert Message.objects.filter(conversation_id=conversation["id"]).count() == 2  # nothing was added


# --- messages ----------------------------------------------------------------------------------------------


def test_a_reply_not_ready_in_time_answers_202_with_a_poll_url(
    api_client, no_worker, django_capture_on_commit_callbacks
):
    conversation = start(api_client)
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            f"{URL}{conversation['id']}/messages/", {"text": "Is the bottle dishwasher safe?"}, format="json"
        )
    assert 0.3 <= time.monotonic() - started < 5
    assert response.status_code == 202
    body = response.json()
    assert body["shopper_message"]["text"] == "Is the bottle dishwasher safe?"
    assert (body["reply"]["status"], body["handoff"], body["conversation_status"]) == (
        "pending",
        False,
        "open",
    )
    assert no_worker == [body["reply"]["id"]]
    poll = api_client.get(body["poll_url"])
    assert poll.status_code == 200 and poll.json()["id"] == body["reply"]["id"]
    assert (
        body["poll_url"] == f"/api/v1/chat/conversations/{conversation['id']}/messages/{body['reply']['id']}/"
    )


def test_asking_for_a_person_answers_201_at_once_with_the_handoff(api_client, no_worker):
    conversation = start(api_client)
    response = api_client.post(
        f"{URL}{conversation['id']}/messages/", {"text": "Let me talk to a human please"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["reply"]["text"] == handoff_notice("requested") and body["reply"]["handoff"] is True
    assert (body["handoff"], body["conversation_status"]) == (True, "handed_off")
    # Staff are answering now: the next message gets no bot reply.
    response = api_client.post(f"{URL}{conversation['id']}/messages/", {"text": "Hello?"}, format="json")
    assert response.status_code == 201
    assert response.json()["reply"] is None and response.json()["handoff"] is True


@pytest.mark.parametrize(
    "body, field",
    [({"text": ""}, "text"), ({"text": "x" * 2001}, "text"), ({}, "text"), ({"text": ["a"]}, "text")],
)
def test_bad_messages_answer_400(api_client, no_worker, body, field):
    conversation = start(api_client)
    response = api_client.post(f"{URL}{conversation['id']}/messages/", body, format="json")
    assert response.status_code == 400 and field in response.json()["field_errors"]
    assert not Message.objects.exists()


def test_listing_messages_after_an_id(api_client, no_worker):
    conversation = start(api_client)
    first = api_client.post(f"{URL}{conversation['id']}/messages/", {"text": "One"}, format="json").json()
    rows = api_client.get(f"{URL}{conversation['id']}/messages/").json()["results"]
    assert [(r["role"], r["status"]) for r in rows] == [("shopper", "complete"), ("bot", "pending")]
    after = api_client.get(
        f"{URL}{conversation['id']}/messages/", {"after_id": first["shopper_message"]["id"]}
    )
    assert [r["id"] for r in after.json()["results"]] == [first["reply"]["id"]]
    assert "prompt" not in rows[1] and "error" not in rows[1]
    bad = api_client.get(f"{URL}{conversation['id']}/messages/", {"after_id": "x"})
    assert bad.status_code == 400 and "after_id" in bad.json()["field_errors"]


@pytest.mark.django_db(transaction=True)
def test_a_reply_ready_in_time_answers_201_with_sources(
    api_client, monkeypatch, knowledge, chat_model, embedder, settings
):
    settings.CHAT_REPLY_WAIT_SECONDS = 5
    generator = ScriptedGenerator("You can return unworn items within 30 days from your orders page.")
    monkeypatch.setattr(
        "chat.conversations.services.reply_enqueue",
        lambda message_id: reply_generate_run(message_id, generator=generator, embedder=embedder),
    )
    monkeypatch.setattr("chat.conversations.services.product_vectors_refresh_soon", lambda **kw: None)
    conversation = start(api_client)
    response = api_client.post(
        f"{URL}{conversation['id']}/messages/", {"text": "How do I return an item?"}, format="json"
    )
    assert response.status_code == 201, response.json()
    reply = response.json()["reply"]
    assert reply["status"] == "complete" and reply["text"].startswith("You can return unworn items")
    assert reply["sources"][0] == {
        "type": "knowledge",
        "id": knowledge["returns"].pk,
        "title": "How do I return an item?",
        "score": reply["sources"][0]["score"],
    }
    assert reply["model_version"] == chat_model.pk and reply["latency_ms"] is not None
    assert response.json()["handoff"] is False and response.json()["conversation_status"] == "open"


# --- streaming ---------------------------------------------------------------------------------------------


def _events(response) -> list[tuple[str, dict]]:
    raw = b"".join(response.streaming_content).decode()
    events = []
    for block in raw.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n") if not line.startswith(":"))
        events.append((lines["event"], json.loads(lines["data"])))
    return events


@pytest.mark.django_db(transaction=True)
def test_streaming_sends_deltas_then_the_whole_reply(api_client, no_worker, settings):
    settings.CHAT_REPLY_WAIT_SECONDS = 10
    conversation = start(api_client)

    def worker():
        # Stands in for the chat worker: the reply's text grows in its row, then it completes.
        while not Message.objects.filter(role="bot", status="pending").exists():
            time.sleep(0.02)
        reply = Message.objects.get(role="bot")
        Message.objects.filter(pk=reply.pk).update(status="streaming")
        for text in ("Orders ship", "Orders ship within 2", "Orders ship within 2 days."):
            time.sleep(0.15)
            Message.objects.filter(pk=reply.pk).update(text=text)
        time.sleep(0.15)
        Message.objects.filter(pk=reply.pk).update(status="complete", text="Orders ship within 2 days.")
        connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    response = api_client.post(
        f"{URL}{conversation['id']}/messages/?stream=1", {"text": "When will it ship?"}, format="json"
    )
    assert response.status_code == 200 and response["Content-Type"].startswith("text/event-stream")
    events = _events(response)
    thread.join()
    names = [name for name, _ in events]
    assert names[0] == "accepted" and names[-1] == "done"
    assert events[0][1]["shopper_message"]["text"] == "When will it ship?"
    assert events[0][1]["reply"]["status"] == "pending"
    deltas = "".join(data["text"] for name, data in events if name == "delta")
    assert deltas == "Orders ship within 2 days."
    done = events[-1][1]
    assert done["reply"]["text"] == "Orders ship within 2 days." and done["reply"]["status"] == "complete"
    assert done["conversation_status"] == "open"


def test_streaming_is_also_chosen_by_the_accept_header_and_times_out(api_client, no_worker, settings):
    settings.CHAT_REPLY_WAIT_SECONDS = 0.2
    conversation = start(api_client)
    response = api_client.post(
        f"{URL}{conversation['id']}/messages/",
        {"text": "Hi there"},
        format="json",
        HTTP_ACCEPT="text/event-stream",
    )
    events = _events(response)
    assert [name for name, _ in events] == ["accepted", "timeout"]
    assert events[-1][1]["poll_url"].endswith(f"/messages/{events[0][1]['reply']['id']}/")


def test_streaming_errors_are_still_json(api_client, no_worker):
    conversation = start(api_client)
    response = api_client.post(
        f"{URL}{conversation['id']}/messages/?stream=1",
        {"text": ""},
        format="json",
        HTTP_ACCEPT="text/event-stream",
    )
    assert response.status_code == 400 and json.loads(response.content)["field_errors"]["text"]


def test_the_schema_documents_the_chat_endpoints(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    paths = response.json()["paths"]
    assert {
        "/api/v1/chat/conversations/",
        "/api/v1/chat/conversations/{id}/messages/",
        "/api/v1/chat/conversations/{id}/messages/{message_id}/",
        "/api/v1/chat/knowledge/",
        "/api/v1/chat/knowledge/import/",
    } <= set(paths)
    post = paths["/api/v1/chat/conversations/{id}/messages/"]["post"]
    assert {"201", "202", "400", "404"} <= set(post["responses"])
    assert not any(path.startswith("/widget/") for path in paths)


def test_schema_generation_has_no_warnings():
    from django.core.management import call_command

    call_command("spectacular", "--fail-on-warn", "--file", "/dev/null")
