"""API key throttling (accounts/api/throttling.py): failed key attempts per client address, then 429 for every
key attempt from that address until the window passes; a request rate per key."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.api.throttling import failure_cache_keys
from accounts.services import Actor, api_key_create

GUESSER = "198.51.100.7"
OTHER = "203.0.113.5"
PROXY = "10.0.0.2"


@pytest.fixture(autouse=True)
def limits(settings):
    settings.API_KEY_FAILURE_LIMIT = 5
    settings.API_KEY_FAILURE_WINDOW_SECONDS = 900
    settings.TRUSTED_PROXY_COUNT = 0
    # The counts live in the shared test Redis: start each test from a clean slate for its addresses.
    for ip in (GUESSER, OTHER, PROXY):
        cache.delete_many(failure_cache_keys(ip))
    yield
    for ip in (GUESSER, OTHER, PROXY):
        cache.delete_many(failure_cache_keys(ip))


@pytest.fixture
def valid_key(merchant):
    return api_key_create(merchant=merchant, name="sync", scopes=["read"], actor=Actor.system("test"))[1]


def get_me(key, ip=GUESSER, **extra):
    return APIClient().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Api-Key {key}", REMOTE_ADDR=ip, **extra)


def guess(times, ip=GUESSER, **extra):
    return [get_me(f"abcd1234.guess{n}", ip, **extra).status_code for n in range(times)]


def test_an_address_with_too_many_wrong_keys_gets_429_even_with_a_valid_key(valid_key):
    assert guess(5) == [401] * 5
    response = get_me(valid_key)
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "throttled"
    assert body["message"].startswith("Too many failed API key attempts from your address.")
    assert 890 <= int(response["Retry-After"]) <= 900
    assert guess(1) == [429]  # further guesses are not even checked


def test_other_addresses_are_not_affected(valid_key):
    guess(5)
    assert get_me(valid_key, OTHER).status_code == 200


def test_the_block_ends_when_the_window_has_passed(valid_key, monkeypatch):
    import accounts.api.throttling as throttling

    guess(5)
    assert get_me(valid_key).status_code == 429
    later = throttling.time.time() + 901
    monkeypatch.setattr(throttling.time, "time", lambda: later)
    assert get_me(valid_key).status_code == 200


def test_empty_revoked_and_malformed_keys_count_as_failures(merchant, valid_key):
    from accounts.models import MerchantAPIKey

    revoked_obj, revoked = api_key_create(
        merchant=merchant, name="old", scopes=["read"], actor=Actor.system("t")
    )
    MerchantAPIKey.objects.filter(pk=revoked_obj.pk).update(revoked=True)
    codes = [
        APIClient().get("/api/v1/me/", HTTP_AUTHORIZATION="Api-Key ", REMOTE_ADDR=GUESSER).status_code,
        get_me(revoked).status_code,
        get_me("no-dot-at-all").status_code,
        get_me("x" * 5000).status_code,
        get_me("\u00e9\u00e9.\u00e9").status_code,
    ]
    assert codes == [401] * 5
    assert get_me(valid_key).status_code == 429


def test_requests_without_a_key_header_are_not_counted(valid_key):
    for _ in range(6):
        assert APIClient().get("/api/v1/me/", REMOTE_ADDR=GUESSER).status_code == 401
    assert get_me(valid_key).status_code == 200


def test_a_spoofed_forwarded_for_does_not_escape_the_limit(valid_key):
    codes = [
        get_me(f"abcd1234.guess{n}", GUESSER, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}").status_code
        for n in range(6)
    ]
    assert codes == [401] * 5 + [429]


def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(valid_key, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    guess(5, PROXY, HTTP_X_FORWARDED_FOR=f"6.6.6.6, {GUESSER}")
    assert get_me(valid_key, PROXY, HTTP_X_FORWARDED_FOR=GUESSER).status_code == 429
    # Everyone shares the proxy's socket address; other clients behind it still get in.
    assert get_me(valid_key, PROXY, HTTP_X_FORWARDED_FOR=OTHER).status_code == 200


def test_each_key_has_a_request_rate(merchant, valid_key, settings):
    settings.API_KEY_RATE = "3/min"
    assert [get_me(valid_key, OTHER).status_code for _ in range(4)] == [200, 200, 200, 429]
    limited = get_me(valid_key, OTHER)
    assert limited.json()["code"] == "throttled" and int(limited["Retry-After"]) > 0
    another_key = api_key_create(
        merchant=merchant, name="other", scopes=["read"], actor=Actor.system("test")
    )[1]
    assert get_me(another_key, OTHER).status_code == 200
