from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.models import Product, ProductImport


@extend_schema_field(OpenApiTypes.STR)
class CategoryNameField(serializers.Field):
    """Reads as the category's name; written as a name (or slug): the merchant's matching category is used,
    or created. Blank or null clears it."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return value.name

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError("A category name must be a string.")
        if len(data.strip()) > 200:
            raise serializers.ValidationError("At most 200 characters.")
        return data.strip()


class ProductSerializer(serializers.ModelSerializer):
    category = CategoryNameField(help_text="Category name; a new name creates the category. Null clears it.")
    # No `default`: DRF skips a defaulted field on partial updates, so PATCH answers lacked it.
    category_slug = serializers.CharField(source="category.slug", read_only=True, allow_null=True)
    in_stock = serializers.BooleanField(read_only=True)

    class Meta:
        model = Product
        fields = [
            "id",
            "sku",
            "title",
            "brand",
            "category",
            "category_slug",
            "price",
            "currency",
            "attributes",
            "description",
            "url",
            "stock",
            "in_stock",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {
            "currency": {"help_text": "3-letter ISO 4217 code, e.g. USD. Defaults to USD."},
            "attributes": {"help_text": 'Free-form object of product facts, e.g. {"color": "red"}.'},
            "stock": {"help_text": "Units in stock; null when not tracked."},
        }


class ProductImportUploadSerializer(serializers.Serializer):
    """multipart/form-data body of an import."""

    file = serializers.FileField(allow_empty_file=True, help_text="A .csv or .json file.")
    dry_run = serializers.BooleanField(
        required=False, default=False, help_text="Validate and report only; write no products."
    )
    file_format = serializers.ChoiceField(
        choices=["csv", "json"],
        required=False,
        help_text="Overrides detection from the file name and content.",
    )


class ImportRowErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField(
        help_text="Spreadsheet line (header = 1) or, for JSON, 1-based item index."
    )
    sku = serializers.CharField(allow_blank=True)
    errors = serializers.DictField(
        child=serializers.CharField(), help_text="Field name (or 'row') -> reason."
    )


class ImportPreviewRowSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    sku = serializers.CharField()
    title = serializers.CharField()
    brand = serializers.CharField(allow_blank=True)
    category = serializers.CharField(allow_blank=True)
    price = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    action = serializers.ChoiceField(
        choices=["create", "update", "unchanged"],
        help_text="`unchanged`: every value in the row equals the stored product's; it is not rewritten.",
    )


class ProductImportSerializer(serializers.ModelSerializer):
    """An import's outcome and per-row report. In a dry run the counts say what would be created/updated.
    `unchanged_count` counts rows identical to the stored product, which are left as they are."""

    columns = serializers.DictField(
        source="report.columns",
        child=serializers.CharField(),
        read_only=True,
        help_text="Source column -> product field (or attributes.<key>).",
    )
    ignored_columns = serializers.ListField(
        source="report.ignored_columns", child=serializers.CharField(), read_only=True, default=list
    )
    errors = ImportRowErrorSerializer(source="report.errors", many=True, read_only=True)
    errors_omitted = serializers.IntegerField(
        source="report.errors_omitted",
        read_only=True,
        default=0,
        help_text="Bad rows beyond the first 10,000, counted in error_count but not listed.",
    )
    preview = ImportPreviewRowSerializer(
        source="report.preview", many=True, read_only=True, help_text="The first 50 valid rows."
    )
    created_by = serializers.CharField(source="created_by_label", read_only=True)

    class Meta:
        model = ProductImport
        fields = [
            "id",
            "status",
            "dry_run",
            "filename",
            "file_format",
            "total_rows",
            "created_count",
            "updated_count",
            "unchanged_count",
            "error_count",
            "columns",
            "ignored_columns",
            "errors",
            "errors_omitted",
            "preview",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields
