"""What the OpenAPI schema (/api/schema/) says beyond each view's own declarations, so that it matches what the
server does (tests/api/test_schemathesis.py checks every operation against a live server):

- every operation lists the error statuses any API request can get, with the one `Error` body
  (config/api_errors.py): 400 and 404 (bad input, no such object or page), 401 and 403 (key and scope), 429
  (throttling); operations with a body also 413 (too large) and 415 (unsupported Content-Type). Statuses that
  only some operations answer (409, 202...) stay declared on those views;
- request bodies are documented as JSON. Views that keep DRF's default parsers also read form bodies, for old
  clients, but JSON is the API's format; upload endpoints that declare their own parsers keep them all."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.settings import api_settings


class ErrorSerializer(serializers.Serializer):
    """The shape of every API error (config/api_errors.py); some errors add fields of their own."""

    message = serializers.CharField(help_text="What went wrong, for people.")
    code = serializers.CharField(
        help_text="What went wrong, for programs: `invalid`, `not_found`, `throttled`..."
    )
    field_errors = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text=(
            "Only on 400 for invalid input: per field, a list of messages, or for nested fields and list items "
            "an object keyed by sub-field or index."
        ),
    )


# The error responses views declare in their own `extend_schema(responses=...)`, written once.
def error_response(status: int, description: str) -> dict[int, OpenApiResponse]:
    """One declared error status with the `Error` body, to spread into `responses={...}`."""
    return {status: OpenApiResponse(ErrorSerializer, description=description)}


def not_found(thing: str = "object") -> dict[int, OpenApiResponse]:
    """404, naming what is missing: `not_found("product")`."""
    return error_response(404, f"No such {thing} for this merchant.")


def conflict(description: str = "The object's state does not allow this.") -> dict[int, OpenApiResponse]:
    """409, saying which state refuses the request."""
    return error_response(409, description)


AUTH_ERRORS = {
    **error_response(401, "Missing or invalid API key."),
    **error_response(403, "The key lacks the scope this request needs."),
}
NOT_FOUND = not_found()
INVALID = error_response(400, "Invalid input; see field_errors.")
CONFLICT = conflict()
TOO_LARGE = error_response(413, "The file is over the size limit.")

_EVERY_OPERATION = {
    "400": "Invalid input (see `field_errors`), a malformed or too deeply nested body, or too many form fields.",
    "404": "No such object for this merchant, or no such page.",
    "429": "Too many requests for this key, or too many failed key attempts from this address; see Retry-After.",
}
_AUTHENTICATED = {
    "401": "Missing or invalid API key.",
    "403": "The key lacks the scope this request needs.",
}
_WITH_BODY = {
    "413": "The request body is over the size limit.",
    "415": "Unsupported Content-Type.",
}
_RETRY_AFTER = {
    "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before trying again."}
}


class StoryfrontAutoSchema(AutoSchema):
    def _error_descriptions(self) -> dict[str, str]:
        descriptions = dict(_EVERY_OPERATION)
        if self.view.authentication_classes:
            descriptions.update(_AUTHENTICATED)
        if self.method in ("POST", "PUT", "PATCH"):
            descriptions.update(_WITH_BODY)
        return descriptions

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, description in self._error_descriptions().items():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=description), code, direction=direction
                )
        if "429" in responses:
            responses["429"].setdefault("headers", {}).update(_RETRY_AFTER)
        return dict(sorted(responses.items()))

    def map_parsers(self):
        media_types = super().map_parsers()
        if list(self.view.parser_classes) == list(api_settings.DEFAULT_PARSER_CLASSES):
            return [media_type for media_type in media_types if media_type == "application/json"]
        return media_types
