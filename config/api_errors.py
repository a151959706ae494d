"""Every API error is JSON of one shape: {"message", "code", "field_errors"} (field_errors only for 400s)."""

import logging

from django.conf import settings
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import (
    ValidationError as DjangoValidationError,
)
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The upload is larger than the limit."
    default_code = "payload_too_large"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The object is not in a state that allows this."
    default_code = "conflict"


class TooManyFields(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The form has too many fields."
    default_code = "too_many_fields"


class TooDeep(exceptions.ParseError):
    default_detail = "The JSON body is nested too deeply."
    default_code = "too_deep"


class BadRequest(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The request could not be processed."
    default_code = "bad_request"


def _from_django_request_error(exc):
    """Django refuses oversized or abusive bodies while DRF parses them (SuspiciousOperation subclasses that
    Django itself would turn into a 400 page): the API answers them as the documented JSON errors."""
    if isinstance(exc, TooManyFieldsSent):
        return TooManyFields(
            f"More than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} form fields; send fewer, or a JSON body."
        )
    if isinstance(exc, TooManyFilesSent):
        return TooManyFields(f"More than {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files in one request.")
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge(
            f"The request body is over the limit of {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
        )
    return BadRequest()


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            msg = _first_message(value)
            return msg if key in ("non_field_errors", "detail") else f"{key}: {msg}"
        return "Invalid input."
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else "Invalid input."
    return str(detail)


def api_exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, SuspiciousOperation):
        logging.getLogger(f"django.security.{exc.__class__.__name__}").warning("%s", exc)
        exc = _from_django_request_error(exc)
    elif isinstance(exc, RecursionError):
        # A parser that recursed too deeply on hostile input; the JSON parser refuses deep bodies before this.
        exc = TooDeep()

    response = exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled API error", exc_info=exc)
        return Response(
            {"message": "Internal error; it has been logged.", "code": "server_error"},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )

    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = {
            "message": "Invalid input. " + _first_message(detail),
            "code": "invalid",
            "field_errors": detail,
        }
    else:
        detail = getattr(exc, "detail", str(exc))
        code = exc.get_codes() if hasattr(exc, "get_codes") else "error"
        response.data = {
            "message": _first_message(detail),
            "code": code if isinstance(code, str) else "error",
        }
    return response


# Django's own error views, for what no API view answers: paths the API does not have (`/api/v1/`, `/api/v1/nope/`,
# ids the routes do not match), and errors raised outside DRF. Under /api/ they answer the documented JSON error;
# elsewhere Django's HTML pages. Wired as handler400/403/404/500 in config/urls.py.


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def _json_error(message: str, code: str, status_code: int) -> JsonResponse:
    return JsonResponse({"message": message, "code": code}, status=status_code)


def bad_request_view(request, exception):
    if _is_api(request):
        return _json_error("The request could not be processed.", "bad_request", 400)
    return defaults.bad_request(request, exception)


def permission_denied_view(request, exception):
    if _is_api(request):
        return _json_error("You do not have permission to perform this action.", "permission_denied", 403)
    return defaults.permission_denied(request, exception)


def not_found_view(request, exception):
    if _is_api(request):
        return _json_error("No such API endpoint; see /api/docs/.", "not_found", 404)
    return defaults.page_not_found(request, exception)


def server_error_view(request):
    if _is_api(request):
        return _json_error("Internal error; it has been logged.", "server_error", 500)
    return defaults.server_error(request)
