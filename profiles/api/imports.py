"""Import endpoints: customers/import/ (CSV or JSON customer files), events/import/ (order exports with the UCI
Online Retail header, interaction sequences) and the import history, imports/ and imports/{id}/."""

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.mixins import MerchantAPIMixin
from catalog.importing import ImportFileError, ImportTooLarge
from config.api_errors import PayloadTooLarge
from config.api_schema import AUTH_ERRORS, TOO_LARGE, ErrorSerializer, error_response, not_found
from config.api_uploads import CSVUploadParser, JSONUploadParser, RawUploadParser, upload_read
from profiles.api.import_serializers import (
    CustomerImportQuerySerializer,
    CustomerImportUploadSerializer,
    EventImportQuerySerializer,
    EventImportUploadSerializer,
    ImportRunDetailSerializer,
    ImportRunSerializer,
)
from profiles.import_selectors import import_run_get, import_run_list
from profiles.import_services import customer_import, orders_import, sequences_import
from profiles.models import ImportRun


class PlainTextUploadParser(RawUploadParser):
    media_type = "text/plain"


class _FormatIsAnOption(DefaultContentNegotiation):
    """events/import/ takes `?format=uci|sequences` (the file's format), which DRF would otherwise read as the
    response format it should render."""

    class settings:  # noqa: N801 - stands in for DRF's api_settings, of which only this one is read
        URL_FORMAT_OVERRIDE = None


_FILE_ERROR = OpenApiResponse(
    ErrorSerializer,
    description="The file or an option cannot be used (nothing written); `code` says why.",
    examples=[
        OpenApiExample(
            "Missing columns",
            value={
                "message": "Missing an id column: the file needs an external id or an email for each customer...",
                "code": "missing_columns",
                "field_errors": {"file": ["Missing an id column: ..."]},
            },
        )
    ],
)


def _file_error(exc: ImportFileError) -> Response:
    if isinstance(exc, ImportTooLarge):
        raise PayloadTooLarge(exc.message) from exc
    field = "mapping" if exc.code == "invalid_mapping" else "file"
    return Response(
        {"message": exc.message, "code": exc.code, "field_errors": {field: [exc.message]}},
        status=status.HTTP_400_BAD_REQUEST,
    )


def _too_large(size: int) -> str:
    return ImportTooLarge(size, settings.PROFILES_IMPORT_MAX_BYTES).message


_CUSTOMER_DESCRIPTION = """Upsert customers by external id from a CSV or JSON file and get a per-row report.

Send `multipart/form-data` with the file in `file`, or the raw file as the body (`text/csv`,
`application/json`). `?dry_run=true` (or a `dry_run` form field) validates and previews without writing.

Headers are matched by common names: ours (`external_id`, `email`, `name` or `first_name` + `last_name`,
`locale`, `country`, `consent_marketing`, `consent_profiling`, `attributes`, `attributes.<key>`), Shopify's
customer export (`Customer ID`, `First Name`, `Last Name`, `Email`, `Accepts Email Marketing`,
`Default Address Country Code`, `Tags`...) and Klaviyo's profile export (`Email`, `First Name`, `Last Name`,
`Country`, `Locale`, `External ID`, `Klaviyo ID`, `Email Marketing Consent`). A row without an id uses its email.
`mapping` (JSON, form field or query parameter) maps other headers. Unknown columns become attributes.
An empty cell leaves the stored value as it is; given attributes are merged into the stored ones.

Bad rows are listed in `errors` with their line (header = 1; JSON: the item's position) and skipped; the
valid rows are applied in one transaction. A file that cannot be read (empty, not CSV/JSON, no id column, a
bad mapping) answers 400 and writes nothing; a file over the size limit 413."""


class CustomerImportView(MerchantAPIMixin, APIView):
    parser_classes = [MultiPartParser, CSVUploadParser, JSONUploadParser]
    required_scope = "write"

    @extend_schema(
        summary="Import customers from CSV or JSON",
        description=_CUSTOMER_DESCRIPTION,
        parameters=[CustomerImportQuerySerializer],
        request={
            "multipart/form-data": CustomerImportUploadSerializer,
            "text/csv": OpenApiTypes.STR,
            "application/json": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
        },
        responses={
            200: ImportRunDetailSerializer,
            400: _FILE_ERROR,
            **TOO_LARGE,
            **error_response(415, "Unsupported Content-Type."),
            **AUTH_ERRORS,
        },
    )
    def post(self, request):
        upload = upload_read(
            request, settings.PROFILES_IMPORT_MAX_BYTES, CustomerImportUploadSerializer, _too_large
        )
        query = CustomerImportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        options = dict(query.validated_data)
        if upload.multipart:
            options["filename"] = upload.filename or options["filename"]
            options["dry_run"] = options["dry_run"] or upload.form["dry_run"]
            for name in ("file_format", "mapping"):
                if name in upload.form:
                    options[name] = upload.form[name]
        else:
            options.setdefault(
                "file_format", "json" if request.content_type.startswith("application/json") else "csv"
            )
        try:
            run = customer_import(merchant=self.merchant, actor=self.actor, data=upload.data, **options)
        except ImportFileError as exc:
            return _file_error(exc)
        return Response(ImportRunDetailSerializer(run).data)


