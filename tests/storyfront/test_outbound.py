"""The SSRF guard (storyfront/outbound.py) against real sockets: loopback HTTP(S) servers that record every
request they get, so a refusal is proven by the server never hearing from the client. Public addresses
cannot be reached from the test machine, so a test that needs a name to "be public" injects a resolver
(the guard's DNS seam); the connection that follows is still real."""

import ipaddress
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from storyfront.outbound import DestinationRefused, GuardedClient, address_refusal

PUBLIC = "93.184.216.34"


class Recorder:
    """A loopback HTTP server that records (method, path, Host) and answers 200 "secret", or a redirect."""

    def __init__(self, tls: ssl.SSLContext | None = None):
        self.requests: list[tuple[str, str, str]] = []
        self.redirect_to: str | None = None
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                recorder.requests.append((self.command, self.path, self.headers["Host"]))
                if recorder.redirect_to and self.path != "/secret":
                    self.send_response(302)
                    self.send_header("Location", recorder.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", "6")
                self.end_headers()
                self.wfile.write(b"secret")

            do_GET = do_POST = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def recorder():
    server = Recorder()
    yield server
    server.close()


def post(client: GuardedClient, url: str) -> tuple[int, bytes]:
    with client.request(
        "POST", url, body=b"{}", headers={"Content-Type": "application/json"}, timeout=2
    ) as r:
        return r.status, r.read()


# Every spelling of "this machine" aims at the live recorder's port: without the guard each would reach it.
LOOPBACK_FORMS = [
    ("127.0.0.1", "127.0.0.1 is a loopback address"),
    ("localhost", "localhost resolves to"),
    ("[::1]", "::1 is a loopback address"),
    ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1 is an IPv6 form of 127.0.0.1, a loopback address"),
    ("0.0.0.0", "0.0.0.0 is an unspecified address"),
    ("2130706433", "2130706433 resolves to 127.0.0.1, which is a loopback address"),
    ("0177.0.0.1", "0177.0.0.1 resolves to 127.0.0.1, which is a loopback address"),
    ("127.1", "127.1 resolves to 127.0.0.1, which is a loopback address"),
    ("0x7f.1", "0x7f.1 resolves to 127.0.0.1, which is a loopback address"),
    ("[2002:7f00:1::]", "an IPv6 form of 127.0.0.1, a loopback address"),  # 6to4
]


@pytest.mark.parametrize(("host", "reason"), LOOPBACK_FORMS, ids=[h for h, _ in LOOPBACK_FORMS])
def test_loopback_in_any_spelling_is_refused_before_connecting(recorder, host, reason):
    url = f"http://{host}:{recorder.port}/hook"
    client = GuardedClient()
    with pytest.raises(DestinationRefused, match="^refused: ") as refused:
        post(client, url)
    assert reason in str(refused.value)
    with pytest.raises(DestinationRefused):
        client.check_url(url)
    assert recorder.requests == []


OTHER_FORMS = [
    ("http://10.1.2.3/", "10.1.2.3 is a private address"),
    ("http://172.16.0.1/", "172.16.0.1 is a private address"),
    ("http://172.31.255.254/", "172.31.255.254 is a private address"),
    ("http://192.168.0.10/", "192.168.0.10 is a private address"),
    ("http://100.64.0.1/", "100.64.0.1 is a shared (carrier-grade NAT) address"),
    ("http://[fd12:3456::1]/", "fd12:3456::1 is a unique local (private) address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
    ("http://[fd00:ec2::254]/", "fd00:ec2::254 is a cloud metadata address"),
    ("http://169.254.1.1/", "169.254.1.1 is a link-local address"),
    ("http://[fe80::1]/", "fe80::1 is a link-local address"),
    ("http://224.0.0.1/", "224.0.0.1 is a multicast address"),
    ("http://[ff02::1]/", "ff02::1 is a multicast address"),
    ("http://255.255.255.255/", "255.255.255.255 is a reserved address"),
    ("http://240.0.0.1/", "240.0.0.1 is a reserved address"),
    ("http://[::]/", ":: is an unspecified address"),
    ("http://[::ffff:10.0.0.1]/", "::ffff:10.0.0.1 is an IPv6 form of 10.0.0.1, a private address"),
    (
        "http://[64:ff9b::a9fe:a9fe]/",
        "64:ff9b::a9fe:a9fe is an IPv6 form of 169.254.169.254, a cloud metadata address",
    ),  # NAT64
    ("http://192.0.2.1/", "192.0.2.1 is a non-public address"),  # documentation range
]


@pytest.mark.parametrize(("url", "reason"), OTHER_FORMS, ids=[u for u, _ in OTHER_FORMS])
def test_private_link_local_multicast_reserved_and_metadata_addresses_are_refused(url, reason):
    client = GuardedClient()
    with pytest.raises(DestinationRefused) as refused:
        post(client, url)
    assert str(refused.value) == f"refused: {reason}"
    with pytest.raises(DestinationRefused):
        client.check_url(url)


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/x", "file:///etc/passwd", "gopher://example.com/", "example.com/hook", "http:///x"],
)
def test_only_http_and_https_urls_with_a_host(url):
    with pytest.raises(DestinationRefused, match="^refused: (only http and https|the URL has no host)"):
        GuardedClient(allow_private=True).check_url(url)


def test_a_name_that_resolves_to_loopback_is_refused(recorder):
    client = GuardedClient(resolver=lambda host, port: ["127.0.0.1"])
    with pytest.raises(
        DestinationRefused, match=r"^refused: hooks\.example resolves to 127\.0\.0\.1, which is a loopback"
    ):
        post(client, f"http://hooks.example:{recorder.port}/")
    assert recorder.requests == []


def test_a_name_with_one_private_answer_among_public_ones_is_refused():
    client = GuardedClient(resolver=lambda host, port: [PUBLIC, "10.0.0.7"])
    with pytest.raises(DestinationRefused, match="10.0.0.7, which is a private address"):
        client.check_url("https://mixed.example/")


def test_public_addresses_pass():
    for address in [PUBLIC, "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]:
        assert address_refusal(ipaddress.ip_address(address)) is None, address
    GuardedClient(resolver=lambda host, port: [PUBLIC]).check_url("https://hooks.example/in")
    GuardedClient().check_url("https://8.8.8.8/in")


def test_dns_rebinding_cannot_pass_the_connection_check(recorder):
    """The name answers a public address when the URL is checked, then loopback: the connection resolves it
    once more, checks that answer and refuses, so the loopback server never hears from the client."""
    answers = iter([[PUBLIC], ["127.0.0.1"], [PUBLIC]])
    calls = []

    def rebinding(host, port):
        calls.append(host)
        return next(answers)

    client = GuardedClient(resolver=rebinding)
    url = f"http://rebind.example:{recorder.port}/hook"
    client.check_url(url)  # write time: looks public
    with pytest.raises(DestinationRefused, match="rebind.example resolves to 127.0.0.1, which is a loopback"):
        post(client, url)
    assert recorder.requests == []
    assert calls == ["rebind.example", "rebind.example"]  # one resolution per connection


def test_the_socket_goes_to_the_address_that_was_checked(recorder):
    """Resolved once, connected to that IP: a resolver that would answer differently the second time is never
    asked again, and the server still sees the name in Host."""
    answers = iter([["127.0.0.1"], ["10.255.255.1"]])
    client = GuardedClient(allow_private=True, resolver=lambda host, port: next(answers))
    assert post(client, f"http://hooks.internal:{recorder.port}/in?x=1") == (200, b"secret")
    assert recorder.requests == [("POST", "/in?x=1", f"hooks.internal:{recorder.port}")]


def test_redirects_are_never_followed(recorder):
    """Even to a destination that the policy would allow (private destinations are allowed here, because the
    first hop itself is on loopback): the 302 comes back as it is and the target is never asked."""
    recorder.redirect_to = f"http://127.0.0.1:{recorder.port}/secret"
    client = GuardedClient(allow_private=True)
    with client.request("POST", f"http://127.0.0.1:{recorder.port}/hook", body=b"{}", timeout=2) as response:
        assert response.status == 302
        assert response.getheader("Location") == recorder.redirect_to
    assert [path for _, path, _ in recorder.requests] == ["/hook"]


def test_allow_private_opens_loopback_and_private_ranges_but_never_metadata(recorder):
    client = GuardedClient(allow_private=True)
    assert post(client, f"http://127.0.0.1:{recorder.port}/") == (200, b"secret")
    assert post(client, f"http://localhost:{recorder.port}/") == (200, b"secret")
    for url in [
        "http://10.0.0.5/",
        "http://172.20.1.1/",
        "http://192.168.1.20/",
        "http://100.64.3.4/",
        "http://[fd12::1]/",
    ]:
        client.check_url(url)
    for url, reason in [
        ("http://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
        ("http://[fd00:ec2::254]/", "a cloud metadata address"),
        ("http://100.100.100.200/", "a cloud metadata address"),
        ("http://[::ffff:169.254.169.254]/", "an IPv6 form of 169.254.169.254, a cloud metadata address"),
        ("http://169.254.170.2/v2/credentials", "a cloud metadata address"),
        ("http://169.254.10.10/", "a link-local address"),
        ("http://0.0.0.0/", "an unspecified address"),
    ]:
        with pytest.raises(DestinationRefused, match=reason):
            post(client, url)
    assert len(recorder.requests) == 2


@pytest.fixture
def tls_recorder(tmp_path):
    """A loopback HTTPS server whose certificate names only hooks.internal, and a client context trusting it."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=hooks.internal",
            "-addext",
            "subjectAltName=DNS:hooks.internal",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(cert, key)
    server = Recorder(tls=server_side)
    yield server, ssl.create_default_context(cafile=str(cert))
    server.close()


def test_https_connects_to_the_checked_ip_and_verifies_the_certificate_for_the_name(tls_recorder):
    server, trust = tls_recorder
    client = GuardedClient(allow_private=True, resolver=lambda host, port: ["127.0.0.1"], tls_context=trust)
    assert post(client, f"https://hooks.internal:{server.port}/in") == (200, b"secret")
    # The same server reached by its IP fails the certificate check: the name, not the IP, is what TLS checks.
    with pytest.raises(ssl.SSLCertVerificationError):
        post(GuardedClient(allow_private=True, tls_context=trust), f"https://127.0.0.1:{server.port}/in")
    assert len(server.requests) == 1
