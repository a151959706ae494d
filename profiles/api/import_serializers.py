"""Serializers of the profile import endpoints: upload forms, query options and the ImportRun report."""

import json

from rest_framework import serializers

from profiles.models import EventType, ImportRun
from profiles.order_import import check_currency, timezone_get


class MappingField(serializers.JSONField):
    """A JSON object of their header -> our field; sent as JSON text in a form field or a query parameter."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            if not data.strip():
                return {}
            try:
                data = json.loads(data)
            except json.JSONDecodeError:
                raise serializers.ValidationError(
                    'Send a JSON object such as {"Member No": "external_id", "Notes": ""}.'
                ) from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise serializers.ValidationError(
                'Send a JSON object of header -> field, "attributes.<key>" or "" (ignore).'
            )
        return data


_MAPPING_HELP = (
    'JSON object mapping the file\'s headers to customer fields: {"Member No": "external_id", '
    '"Segment": "attributes.segment", "Notes": ""}. Fields: external_id, email, name, first_name, last_name, '
    'locale, country, consent_marketing, consent_profiling, attributes; "" ignores the column.'
)


class CustomerImportQuerySerializer(serializers.Serializer):
    dry_run = serializers.BooleanField(required=False, default=False, help_text="Validate and report only.")
    file_format = serializers.ChoiceField(
        choices=["csv", "json"], required=False, help_text="Overrides detection from the name or content."
    )
    filename = serializers.CharField(required=False, default="", allow_blank=True, max_length=255)
    mapping = MappingField(required=False, help_text=_MAPPING_HELP)


class CustomerImportUploadSerializer(serializers.Serializer):
    """multipart/form-data body of a customer import."""

    file = serializers.FileField(allow_empty_file=True, help_text="A .csv or .json file.")
    dry_run = serializers.BooleanField(required=False, default=False)
    file_format = serializers.ChoiceField(choices=["csv", "json"], required=False)
    mapping = MappingField(required=False, help_text=_MAPPING_HELP)


class EventImportQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(
        choices=["uci", "sequences"],
        required=False,
        default="uci",
        help_text="`uci`: order export with the UCI Online Retail header; `sequences`: `user item item ...` lines.",
    )
    dry_run = serializers.BooleanField(required=False, default=False, help_text="Validate and report only.")
    filename = serializers.CharField(required=False, default="", allow_blank=True, max_length=255)
    currency = serializers.CharField(
        required=False, default="GBP", max_length=3, help_text="uci: currency of the prices and new products."
    )
    timezone = serializers.CharField(
        required=False, default="UTC", max_length=64, help_text="uci: timezone the invoice dates are in."
    )
    event_type = serializers.ChoiceField(
        choices=EventType.values,
        required=False,
        default=EventType.PURCHASE,
        help_text="sequences: event type.",
    )
    customer_prefix = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=50,
        help_text="sequences: prefix of user ids.",
    )
    sku_prefix = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=50,
        help_text="sequences: prefix of item ids.",
    )

    def validate_currency(self, value):
        try:
            return check_currency(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_timezone(self, value):
        try:
            timezone_get(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value


class EventImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        allow_empty_file=True, help_text="The order export (.csv) or sequences (.txt)."
    )
    dry_run = serializers.BooleanField(required=False, default=False)


class ImportRunErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField(
        help_text="Spreadsheet line (header = 1), text line, or JSON item (1-based)."
    )
    external_id = serializers.CharField(required=False, help_text="Customer imports: the row's customer.")
    invoice = serializers.CharField(required=False, help_text="Order imports: the line's invoice.")
    sku = serializers.CharField(required=False, help_text="Order imports: the line's stock code.")
    user = serializers.CharField(required=False, help_text="Sequence imports: the line's user.")
    errors = serializers.DictField(child=serializers.CharField(), help_text="Field (or 'row') -> reason.")


class ImportRunSerializer(serializers.ModelSerializer):
    """An import's outcome. `counts` depend on the kind: customers {created, updated, unchanged}; orders
    {purchases, refunds, anonymous_lines, customers, customers_created, products, products_created, inserted,
    duplicates, rejected}; sequences {users, interactions, customers_created, products, unknown_skus,
    inserted, duplicates, rejected}. In a dry run they say what would happen."""

    created_by = serializers.CharField(source="created_by_label", read_only=True)

    class Meta:
        model = ImportRun
        fields = [
            "id",
            "kind",
            "status",
            "dry_run",
            "filename",
            "file_format",
            "total_rows",
            "error_count",
            "counts",
            "seconds",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class ImportRunDetailSerializer(ImportRunSerializer):
    columns = serializers.DictField(
        source="report.columns", child=serializers.CharField(), read_only=True, default=dict
    )
    ignored_columns = serializers.ListField(
        source="report.ignored_columns", child=serializers.CharField(), read_only=True, default=list
    )
    errors = ImportRunErrorSerializer(source="report.errors", many=True, read_only=True, default=list)
    errors_omitted = serializers.IntegerField(source="report.errors_omitted", read_only=True, default=0)
    preview = serializers.ListField(
        source="report.preview",
        child=serializers.DictField(),
        read_only=True,
        default=list,
        help_text="The first 50 valid rows, with what importing each does.",
    )

    class Meta(ImportRunSerializer.Meta):
        fields = [
            *ImportRunSerializer.Meta.fields,
            "columns",
            "ignored_columns",
            "errors",
            "errors_omitted",
            "preview",
        ]
        read_only_fields = fields
