"""API rate limits, counted in the shared cache (Redis in production).

- Failed key attempts per client address (`key_failures_*`): an address that sent API_KEY_FAILURE_LIMIT wrong,
  revoked or expired keys within API_KEY_FAILURE_WINDOW_SECONDS is refused with 429 for every key attempt,
  valid or not, until that window has passed, so keys cannot be guessed at speed and a stolen valid key does
  not help the guesser. The count starts with the first failure and is not reset by a success.
- Successful requests per key (`APIKeyRateThrottle`, DRF's throttle with the rate API_KEY_RATE)."""

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.exceptions import Throttled
from rest_framework.throttling import SimpleRateThrottle

from config.client_ip import client_ip


def failure_cache_keys(ip: str) -> tuple[str, str]:
    """The cache keys of one address: its failure count and, once over the limit, the time its block ends."""
    return f"api-key-failures:{ip}", f"api-key-blocked:{ip}"


def key_failures_check(request) -> None:
    """Raises 429 (with Retry-After) while the client's address is blocked."""
    _, blocked_key = failure_cache_keys(client_ip(request))
    blocked_until = cache.get(blocked_key)
    if blocked_until is not None:
        wait = blocked_until - time.time()
        if wait > 0:
            # DRF adds "Expected available in N seconds." and the Retry-After header.
            raise Throttled(wait=wait, detail="Too many failed API key attempts from your address.")


def key_failure_record(request) -> None:
    counter_key, blocked_key = failure_cache_keys(client_ip(request))
    window = settings.API_KEY_FAILURE_WINDOW_SECONDS
    # add() starts the window at the first failure; incr() keeps the key's expiry: the window does not slide.
    cache.add(counter_key, 0, timeout=window)
    try:
        failures = cache.incr(counter_key)
    except ValueError:  # expired between add and incr
        cache.set(counter_key, 1, timeout=window)
        failures = 1
    if failures >= settings.API_KEY_FAILURE_LIMIT:
        cache.add(blocked_key, time.time() + window, timeout=window)


class APIKeyRateThrottle(SimpleRateThrottle):
    """Per key, for authenticated API requests only (the widget and the schema pages have no key)."""

    scope = "api_key"

    def get_rate(self):
        return settings.API_KEY_RATE

    def get_cache_key(self, request, view):
        api_key = getattr(request, "auth", None)
        prefix = getattr(api_key, "prefix", None)
        if not prefix:
            return None
        return self.cache_format % {"scope": self.scope, "ident": prefix}
