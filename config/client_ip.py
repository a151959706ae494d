"""The one answer to "which address is this client?", used by every rate limit, lockout and audit entry.

Behind N reverse proxies that each append the address they saw to X-Forwarded-For, the N-th address from the
right was written by our own outermost proxy and is the client; everything left of it came from the client
and can be anything. With no trusted proxy (STORYFRONT_TRUSTED_PROXY_COUNT=0, the default) the header is
ignored entirely and the socket address (REMOTE_ADDR) is the client."""

import ipaddress

from django.conf import settings

FORWARDED_FOR = "HTTP_X_FORWARDED_FOR"


def _normalized(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request) -> str:
    remote = _normalized(request.META.get("REMOTE_ADDR") or "") or "0.0.0.0"
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    hops = [hop for hop in request.META.get(FORWARDED_FOR, "").split(",") if hop.strip()]
    if not hops:
        # The request did not pass through the proxy (a health check on the internal network, say).
        return remote
    # Fewer hops than proxies: the outermost proxy's entry is still the left-most one we have.
    chosen = hops[-proxies] if len(hops) >= proxies else hops[0]
    # A malformed entry where our own proxy writes means the proxy chain is not what the setting says:
    # fall back to the socket address rather than trust client-written text.
    return _normalized(chosen) or remote
