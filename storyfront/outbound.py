"""Outbound HTTP to URLs that tenants choose (webhooks, OpenAI-compatible endpoints), guarded against SSRF.

Framework-free: ml/engine imports it, and ml/engine never imports Django. Written on http.client because the
one maintained-looking guard for Python, advocate, has had no release since 2020 and wraps requests with an
old urllib3; a POST needs nothing more than the standard library.

What the guard does:
- only http and https URLs;
- the host is resolved once per connection, every address it resolves to is checked, and the socket is
  opened to a checked address itself; the name is kept only for the Host header and TLS (SNI and certificate
  check). So a DNS answer that changes between a check and the connection (rebinding) cannot reach a refused
  address: the address connected to is the address checked.
- redirects are never followed: a 3xx answer comes back to the caller as it is, and the caller treats it as
  a failure. A redirect is not needed by a webhook receiver or an inference server, and not following one
  means no second destination to check.

Refused always, even for self-hosted installs that allow private destinations: cloud metadata addresses,
unspecified (0.0.0.0 reaches the local host on Linux), link-local (where metadata services live), multicast,
reserved and broadcast. Refused unless `allow_private`: loopback, RFC 1918, shared CGNAT space, IPv6 unique
local, and whatever else is not globally routable. IPv6 forms that carry an IPv4 address (mapped, compatible,
6to4, NAT64) are judged by that IPv4 address; odd IPv4 spellings (2130706433, 0177.0.0.1, 127.1) are read the
way the C library reads them before they are judged.
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import socket
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]

ALLOWED_SCHEMES = ("http", "https")

# Instance metadata services hand out cloud credentials: never reachable, whatever `allow_private` says.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure wire server
    )
)

_ALWAYS_REFUSED = [
    (ipaddress.ip_network(net), what)
    for net, what in (
        ("0.0.0.0/8", "an unspecified address"),
        ("::/128", "an unspecified address"),
        ("169.254.0.0/16", "a link-local address"),
        ("fe80::/10", "a link-local address"),
        ("224.0.0.0/4", "a multicast address"),
        ("ff00::/8", "a multicast address"),
        ("240.0.0.0/4", "a reserved address"),  # includes the broadcast address 255.255.255.255
    )
]

_PRIVATE = [
    (ipaddress.ip_network(net), what)
    for net, what in (
        ("127.0.0.0/8", "a loopback address"),
        ("::1/128", "a loopback address"),
        ("10.0.0.0/8", "a private address"),
        ("172.16.0.0/12", "a private address"),
        ("192.168.0.0/16", "a private address"),
        ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
        ("fc00::/7", "a unique local (private) address"),
    )
]

_NAT64 = [ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48")]
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
# What inet_aton accepts: digits, hex digits with 0x, and dots. A name like "cafe.example" never parses.
_IPV4_SPELLING = re.compile(r"^[0-9a-fA-FxX.]+$")


class DestinationRefused(Exception):
    """The URL is not http(s), or its host is or resolves to an address the guard refuses. Permanent: the
    same URL is refused again, so callers do not retry it. The message starts with "refused:"."""


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if ip.version != 6:
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if any(ip in net for net in _NAT64) or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_refusal(ip: IPAddress, *, allow_private: bool = False) -> str | None:
    """Why `ip` may not be connected to ("a loopback address"), or None when it may."""
    ip = ipaddress.ip_address(str(ip).split("%")[0])  # a zone id changes nothing about the address
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        inner = address_refusal(embedded, allow_private=allow_private)
        if inner:
            return f"an IPv6 form of {embedded}, {inner}"
        if ip.version == 6 and (ip.ipv4_mapped is not None or ip in _IPV4_COMPATIBLE):
            return None  # the connection goes to the IPv4 address itself, which passed
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for net, what in _ALWAYS_REFUSED:
        if ip in net:
            return what
    if allow_private:
        return None
    for net, what in _PRIVATE:
        if ip in net:
            return what
    if not ip.is_global:
        return "a non-public address"
    return None


def ip_literal(host: str) -> IPAddress | None:
    """The address a host names without DNS: a plain IP literal, or an IPv4 spelling the C library accepts."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _IPV4_SPELLING.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def system_resolver(host: str, port: int) -> list[str]:
    # IPv4 and IPv6 answers start with the address string; an answer of a family this Python was built
    # without comes back as (int, bytes), an address the guard cannot judge, so it is left out.
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos if isinstance(info[4][0], str)]


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


