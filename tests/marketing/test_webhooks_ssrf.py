"""Webhooks cannot be aimed at Storyfront's own network: the API refuses such URLs with a 400 on `url`, and a
delivery whose URL points there anyway (a name re-pointed after it was registered) is refused at connection
time, recorded with the reason and no reply excerpt, and not retried. The receivers are real loopback servers
that record what reaches them."""

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from accounts.services import Actor
from marketing.models import WebhookDelivery, WebhookEndpoint
from marketing.publishing.services import content_publish, webhook_endpoint_create
from marketing.tasks import deliver_webhook_task

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def private_refused(settings):
    settings.OUTBOUND_ALLOW_PRIVATE = False  # the default; explicit so an install's env cannot change it here


class InternalService:
    """Something on loopback that must never be reached: answers 200 with a secret, or a redirect."""

    def __init__(self, redirect_to: str | None = None):
        self.paths: list[str] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                service.paths.append(self.path)
                if redirect_to:
                    self.send_response(302)
                    self.send_header("Location", redirect_to)
                    self.end_headers()
                    self.wfile.write(b"moved")
                    return
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"internal secret: redis-password=hunter2")

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/internal"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def internal_service():
    service = InternalService()
    yield service
    service.close()


FORBIDDEN = [
    ("http://127.0.0.1:6379/", "127.0.0.1 is a loopback address"),
    ("http://localhost:6379/", "localhost resolves to"),
    ("http://[::1]:5432/", "::1 is a loopback address"),
    ("http://[::ffff:127.0.0.1]/", "an IPv6 form of 127.0.0.1"),
    ("http://10.0.0.1/", "10.0.0.1 is a private address"),
    ("http://172.16.5.4/", "172.16.5.4 is a private address"),
    ("http://192.168.1.1/", "192.168.1.1 is a private address"),
    ("http://100.64.0.1/", "100.64.0.1 is a shared (carrier-grade NAT) address"),
    ("http://169.254.169.254/latest/meta-data/iam/", "169.254.169.254 is a cloud metadata address"),
    ("http://[fe80::1]/", "fe80::1 is a link-local address"),
    ("http://0.0.0.0:8000/", "0.0.0.0 is an unspecified address"),
    # Django's URL validator already rejects odd IPv4 spellings as URLs; the guard reads them as the C library
    # does when they reach a connection another way (tests/storyfront/test_outbound.py).
    ("http://2130706433/", "Enter a valid URL."),
    ("http://0177.0.0.1/", "Enter a valid URL."),
    ("http://127.1/", "Enter a valid URL."),
    ("http://224.0.0.251/", "224.0.0.251 is a multicast address"),
]


