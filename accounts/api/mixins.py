from functools import cached_property

from accounts.models import Merchant
from accounts.services import Actor


class MerchantAPIMixin:
    """Gives API views the requesting merchant and actor; querysets must filter by `self.merchant`."""

    @cached_property
    def merchant(self) -> Merchant | None:
        # Schema generation builds views without a request user; selectors then match nothing.
        if getattr(self, "swagger_fake_view", False):
            return None
        return self.request.user.merchant

    @cached_property
    def actor(self) -> Actor:
        return self.request.user.actor