def parse_url(url: str) -> Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DestinationRefused(f"refused: {url!r} is not a valid URL ({exc})") from exc
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise DestinationRefused(f"refused: only http and https URLs are allowed, not {scheme or 'none'!r}")
    if not parts.hostname:
        raise DestinationRefused("refused: the URL has no host")
    # http.client sends the request line as ASCII: anything else in a path is percent-encoded, as browsers do.
    path = quote(
        (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), safe="!#$%&'()*+,/:;=?@[]~"
    )
    return Target(scheme, parts.hostname, port or (443 if scheme == "https" else 80), path)


@dataclass(frozen=True)
class GuardedClient:
    """One policy for outbound requests. `resolver` maps (host, port) to address strings; tests inject one
    to play a rebinding DNS server. `tls_context` defaults to the system's trusted CAs."""

    allow_private: bool = False
    resolver: Resolver = system_resolver
    tls_context: ssl.SSLContext | None = field(default=None, compare=False)

    def addresses(self, host: str, port: int) -> list[IPAddress]:
        """Every address `host` stands for, each checked; raises DestinationRefused if any is refused."""
        literal = ip_literal(host)
        found = [literal] if literal is not None else []
        if literal is None:
            for raw in self.resolver(host, port):
                ip = ipaddress.ip_address(raw.split("%")[0])
                if ip not in found:
                    found.append(ip)
        if not found:
            raise DestinationRefused(f"refused: {host} resolves to no address")
        for ip in found:
            why = address_refusal(ip, allow_private=self.allow_private)
            if why:
                named = f"{host} is" if _is_plain_ip(host) else f"{host} resolves to {ip}, which is"
                raise DestinationRefused(f"refused: {named} {why}")
        return found

    def check_url(self, url: str) -> None:
        """The write-time check: scheme, and the host's addresses when it resolves now. A name that does not
        resolve yet passes here; the connection is checked again when it is made."""
        target = parse_url(url)
        try:
            self.addresses(target.host, target.port)
        except OSError:
            pass

    def connect(self, host: str, port: int, timeout) -> socket.socket:
        """A TCP socket to one of the checked addresses of `host` (the first that answers)."""
        last_error: OSError | None = None
        for ip in self.addresses(host, port):
            try:
                return socket.create_connection((str(ip), port), timeout)
            except OSError as exc:
                last_error = exc
        raise last_error  # type: ignore[misc]  # addresses() never returns an empty list

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float,
    ) -> http.client.HTTPResponse:
        """Send one request and return the response, whatever its status (3xx included: never followed).
        Closing the response closes the connection. Raises DestinationRefused, OSError (network errors,
        timeouts) or http.client.HTTPException (a malformed answer)."""
        target = parse_url(url)
        if target.scheme == "https":
            context = self.tls_context or ssl.create_default_context()
            conn: http.client.HTTPConnection = _GuardedHTTPSConnection(
                target.host, target.port, timeout=timeout, guard=self, context=context
            )
        else:
            conn = _GuardedHTTPConnection(target.host, target.port, timeout=timeout, guard=self)
        try:
            conn.request(method, target.path, body=body, headers=dict(headers or {}))
            response = conn.getresponse()
        except BaseException:
            conn.close()
            raise
        # As urllib does: the response keeps its own reference to the socket, so dropping the connection's
        # hands the socket to the response, and closing the response closes it.
        if conn.sock is not None:
            conn.sock.close()
            conn.sock = None
        return response


def _is_plain_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class _GuardedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, *, timeout, guard: GuardedClient):
        super().__init__(host, port, timeout=timeout)
        self._guard = guard

    def connect(self):
        self.sock = self._guard.connect(self.host, self.port, self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, *, timeout, guard: GuardedClient, context: ssl.SSLContext):
        super().__init__(host, port, timeout=timeout, context=context)
        self._guard = guard
        self._tls = context

    def connect(self):
        sock = self._guard.connect(self.host, self.port, self.timeout)
        # The socket goes to the checked IP; the certificate is checked against the name in the URL.
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)