@pytest.mark.parametrize(("url", "reason"), FORBIDDEN, ids=[u for u, _ in FORBIDDEN])
def test_the_api_refuses_webhook_urls_on_internal_addresses(api_client, url, reason):
    response = api_client.post("/api/v1/webhooks/", {"url": url}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and set(body["field_errors"]) == {"url"}
    assert reason in body["field_errors"]["url"][0] and reason in body["message"]
    assert not WebhookEndpoint.objects.exists()


def test_an_existing_endpoint_cannot_be_repointed_inside(api_client):
    created = api_client.post("/api/v1/webhooks/", {"url": "https://8.8.8.8/hooks"}, format="json")
    assert created.status_code == 201, created.json()
    endpoint_id = created.json()["id"]
    response = api_client.patch(
        f"/api/v1/webhooks/{endpoint_id}/", {"url": "http://169.254.169.254/latest/"}, format="json"
    )
    assert response.status_code == 400
    assert "cloud metadata address" in response.json()["field_errors"]["url"][0]
    assert WebhookEndpoint.objects.get(pk=endpoint_id).url == "https://8.8.8.8/hooks"


def test_allow_private_admits_loopback_and_private_networks_but_not_metadata(api_client, settings):
    settings.OUTBOUND_ALLOW_PRIVATE = True
    for url in ["http://10.0.0.5/hook", "http://127.0.0.1:8080/hook", "http://[fd12::5]/hook"]:
        assert api_client.post("/api/v1/webhooks/", {"url": url}, format="json").status_code == 201, url
    for url in ["http://169.254.169.254/latest/", "http://[fd00:ec2::254]/", "http://[fe80::1]/"]:
        response = api_client.post("/api/v1/webhooks/", {"url": url}, format="json")
        assert response.status_code == 400, url
    assert WebhookEndpoint.objects.count() == 3


def _deliver(merchant, make_piece, django_capture_on_commit_callbacks, monkeypatch, url):
    webhook_endpoint_create(merchant=merchant, actor=Actor.system("test"), url=url)
    monkeypatch.setattr(deliver_webhook_task, "apply_async", lambda args, queue: None)
    with django_capture_on_commit_callbacks(execute=True):
        content_publish(piece=make_piece("approved"), actor=Actor.system("test"))
    delivery = WebhookDelivery.objects.get()
    result = deliver_webhook_task.apply(args=[delivery.pk]).get()
    delivery.refresh_from_db()
    return delivery, result


def test_a_delivery_to_a_refused_destination_records_why_and_no_reply(
    api_client, merchant, make_piece, django_capture_on_commit_callbacks, monkeypatch, internal_service
):
    # Registered through the service (as a name that has since been re-pointed would be): the connection
    # is what refuses it.
    delivery, result = _deliver(
        merchant, make_piece, django_capture_on_commit_callbacks, monkeypatch, internal_service.url
    )
    reason = "refused: 127.0.0.1 is a loopback address"
    assert result == f"not delivered: {reason}"
    assert internal_service.paths == []
    assert (delivery.status, delivery.attempts, delivery.status_code) == ("failed", 1, None)  # not retried
    assert delivery.response_excerpt == reason
    assert [(a["error"], a["excerpt"]) for a in delivery.attempt_log] == [(reason, "")]
    listed = api_client.get(f"/api/v1/webhooks/{delivery.endpoint_id}/deliveries/").json()["results"]
    assert listed[0]["response_excerpt"] == reason and "hunter2" not in str(listed)


def test_the_same_delivery_goes_through_when_private_destinations_are_allowed(
    merchant, make_piece, django_capture_on_commit_callbacks, monkeypatch, internal_service, settings
):
    settings.OUTBOUND_ALLOW_PRIVATE = True
    delivery, result = _deliver(
        merchant, make_piece, django_capture_on_commit_callbacks, monkeypatch, internal_service.url
    )
    assert result == "delivered" and internal_service.paths == ["/internal"]
    assert delivery.status_code == 200 and "internal secret" in delivery.response_excerpt


def test_metadata_is_refused_even_when_private_destinations_are_allowed(
    merchant, make_piece, django_capture_on_commit_callbacks, monkeypatch, settings
):
    settings.OUTBOUND_ALLOW_PRIVATE = True
    delivery, _ = _deliver(
        merchant,
        make_piece,
        django_capture_on_commit_callbacks,
        monkeypatch,
        "http://169.254.169.254/latest/",
    )
    assert (delivery.status, delivery.attempts, delivery.status_code) == ("failed", 1, None)
    assert delivery.response_excerpt == "refused: 169.254.169.254 is a cloud metadata address"


def test_a_redirect_is_a_failed_delivery_and_is_not_followed(
    merchant, make_piece, django_capture_on_commit_callbacks, monkeypatch, settings, internal_service
):
    """The receiver (on loopback, so private destinations are allowed for this test) redirects to another
    internal service; the redirect is never followed, whatever its target."""
    settings.OUTBOUND_ALLOW_PRIVATE = True
    monkeypatch.setattr("marketing.publishing.channels.WEBHOOK_MAX_ATTEMPTS", 1)
    redirecting = InternalService(redirect_to=internal_service.url)
    try:
        delivery, _ = _deliver(
            merchant, make_piece, django_capture_on_commit_callbacks, monkeypatch, redirecting.url
        )
    finally:
        redirecting.close()
    assert redirecting.paths == ["/internal"] and internal_service.paths == []
    assert (delivery.status, delivery.status_code) == ("failed", 302)
    assert delivery.response_excerpt == (
        f"redirect to {internal_service.url} not followed: webhooks go to the registered URL only"
    )