_EVENT_DESCRIPTION = """Import behaviour from a file: `?format=uci` (default), an order export with the UCI
Online Retail header (InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID,
Country), or `?format=sequences`, one `user_id item_1 item_2 ...` line per user, oldest item first.

Order exports: each line becomes a `purchase` event (order_id = InvoiceNo, value = quantity x unit price in
`currency`, occurred_at = InvoiceDate read in `timezone`); invoices starting with C are cancellations and
become `refund` events (positive quantity and value). Customers are created with their country, lines without
a CustomerID are anonymous (session `invoice:<InvoiceNo>`), missing products are created from StockCode,
Description and UnitPrice (through the catalog import, which records its own import). Idempotency keys
`order:<InvoiceNo>:<n>` make a re-import insert nothing and count `duplicates`.

Sequences: customers `customer_prefix + user_id`, one `event_type` event per item (SKU `sku_prefix + item`,
no value; unknown SKUs are kept and linked when the products arrive), times synthesised one day apart ending
now, keys `seq:<customer>:<position>`.

Send the file as `multipart/form-data` (`file`) or as the raw body (`text/csv`, `text/plain`). Bad lines are
listed in `errors` with their line number and skipped. A file that cannot be read answers 400 and writes
nothing; over the size limit 413."""


class EventImportView(MerchantAPIMixin, APIView):
    parser_classes = [MultiPartParser, CSVUploadParser, PlainTextUploadParser]
    content_negotiation_class = _FormatIsAnOption
    required_scope = "write"

    @extend_schema(
        summary="Import orders or interaction sequences",
        description=_EVENT_DESCRIPTION,
        parameters=[EventImportQuerySerializer],
        request={
            "multipart/form-data": EventImportUploadSerializer,
            "text/csv": OpenApiTypes.STR,
            "text/plain": OpenApiTypes.STR,
        },
        responses={
            200: ImportRunDetailSerializer,
            400: _FILE_ERROR,
            **TOO_LARGE,
            **error_response(415, "Unsupported Content-Type."),
            **AUTH_ERRORS,
        },
    )
    def post(self, request):
        upload = upload_read(
            request, settings.PROFILES_IMPORT_MAX_BYTES, EventImportUploadSerializer, _too_large
        )
        query = EventImportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        options = dict(query.validated_data)
        dry_run = options["dry_run"] or bool(upload.form.get("dry_run"))
        common = {
            "merchant": self.merchant,
            "actor": self.actor,
            "data": upload.data,
            "filename": upload.filename or options["filename"],
            "dry_run": dry_run,
        }
        try:
            if options["format"] == "sequences":
                run = sequences_import(
                    **common,
                    event_type=options["event_type"],
                    customer_prefix=options["customer_prefix"],
                    sku_prefix=options["sku_prefix"],
                )
            else:
                run = orders_import(**common, currency=options["currency"], timezone_name=options["timezone"])
        except ImportFileError as exc:
            return _file_error(exc)
        return Response(ImportRunDetailSerializer(run).data)


class ImportRunFilterSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ImportRun.Kind.choices, required=False)


@extend_schema_view(
    list=extend_schema(
        summary="List imports",
        description="Customer, order and sequence imports, newest first (dry runs included), without reports.",
        parameters=[ImportRunFilterSerializer],
        responses={200: ImportRunSerializer(many=True), **AUTH_ERRORS},
    ),
    retrieve=extend_schema(
        summary="Get an import with its report",
        responses={200: ImportRunDetailSerializer, **AUTH_ERRORS, **not_found("import")},
    ),
)
class ImportRunViewSet(
    MerchantAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The merchant's profile imports (customers, orders, sequences); the `read` scope."""

    serializer_class = ImportRunSerializer

    def get_queryset(self):
        query = ImportRunFilterSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return import_run_list(merchant=self.merchant, kind=query.validated_data.get("kind", ""))

    def get_object(self):
        return import_run_get(merchant=self.merchant, import_id=self.kwargs["pk"])

    def get_serializer_class(self):
        return ImportRunDetailSerializer if self.action == "retrieve" else ImportRunSerializer
