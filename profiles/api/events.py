"""/api/v1/events/: ingest behaviour events (one, a batch, or NDJSON) and list them.

The request does only parsing, validation and the COPY (profiles.ingest); profiles are updated on the worker."""

import json

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ParseError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from accounts.api.mixins import MerchantAPIMixin
from config.api_errors import PayloadTooLarge
from config.api_schema import AUTH_ERRORS, TOO_LARGE, ErrorSerializer, error_response
from config.api_uploads import JSONLinesUploadParser, JSONLUploadParser, JSONUploadParser, body_over_limit
from profiles.api.filters import EventFilter
from profiles.api.serializers import (
    EventBatchSerializer,
    EventInSerializer,
    EventSerializer,
    IngestReportSerializer,
)
from profiles.ingest import MAX_EVENTS_PER_REQUEST, ingest_events
from profiles.selectors import event_list

# 10,000 events of ~2 KB each; a body over this is refused (413) before it is read.
MAX_BODY_BYTES = 20 * 1024 * 1024
_TOO_MANY = f"At most {MAX_EVENTS_PER_REQUEST:,} events per request; send the rest in further requests."


class EventCursorPagination(CursorPagination):
    """Newest first, by a cursor: pages stay fast and stable however many events the merchant has."""

    ordering = ("-occurred_at", "-id")
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


def parse_events_body(data: bytes, *, ndjson: bool) -> list:
    """The events of a body: a JSON object (one event), an array, {"events": [...]}, or NDJSON (one object per
    line). Malformed input raises ParseError (400); more than MAX_EVENTS_PER_REQUEST, PayloadTooLarge (413)."""
    if not data.strip():
        raise ParseError('The body is empty; send one event, an array of events or {"events": [...]}.')
    if ndjson:
        lines = [line for line in data.splitlines() if line.strip()]
        if len(lines) > MAX_EVENTS_PER_REQUEST:
            raise PayloadTooLarge(f"{len(lines):,} events. {_TOO_MANY}")
        return [_loads(line, f"Line {number}") for number, line in enumerate(lines, start=1)]
    body = _loads(data, "The body")
    if isinstance(body, dict):
        events = body["events"] if "events" in body and "type" not in body else [body]
    else:
        events = body
    if not isinstance(events, list):
        raise ParseError('Send one event (an object), an array of events, or {"events": [...]}.')
    if len(events) > MAX_EVENTS_PER_REQUEST:
        raise PayloadTooLarge(f"{len(events):,} events. {_TOO_MANY}")
    return events


def _loads(data: bytes, what: str):
    try:
        return json.loads(data)
    except RecursionError:
        raise ParseError(f"{what} is nested too deeply.") from None
    except ValueError as exc:  # also UnicodeDecodeError
        raise ParseError(f"{what} is not valid JSON: {exc}") from None


_INGEST_DESCRIPTION = f"""Record what shoppers did. Send one event (a JSON object), an array of events,
`{{"events": [...]}}`, or NDJSON (`Content-Type: application/x-ndjson`, one event per line); at most
{MAX_EVENTS_PER_REQUEST:,} events (else 413) and {MAX_BODY_BYTES // (1024 * 1024)} MB per request.

Each event names a `customer` (the shop's id; unknown ones are created) or an anonymous `session_id`. Invalid
events are listed in `errors` with their 0-based `index` and do not stop the valid ones, which are stored
in one transaction. An event whose `idempotency_key` the merchant already sent (or that appears earlier in
the batch) is skipped and counted in `duplicates`, so a retried request stores nothing twice. An SKU that
is not in the catalog yet is stored and linked when the product is created.

A purchase event is one order line: `product`, `quantity`, `value` (the line's amount) and `order_id`; a
return is a `refund` event for the same product and order.

200 when at least one event was valid; 400 with the same report when none was."""


class EventViewSet(MerchantAPIMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = EventSerializer
    pagination_class = EventCursorPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = EventFilter
    parser_classes = [JSONUploadParser, JSONLinesUploadParser, JSONLUploadParser]

    def get_queryset(self):
        return event_list(merchant=self.merchant).select_related(None).select_related("customer")

    @extend_schema(
        summary="List events",
        description="Newest first. Paginated with an opaque cursor: follow `next` and `previous`.",
        responses={200: EventSerializer(many=True), **AUTH_ERRORS},
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="Ingest events",
        description=_INGEST_DESCRIPTION,
        request={
            "application/json": PolymorphicProxySerializer(
                component_name="EventIngest",
                serializers=[EventInSerializer, EventBatchSerializer],
                resource_type_field_name=None,
            ),
            "application/x-ndjson": OpenApiTypes.STR,
        },
        responses={
            200: IngestReportSerializer,
            400: OpenApiResponse(
                ErrorSerializer,
                description=(
                    "A malformed body (`message` says what is wrong), or no valid event: then the error also "
                    "carries the batch report (`received`, `inserted`, `duplicates`, `rejected`, `unknown_skus`, "
                    "`customers_created`, `errors`), as in the 200 answer."
                ),
                examples=[
                    OpenApiExample(
                        "No valid event",
                        value={
                            "message": "No valid event; see errors.",
                            "code": "invalid",
                            "received": 1,
                            "inserted": 0,
                            "duplicates": 0,
                            "rejected": 1,
                            "unknown_skus": 0,
                            "customers_created": 0,
                            "errors": [{"index": 0, "errors": {"type": ["This field is required."]}}],
                        },
                    )
                ],
            ),
            **{**TOO_LARGE, **error_response(413, "More than 10,000 events, or a body over 20 MB.")},
            **AUTH_ERRORS,
        },
    )
    def create(self, request):
        declared = body_over_limit(request, MAX_BODY_BYTES)
        if declared is not None:
            raise PayloadTooLarge(
                f"The body is {declared:,} bytes; the limit is {MAX_BODY_BYTES:,}. {_TOO_MANY}"
            )
        data = request.data if isinstance(request.data, bytes) else b""
        ndjson = request.content_type.split(";")[0].strip() in ("application/x-ndjson", "application/jsonl")
        events = parse_events_body(data, ndjson=ndjson)
        result = ingest_events(merchant=self.merchant, rows=events, source="api")
        report = result.as_dict()
        if result.inserted or result.duplicates:
            return Response(report)
        return Response(
            {"message": "No valid event; see errors.", "code": "invalid", **report},
            status=status.HTTP_400_BAD_REQUEST,
        )
