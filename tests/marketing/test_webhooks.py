"""Signed webhooks against a real HTTP receiver on loopback: it verifies the signature, fails the first
attempt with a 500 and accepts the retry; the delivery log shows both attempts under one idempotency key."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from accounts.services import Actor
from marketing.models import WebhookDelivery
from marketing.publishing.channels import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    retry_countdown,
    sign,
    verify,
)
from marketing.publishing.services import content_publish, content_unpublish, webhook_endpoint_create
from marketing.tasks import deliver_webhook_task

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def allow_loopback_receivers(settings):
    """These receivers run on loopback, which the SSRF guard refuses by default (tests/test_outbound.py)."""
    settings.OUTBOUND_ALLOW_PRIVATE = True


class Receiver:
    """Loopback HTTP server answering with the queued status codes (then 200) and recording requests."""

    def __init__(self, secret_holder: dict, answers: list[int]):
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                valid = verify(
                    secret_holder.get("secret", ""),
                    self.headers[TIMESTAMP_HEADER],
                    body,
                    self.headers[SIGNATURE_HEADER],
                )
                receiver.requests.append({"headers": dict(self.headers), "body": body, "valid": valid})
                code = answers.pop(0) if answers else 200
                if not valid:
                    code = 401
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"ok" if code == 200 else b"boom")

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/storyfront"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def _publish_with_endpoint(merchant, make_piece, django_capture_on_commit_callbacks, answers):
    holder: dict = {}
    receiver = Receiver(holder, answers)
    endpoint, secret = webhook_endpoint_create(
        merchant=merchant, actor=Actor.system("test"), url=receiver.url
    )
    holder["secret"] = secret
    piece = make_piece("approved", body="Cold for 24 hours. <script>x</script>")
    return receiver, endpoint, piece


def test_publish_sends_a_signed_webhook_and_retries_after_a_500(
    merchant, make_piece, django_capture_on_commit_callbacks, monkeypatch
):
    receiver, _, piece = _publish_with_endpoint(
        merchant, make_piece, django_capture_on_commit_callbacks, [500]
    )
    sent = []
    monkeypatch.setattr(deliver_webhook_task, "apply_async", lambda args, queue: sent.append((args, queue)))
    with django_capture_on_commit_callbacks(execute=True):
        content_publish(piece=piece, actor=Actor.system("test"))
    delivery = WebhookDelivery.objects.get()
    assert sent == [([delivery.pk], "default")]

    with receiver:
        # Eager apply runs the task's retries in-process without the countdown (a worker waits 30 s, 60 s...).
        result = deliver_webhook_task.apply(args=[delivery.pk])
    assert result.get() == "delivered"

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.status_code) == ("delivered", 2, 200)
    assert [a["status_code"] for a in delivery.attempt_log] == [500, 200]
    assert delivery.delivered_at is not None and delivery.next_retry_at is None
    assert len(receiver.requests) == 2 and all(r["valid"] for r in receiver.requests)
    keys = {r["headers"][IDEMPOTENCY_HEADER] for r in receiver.requests}
    assert keys == {delivery.idempotency_key}
    payload = json.loads(receiver.requests[1]["body"])
    assert payload["event"] == "content.published"
    assert payload["content"]["id"] == piece.pk and payload["content"]["body"] == piece.body
    assert payload["content"]["status"] == "published"

    # Delivered is final: a redelivered task sends nothing more.
    assert deliver_webhook_task.apply(args=[delivery.pk]).get().startswith("not delivered")
    assert WebhookDelivery.objects.get().attempts == 2


def test_a_wrong_secret_is_refused_by_the_receiver(
    merchant, make_piece, django_capture_on_commit_callbacks, monkeypatch
):
    holder = {"secret": "not-the-secret"}
    receiver = Receiver(holder, [])
    webhook_endpoint_create(merchant=merchant, actor=Actor.system("test"), url=receiver.url)
    monkeypatch.setattr("marketing.publishing.channels.WEBHOOK_MAX_ATTEMPTS", 2)
    monkeypatch.setattr(deliver_webhook_task, "apply_async", lambda args, queue: None)
    with django_capture_on_commit_callbacks(execute=True):
        content_publish(piece=make_piece("approved"), actor=Actor.system("test"))
    delivery = WebhookDelivery.objects.get()
    with receiver:
        deliver_webhook_task.apply(args=[delivery.pk])
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.status_code) == ("failed", 2, 401)
    assert delivery.response_excerpt == "boom"


def test_an_unreachable_endpoint_is_retried_then_given_up(
    merchant, make_piece, monkeypatch, django_capture_on_commit_callbacks
):
    webhook_endpoint_create(merchant=merchant, actor=Actor.system("test"), url="http://127.0.0.1:9/nothing")
    monkeypatch.setattr("marketing.publishing.channels.WEBHOOK_MAX_ATTEMPTS", 3)
    monkeypatch.setattr(deliver_webhook_task, "apply_async", lambda args, queue: None)
    with django_capture_on_commit_callbacks(execute=True):
        content_publish(piece=make_piece("approved"), actor=Actor.system("test"))
    delivery = WebhookDelivery.objects.get()
    deliver_webhook_task.apply(args=[delivery.pk])
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.status_code) == ("failed", 3, None)
    assert all(a["error"] for a in delivery.attempt_log)


def test_each_event_gets_its_own_key_and_only_subscribed_endpoints_get_it(
    merchant, make_piece, django_capture_on_commit_callbacks, monkeypatch
):
    actor = Actor.system("test")
    monkeypatch.setattr(deliver_webhook_task, "apply_async", lambda args, queue: None)
    everything, _ = webhook_endpoint_create(merchant=merchant, actor=actor, url="https://example.com/all")
    only_published, _ = webhook_endpoint_create(
        merchant=merchant, actor=actor, url="https://example.com/pub", events=["content.published"]
    )
    webhook_endpoint_create(merchant=merchant, actor=actor, url="https://example.com/off", active=False)
    piece = make_piece("approved")
    with django_capture_on_commit_callbacks(execute=True):
        piece = content_publish(piece=piece, actor=actor)
        piece = content_unpublish(piece=piece, actor=actor)
        content_publish(piece=piece, actor=actor)
    rows = list(WebhookDelivery.objects.order_by("id").values_list("endpoint_id", "event", "idempotency_key"))
    assert [(e, ev) for e, ev, _ in rows] == [
        (everything.pk, "content.published"),
        (only_published.pk, "content.published"),
        (everything.pk, "content.unpublished"),
        (everything.pk, "content.published"),
        (only_published.pk, "content.published"),
    ]
    assert rows[0][2] == rows[1][2]  # one event, one key across endpoints
    assert len({rows[0][2], rows[2][2], rows[3][2]}) == 3  # a later publish is a new event


def test_signature_and_backoff_helpers():
    body = b'{"a":1}'
    signature = sign("s3cret", 1700000000, body)
    assert verify("s3cret", "1700000000", body, signature, now=1700000100)
    assert not verify("s3cret", "1700000000", body + b" ", signature, now=1700000100)
    assert not verify("other", "1700000000", body, signature, now=1700000100)
    assert not verify("s3cret", "1700000000", body, signature, now=1700009999)  # replayed later
    assert [retry_countdown(n) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert retry_countdown(20) == 3600
