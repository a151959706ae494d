from django.conf import settings
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.filters import OrderingFilter
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.mixins import MerchantAPIMixin
from catalog.api.serializers import (
    ProductImportSerializer,
    ProductImportUploadSerializer,
    ProductSerializer,
)
from catalog.filters import ProductFilter
from catalog.importing import ImportFileError, ImportTooLarge
from catalog.selectors import product_list
from catalog.services import product_create, product_delete, product_import, product_update
from config.api_errors import PayloadTooLarge
from config.api_schema import AUTH_ERRORS, INVALID, TOO_LARGE, ErrorSerializer, error_response, not_found
from config.api_uploads import CSVUploadParser, JSONUploadParser, upload_read

_PRODUCT_NOT_FOUND = not_found("product")


@extend_schema_view(
    list=extend_schema(summary="List products", responses={200: ProductSerializer(many=True), **AUTH_ERRORS}),
    retrieve=extend_schema(
        summary="Get a product", responses={200: ProductSerializer, **AUTH_ERRORS, **_PRODUCT_NOT_FOUND}
    ),
    create=extend_schema(
        summary="Create a product", responses={201: ProductSerializer, **INVALID, **AUTH_ERRORS}
    ),
    update=extend_schema(
        summary="Replace a product",
        responses={200: ProductSerializer, **INVALID, **AUTH_ERRORS, **_PRODUCT_NOT_FOUND},
    ),
    partial_update=extend_schema(
        summary="Change some fields of a product",
        responses={200: ProductSerializer, **INVALID, **AUTH_ERRORS, **_PRODUCT_NOT_FOUND},
    ),
    destroy=extend_schema(
        summary="Delete a product", responses={204: None, **AUTH_ERRORS, **_PRODUCT_NOT_FOUND}
    ),
)
class ProductViewSet(MerchantAPIMixin, viewsets.ModelViewSet):
    """The merchant's catalog. Reads need the `read` scope, writes `write`. SKUs are unique per merchant."""

    serializer_class = ProductSerializer
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = ProductFilter
    ordering_fields = ["title", "sku", "brand", "price", "stock", "created_at", "updated_at"]
    ordering = ["title", "id"]

    def get_queryset(self):
        return product_list(merchant=self.merchant)

    def perform_create(self, serializer):
        serializer.instance = product_create(
            merchant=self.merchant, actor=self.actor, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = product_update(
            product=serializer.instance, actor=self.actor, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        product_delete(product=instance, actor=self.actor)


class ProductImportQuerySerializer(serializers.Serializer):
    dry_run = serializers.BooleanField(required=False, default=False, help_text="Validate and report only.")
    file_format = serializers.ChoiceField(
        choices=["csv", "json"],
        required=False,
        help_text="Overrides detection from the file name, content or Content-Type.",
    )
    filename = serializers.CharField(
        required=False, default="", allow_blank=True, max_length=255, help_text="Recorded with the import."
    )


_IMPORT_DESCRIPTION = """Upsert products by SKU from a CSV or JSON file and get a per-row report.

Send either `multipart/form-data` with the file in `file`, or the raw file as the body with
`Content-Type: text/csv` or `application/json`. Add `?dry_run=true` (or a `dry_run` form field) to validate
and preview without writing products.

Headers are matched to product fields by common names: our own (`sku`, `title`, `brand`, `category`, `price`,
`currency`, `description`, `url`, `stock`, `is_active`, `attributes`), Shopify (`Handle`, `Variant SKU`,
`Title`, `Vendor`, `Type`, `Variant Price`, `Body (HTML)`), Myntra (`ProductID`, `ProductName`,
`ProductBrand`, `Price (INR)`), UCI Online Retail (`StockCode`, `Description`, `UnitPrice`).
Other columns become string attributes (Myntra's `Gender` becomes `attributes.gender`); sales columns
(invoice, quantity, customer, country) are ignored. `sku`, `title` and `price` are required.
Re-importing a file updates the same products: rows whose values equal the stored product's are reported
as `unchanged` and not rewritten.

Bad rows (non-numeric or negative price, duplicate SKU in the file, wrong types...) are listed in `errors`
with their line (header = line 1; for JSON the item's 1-based position) and do not stop the valid rows,
which are applied in one transaction. A problem with the file as a whole (empty, undecodable, not CSV/JSON,
missing required columns) answers 400 and writes nothing; a file over the size limit answers 413."""


class ProductImportView(MerchantAPIMixin, APIView):
    parser_classes = [MultiPartParser, CSVUploadParser, JSONUploadParser]
    required_scope = "write"

    @extend_schema(
        summary="Import products from CSV or JSON",
        description=_IMPORT_DESCRIPTION,
        parameters=[ProductImportQuerySerializer],
        request={
            "multipart/form-data": ProductImportUploadSerializer,
            "text/csv": OpenApiTypes.STR,
            "application/json": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
        },
        responses={
            200: ProductImportSerializer,
            400: OpenApiResponse(
                ErrorSerializer,
                description="The file cannot be imported (nothing written); `code` says why.",
                examples=[
                    OpenApiExample(
                        "Missing columns",
                        value={
                            "message": "Missing required column(s): price. Found columns: 'sku', 'title'...",
                            "code": "missing_columns",
                            "field_errors": {"file": ["Missing required column(s): price. ..."]},
                        },
                    )
                ],
            ),
            **TOO_LARGE,
            **error_response(415, "Unsupported Content-Type."),
            **AUTH_ERRORS,
        },
    )
    def post(self, request):
        limit = settings.CATALOG_IMPORT_MAX_BYTES
        upload = upload_read(
            request, limit, ProductImportUploadSerializer, lambda size: ImportTooLarge(size, limit).message
        )
        query = ProductImportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        options = dict(query.validated_data)
        data = upload.data
        if upload.multipart:
            options["filename"] = upload.filename or options["filename"]
            options["dry_run"] = options["dry_run"] or upload.form["dry_run"]
            options.setdefault("file_format", upload.form.get("file_format"))
        else:
            options.setdefault(
                "file_format", "json" if request.content_type.startswith("application/json") else "csv"
            )

        try:
            result = product_import(merchant=self.merchant, actor=self.actor, data=data, **options)
        except ImportTooLarge as exc:
            raise PayloadTooLarge(exc.message) from exc
        except ImportFileError as exc:
            return Response(
                {"message": exc.message, "code": exc.code, "field_errors": {"file": [exc.message]}},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(ProductImportSerializer(result).data)
