"""Tells drf-spectacular how API-key authentication appears in the OpenAPI schema."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class MerchantAPIKeyScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.api.authentication.MerchantAPIKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Send `Authorization: Api-Key <key>`. Keys belong to one merchant and carry scopes.",
        }
