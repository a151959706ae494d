from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from catalog.selectors import brand_list, category_list


class ProductFilterForm(forms.Form):
    """The products list's search box and filters. Unknown values are dropped, never an error page."""

    STATUS_CHOICES = (("", "Any status"), ("active", "Active"), ("inactive", "Inactive"))

    q = forms.CharField(required=False, max_length=200, label="Search")
    category = forms.ChoiceField(required=False)
    brand = forms.ChoiceField(required=False)
    status = forms.ChoiceField(required=False, choices=STATUS_CHOICES)

    def __init__(self, *args, merchant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", "All categories")] + [
            (c.slug, c.name) for c in category_list(merchant=merchant)
        ]
        self.fields["brand"].choices = [("", "All brands")] + [(b, b) for b in brand_list(merchant=merchant)]

    def selector_filters(self) -> dict:
        """Keyword arguments for `product_list`, built from the valid fields only."""
        self.is_valid()
        data = self.cleaned_data
        status = data.get("status") or ""
        return {
            "search": (data.get("q") or "").strip(),
            "category": data.get("category") or None,
            "brand": data.get("brand") or None,
            "is_active": {"active": True, "inactive": False}.get(status),
        }


class ProductImportForm(forms.Form):
    FORMAT_CHOICES = (("", "Detect from the file name"), ("csv", "CSV"), ("json", "JSON"))

    file = forms.FileField(
        label="Catalog file",
        help_text="CSV with a header row, or JSON: a list of product objects.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.json,.txt,text/csv,application/json"}),
        error_messages={"required": "Choose a CSV or JSON file to import.", "empty": "The file is empty."},
    )
    file_format = forms.ChoiceField(label="Format", choices=FORMAT_CHOICES, required=False)
    dry_run = forms.BooleanField(
        label="Dry run: preview the import without changing the catalog",
        required=False,
        initial=True,
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.CATALOG_IMPORT_MAX_BYTES
        # Checked on the upload's size before anything reads it into memory.
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {filesizeformat(upload.size)}; the limit is {filesizeformat(limit)}. "
                "Split it into smaller files or use the API.",
                code="too_large",
            )
        return upload
