"""config.client_ip: the one client address every rate limit, lockout and audit entry uses."""

import os
import subprocess
import sys

import pytest
from django.test import RequestFactory

from config.client_ip import client_ip


def request(remote="192.0.2.1", forwarded_for=None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return RequestFactory().get("/", **extra)


def test_without_trusted_proxies_a_spoofed_forwarded_for_is_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request("192.0.2.1", "203.0.113.9")) == "192.0.2.1"
    assert client_ip(request("192.0.2.1", "203.0.113.9, 198.51.100.4")) == "192.0.2.1"


def test_one_trusted_proxy_takes_the_right_most_address(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # The client wrote "1.1.1.1, 2.2.2.2" itself; our proxy appended the address it saw.
    assert client_ip(request("10.0.0.2", "1.1.1.1, 2.2.2.2, 203.0.113.9")) == "203.0.113.9"
    assert client_ip(request("10.0.0.2", "203.0.113.9")) == "203.0.113.9"


def test_two_trusted_proxies_take_the_second_from_the_right(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    # client -> CDN (appends the client) -> load balancer (appends the CDN) -> app
    assert client_ip(request("10.0.0.3", "6.6.6.6, 203.0.113.9, 10.0.0.2")) == "203.0.113.9"
    # Fewer entries than proxies: the left-most is the outermost hop we know of.
    assert client_ip(request("10.0.0.3", "203.0.113.9")) == "203.0.113.9"


def test_no_header_or_a_malformed_entry_falls_back_to_the_socket_address(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request("10.0.0.2")) == "10.0.0.2"
    assert client_ip(request("10.0.0.2", " , ")) == "10.0.0.2"
    assert client_ip(request("10.0.0.2", "203.0.113.9, not-an-address")) == "10.0.0.2"
    assert client_ip(request("10.0.0.2", "203.0.113.9, <script>")) == "10.0.0.2"


def test_addresses_are_normalized(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request("10.0.0.2", " 2001:DB8:0:0::1 ")) == "2001:db8::1"
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request("")) == "0.0.0.0"


@pytest.mark.parametrize("value", ["-1", "two"])
def test_a_bad_proxy_count_stops_start_up(value):
    env = {
        **os.environ,
        "STORYFRONT_TRUSTED_PROXY_COUNT": value,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "STORYFRONT_TRUSTED_PROXY_COUNT" in result.stderr
