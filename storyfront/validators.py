"""Django side of storyfront.outbound: the write-time check of URLs that Storyfront will later call.

Kept apart from storyfront/outbound.py, which ml/engine imports and which must not import Django."""

from django.conf import settings
from django.core.exceptions import ValidationError

from storyfront.outbound import DestinationRefused, GuardedClient


def validate_outbound_url(value: str) -> None:
    """Refuse non-http(s) URLs and hosts that are, or now resolve to, refused addresses. The connection is
    checked again when it is made, so a name re-pointed later is still refused then."""
    try:
        GuardedClient(allow_private=settings.OUTBOUND_ALLOW_PRIVATE).check_url(value)
    except DestinationRefused as exc:
        raise ValidationError(
            f"Storyfront cannot send requests to this URL: {exc}.", code="outbound_refused"
        ) from exc
