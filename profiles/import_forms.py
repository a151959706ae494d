"""The dashboard's import form: one upload for customer files, order exports and interaction sequences."""

import json

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from profiles.models import EventType, ImportRun
from profiles.order_import import check_currency, timezone_get


class ImportForm(forms.Form):
    kind = forms.ChoiceField(
        label="What the file holds",
        choices=[
            (ImportRun.Kind.CUSTOMERS, "Customers (CSV or JSON: Shopify, Klaviyo or your own columns)"),
            (ImportRun.Kind.ORDERS, "Orders (CSV with the UCI Online Retail columns)"),
            (ImportRun.Kind.SEQUENCES, "Interaction sequences (text: user id, then item ids, oldest first)"),
        ],
        initial=ImportRun.Kind.CUSTOMERS,
        widget=forms.RadioSelect,
    )
    file = forms.FileField(
        label="File",
        help_text="CSV with a header row, a JSON list of customer objects, or a sequences text file.",
        error_messages={"required": "Choose a file to import.", "empty": "The file is empty."},
    )
    dry_run = forms.BooleanField(
        label="Dry run: preview the import without changing anything", required=False, initial=True
    )
    mapping = forms.CharField(
        label="Column mapping (customers, optional)",
        required=False,
        max_length=10_000,
        widget=forms.Textarea(
            attrs={"rows": 3, "spellcheck": "false", "placeholder": '{"Member No": "external_id"}'}
        ),
        help_text="JSON: their header -> external_id, email, name, first_name, last_name, locale, country, "
        'consent_marketing, consent_profiling, "attributes.<key>", or "" to ignore the column.',
    )
    currency = forms.CharField(
        label="Currency (orders)",
        initial="GBP",
        max_length=3,
        help_text="Of the unit prices and new products.",
    )
    timezone = forms.CharField(
        label="Timezone (orders)", initial="UTC", max_length=64, help_text="The invoice dates' timezone."
    )
    event_type = forms.ChoiceField(
        label="Event type (sequences)", choices=EventType.choices, initial=EventType.PURCHASE
    )
    customer_prefix = forms.CharField(
        label="Customer id prefix (sequences)",
        required=False,
        max_length=50,
        help_text="Put before each user id.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.PROFILES_IMPORT_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {filesizeformat(upload.size)}; the limit is {filesizeformat(limit)}. "
                "Split it, or use the import_orders command for big order files.",
                code="too_large",
            )
        return upload

    def clean_mapping(self):
        text = self.cleaned_data["mapping"].strip()
        if not text:
            return None
        try:
            mapping = json.loads(text)
        except json.JSONDecodeError:
            raise forms.ValidationError(
                'Write the mapping as JSON, e.g. {"Member No": "external_id"}.'
            ) from None
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            raise forms.ValidationError(
                'The mapping must be a JSON object of header -> field, e.g. {"Notes": ""}.'
            )
        return mapping

    def clean_currency(self):
        try:
            return check_currency(self.cleaned_data["currency"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_timezone(self):
        value = self.cleaned_data["timezone"].strip()
        try:
            timezone_get(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return value

    def options(self) -> dict:
        """The import's options, as the service takes them (also kept with a staged preview)."""
        data = self.cleaned_data
        if data["kind"] == ImportRun.Kind.CUSTOMERS:
            return {"mapping": data["mapping"]}
        if data["kind"] == ImportRun.Kind.ORDERS:
            return {"currency": data["currency"], "timezone_name": data["timezone"]}
        return {"event_type": data["event_type"], "customer_prefix": data["customer_prefix"]}
