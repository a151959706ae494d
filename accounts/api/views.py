from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.mixins import MerchantAPIMixin
from accounts.api.serializers import WhoAmISerializer


class WhoAmIView(MerchantAPIMixin, APIView):
    """Which merchant and scopes the presented key grants (handy to check a key before using it)."""

    @extend_schema(responses=WhoAmISerializer)
    def get(self, request):
        key = request.auth
        return Response(
            {
                "merchant": {"id": self.merchant.id, "slug": self.merchant.slug, "name": self.merchant.name},
                "key": {"prefix": key.prefix, "name": key.name, "scopes": key.scopes},
            }
        )
