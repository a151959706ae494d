"""The OpenAI-compatible backend against a fake server on loopback (real HTTP, no client mocks)."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ml.engine import GenerationBackendError, GenerationRequest, OpenAICompatibleGenerator, TextGenerator


class FakeServer:
    def __init__(self):
        self.behaviour = "ok"
        self.requests: list[tuple[str, dict]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append((self.path, body))
                server.handle(self, body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def handle(self, handler, body):
        if self.behaviour == "slow":
            time.sleep(0.5)
        if self.behaviour == "error-then-ok" and len(self.requests) == 1:
            return self.reply(handler, 503, b'{"error": "overloaded"}')
        if self.behaviour == "garbage":
            return self.reply(handler, 200, b"<html>not json</html>")
        if self.behaviour == "wrong-shape":
            return self.reply(handler, 200, b'{"choices": []}')
        if self.behaviour == "bad-request":
            return self.reply(handler, 400, b'{"error": "unknown model"}')
        if self.behaviour == "redirect":
            handler.send_response(307)
            handler.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        if body.get("stream"):
            handler.send_response(200)
            handler.send_header("Content-Type", "text/event-stream")
            handler.end_headers()
            for piece in ["Soft ", "cotton ", "shirt. END and more"]:
                chunk = {"choices": [{"delta": {"content": piece}}]}
                handler.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                handler.wfile.flush()
            handler.wfile.write(b"data: [DONE]\n\n")
            return
        if handler.path.endswith("/chat/completions"):
            choice = {
                "message": {"role": "assistant", "content": f"Reply to: {body['messages'][-1]['content']}"},
                "finish_reason": "stop",
            }
        else:
            choice = {"text": f"{body['prompt']} continued", "finish_reason": "length"}
        payload = {"choices": [choice], "usage": {"prompt_tokens": 11, "completion_tokens": 4}}
        self.reply(handler, 200, json.dumps(payload).encode())

    @staticmethod
    def reply(handler, status, data):
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


@pytest.fixture
def server():
    fake = FakeServer()
    yield fake
    fake.httpd.shutdown()
    fake.httpd.server_close()


def client(server, **kwargs):
    # The fake server is on loopback, which the SSRF guard refuses unless private destinations are allowed.
    options = {"timeout_s": 2, "max_retries": 2, "backoff_s": 0.01, "allow_private": True}
    options.update(kwargs)
    return OpenAICompatibleGenerator(server.url, "smollm2", api_key="secret", **options)


def test_chat_and_completion_happy_path(server):
    generator = client(server)
    assert isinstance(generator, TextGenerator)
    chat = GenerationRequest.chat(
        [{"role": "user", "content": "Describe the shirt"}],
        request_id="a",
        temperature=0.5,
        seed=3,
        stop=("\n\n",),
    )
    raw = GenerationRequest.raw("Once upon", greedy=True, max_new_tokens=7)
    first, second = generator.generate([chat, raw])
    assert (first.text, first.finish_reason, first.request_id) == (
        "Reply to: Describe the shirt",
        "stop",
        "a",
    )
    assert (first.prompt_tokens, first.completion_tokens) == (11, 4)
    assert (second.text, second.finish_reason) == ("Once upon continued", "length")
    sent = dict(server.requests)
    assert sent["/v1/chat/completions"]["temperature"] == 0.5
    assert sent["/v1/chat/completions"]["seed"] == 3
    assert sent["/v1/chat/completions"]["stop"] == ["\n\n"]
    assert sent["/v1/completions"]["temperature"] == 0.0
    assert sent["/v1/completions"]["max_tokens"] == 7


def test_streaming_stops_at_stop_sequence(server):
    request = GenerationRequest.chat([{"role": "user", "content": "hi"}], stop=(" END",))
    assert "".join(client(server).stream(request)) == "Soft cotton shirt."


def test_server_error_is_retried(server):
    server.behaviour = "error-then-ok"
    result = client(server).generate([GenerationRequest.raw("x")])[0]
    assert result.text == "x continued"
    assert len(server.requests) == 2


def test_timeouts_are_retried_then_fail_clearly(server):
    server.behaviour = "slow"
    with pytest.raises(GenerationBackendError, match=r"failed after 3 attempts: timed out"):
        client(server, timeout_s=0.1).generate([GenerationRequest.raw("x")])
    assert len(server.requests) == 3


def test_unreachable_server_fails_clearly():
    generator = OpenAICompatibleGenerator(
        "http://127.0.0.1:9", "m", timeout_s=0.5, max_retries=1, backoff_s=0.01, allow_private=True
    )
    with pytest.raises(GenerationBackendError, match="failed after 2 attempts"):
        generator.generate([GenerationRequest.raw("x")])


@pytest.mark.parametrize("behaviour", ["garbage", "wrong-shape"])
def test_garbage_answers_fail_clearly_without_retry(server, behaviour):
    server.behaviour = behaviour
    with pytest.raises(GenerationBackendError, match="not a completion"):
        client(server).generate([GenerationRequest.chat([{"role": "user", "content": "hi"}])])
    assert len(server.requests) == 1


def test_client_errors_are_not_retried(server):
    server.behaviour = "bad-request"
    with pytest.raises(GenerationBackendError, match="HTTP 400"):
        client(server).generate([GenerationRequest.raw("x")])
    assert len(server.requests) == 1


def test_the_endpoint_is_behind_the_ssrf_guard(server):
    """Without allow_private (the default) a loopback endpoint is refused before any request, and not retried."""
    generator = OpenAICompatibleGenerator(server.url, "smollm2", max_retries=2, backoff_s=0.01)
    with pytest.raises(GenerationBackendError, match="refused: 127.0.0.1 is a loopback address"):
        generator.generate([GenerationRequest.raw("x")])
    with pytest.raises(GenerationBackendError, match="refused: 127.0.0.1 is a loopback address"):
        list(generator.stream(GenerationRequest.raw("x")))
    assert server.requests == []


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254", "http://[fd00:ec2::254]:80/v1", "http://[::ffff:169.254.169.254]"]
)
def test_metadata_endpoints_are_refused_even_when_private_ones_are_allowed(url):
    generator = OpenAICompatibleGenerator(url, "m", allow_private=True, max_retries=2, backoff_s=0.01)
    with pytest.raises(GenerationBackendError, match="cloud metadata address"):
        generator.generate([GenerationRequest.raw("x")])


def test_redirects_are_not_followed(server):
    server.behaviour = "redirect"
    with pytest.raises(
        GenerationBackendError, match="HTTP 307 redirecting to 'http://169.254.169.254/latest"
    ):
        client(server).generate([GenerationRequest.raw("x")])
    assert len(server.requests) == 1
