"""Copy generation end to end on a real Celery worker: API -> Redis -> `ml` queue -> engine -> pieces in
review; then an edit, approval and publish whose signed webhook the worker delivers from the `default`
queue to a receiver on loopback."""

import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from marketing.models import ContentPiece, WebhookDelivery
from marketing.publishing.channels import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from tests.ml.test_finetune_job import wait_for_job

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FIXED = "Green trail bottle: keeps drinks cold for 24 hours, $24.90."


def wait_for(condition, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError("condition not met in time")


@pytest.fixture
def receiver(settings):
    # The receiver is on loopback: the API may register it only where private destinations are allowed (the
    # worker process gets the same through its environment, see celery_worker_process).
    settings.OUTBOUND_ALLOW_PRIVATE = True
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((dict(self.headers), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", seen
    server.shutdown()
    server.server_close()


def test_generate_review_and_publish_through_a_real_worker(
    celery_worker_process, api_client, merchant, bottle, jacket, tiny_base, receiver
):
    url, seen = receiver
    campaign = api_client.post(
        "/api/v1/campaigns/",
        {
            "name": "Worker run",
            "channel": "sms",
            "length": "short",
            "products": [bottle.pk, jacket.pk],
            "variants_per_product": 2,
        },
        format="json",
    ).json()
    response = api_client.post(f"/api/v1/campaigns/{campaign['id']}/generate/")
    assert response.status_code == 202, response.json()
    body = wait_for_job(api_client, response.json()["id"])
    assert body["status"] == "succeeded", body
    assert (body["percent"], body["metrics"]["pieces"]) == (100, 4)
    assert api_client.get(f"/api/v1/campaigns/{campaign['id']}/").json()["status"] == "ready"

    listed = api_client.get("/api/v1/contents/", {"campaign": campaign["id"]}).json()["results"]
    assert len(listed) == 4
    assert all(
        row["status"] == "in_review" and row["grounding"] and row["model_version"] == tiny_base.pk
        for row in listed
    )

    # Whatever the tiny model wrote, a person's edit makes it approvable; then publish -> signed webhook.
    secret = api_client.post("/api/v1/webhooks/", {"url": url}, format="json").json()["secret"]
    piece = next(row for row in listed if row["product"]["id"] == bottle.pk)
    edited = api_client.patch(f"/api/v1/contents/{piece['id']}/", {"body": FIXED}, format="json").json()
    assert edited["approvable"] is True, edited["grounding"]
    assert api_client.post(f"/api/v1/contents/{piece['id']}/approve/").status_code == 200
    assert api_client.post(f"/api/v1/contents/{piece['id']}/publish/").status_code == 200

    wait_for(lambda: WebhookDelivery.objects.filter(status="delivered").exists())
    headers, raw = seen[0]
    assert verify(secret, headers[TIMESTAMP_HEADER], raw, headers[SIGNATURE_HEADER])
    assert ContentPiece.objects.get(pk=piece["id"]).status == "published"
