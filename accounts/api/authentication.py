"""`Authorization: Api-Key <key>` authentication. The key identifies exactly one merchant."""

from dataclasses import dataclass

from django.utils import timezone
from rest_framework import authentication, exceptions

from accounts.api.throttling import key_failure_record, key_failures_check
from accounts.models import Merchant, MerchantAPIKey
from accounts.services import Actor

KEYWORD = "Api-Key"


@dataclass(frozen=True)
class APIKeyPrincipal:
    """Stands in for `request.user` on API requests; the key itself is `request.auth`."""

    merchant: Merchant
    api_key: MerchantAPIKey

    is_authenticated = True
    is_anonymous = False

    @property
    def actor(self) -> Actor:
        return Actor.for_api_key(self.api_key)

    def __str__(self) -> str:
        return f"api-key:{self.api_key.prefix}"


class MerchantAPIKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _, key = header.partition(" ")
        if keyword.lower() != KEYWORD.lower():
            return None
        # Checked before the key: a blocked address gets 429 even with a valid key (see api/throttling.py).
        key_failures_check(request)
        key = key.strip()
        if not key:
            key_failure_record(request)
            raise exceptions.AuthenticationFailed("Empty API key. Send 'Authorization: Api-Key <key>'.")
        try:
            api_key = MerchantAPIKey.objects.get_from_key(key)
        except MerchantAPIKey.DoesNotExist:
            key_failure_record(request)
            raise exceptions.AuthenticationFailed("Invalid, revoked or expired API key.") from None
        if api_key.has_expired:
            key_failure_record(request)
            raise exceptions.AuthenticationFailed("Invalid, revoked or expired API key.")
        # Touch at most once a minute so a busy key does not write on every request.
        now = timezone.now()
        if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
            MerchantAPIKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        _ = api_key.merchant  # loaded once here, used by every view
        return APIKeyPrincipal(merchant=api_key.merchant, api_key=api_key), api_key

    def authenticate_header(self, request):
        return KEYWORD
