from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat

from catalog.attributes import attribute_text
from catalog.import_values import parse_price
from catalog.importing import DEFAULT_CURRENCY
from catalog.selectors import brand_list, category_list, currency_list


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


# --- product create / edit ---------------------------------------------------------------------------------

MAX_ATTRIBUTE_ROWS = 200
BLANK_ATTRIBUTE_ROWS = 2  # empty rows under the stored ones, so a row can be added without JavaScript


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form: on the field it names when the form has it, else on top."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for name, messages in error.message_dict.items():
        form.add_error(name if name in form.fields else None, messages)


class PriceField(forms.CharField):
    """A price read as the import reads it ("24.90", "1,299.00", "$12"), with the import's rules."""

    MAX_CHARS = 40

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        if len(value) > self.MAX_CHARS:
            raise ValidationError("That is too long to be a price.", code="invalid")
        try:
            return parse_price(value)
        except ValueError as exc:
            raise ValidationError(str(exc), code="invalid") from None


class AttributeRowForm(forms.Form):
    key = forms.CharField(
        label="Name",
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "Name, e.g. Material", "autocomplete": "off"}),
    )
    value = forms.CharField(
        label="Value",
        max_length=2000,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "Value, e.g. Organic cotton", "autocomplete": "off"}),
    )


class BaseAttributeRowFormSet(forms.BaseFormSet):
    """Rows with a name are kept, empty rows are skipped, a stored row ticked "Remove" is dropped. `stored` is
    the product's current attributes: a stored attribute with an empty value may stay empty, a new one needs
    a value."""

    stored: dict = {}
    default_error_messages = {
        "missing_management_form": "The attribute rows could not be read. Reload the page and try again.",
        "too_many_forms": "A product can have at most %(num)d attributes.",
    }

    def kept_rows(self) -> list[dict]:
        return [form.cleaned_data for form in self.forms if form not in self.deleted_forms]

    def clean(self):
        seen: dict[str, str] = {}
        for form in self.forms:
            if form.errors or self._should_delete_form(form):
                continue
            key, value = form.cleaned_data.get("key", ""), form.cleaned_data.get("value", "")
            if value and not key:
                form.add_error("key", "Name the attribute, or clear its value.")
            elif key and not value and (key not in self.stored or attribute_text(self.stored[key])):
                form.add_error("value", "Give a value, or clear the name.")
            elif key and key.casefold() in seen:
                form.add_error("key", f"“{seen[key.casefold()]}” is already listed above.")
            elif key:
                seen[key.casefold()] = key


AttributeRowFormSet = forms.formset_factory(
    AttributeRowForm,
    formset=BaseAttributeRowFormSet,
    extra=BLANK_ATTRIBUTE_ROWS,
    can_delete=True,
    can_delete_extra=False,
    max_num=MAX_ATTRIBUTE_ROWS,
    validate_max=True,
    absolute_max=MAX_ATTRIBUTE_ROWS,
)


class ProductForm(forms.Form):
    """One product's fields and its attributes as name/value rows. The shapes are checked here; the rules
    (SKU unique in the catalog, currency code, lengths) are `catalog.services`', the same as for the API and
    the import, and their errors come back with `add_service_errors`."""

    ATTRIBUTES_PREFIX = "attr"

    title = forms.CharField(max_length=500)
    sku = forms.CharField(
        label="SKU", max_length=100, help_text="Your code for the product, unique in your catalog."
    )
    brand = forms.CharField(max_length=200, required=False)
    category = forms.CharField(
        max_length=200,
        required=False,
        help_text="Pick one or type a new name; leave empty for none.",
        widget=forms.TextInput(attrs={"list": "category-options", "autocomplete": "off"}),
    )
    price = PriceField(
        widget=forms.TextInput(attrs={"inputmode": "decimal", "maxlength": PriceField.MAX_CHARS})
    )
    currency = forms.CharField(
        max_length=3,
        help_text="3-letter code, e.g. USD.",
        widget=forms.TextInput(
            attrs={"list": "currency-options", "autocomplete": "off", "autocapitalize": "characters"}
        ),
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 5}))
    url = forms.URLField(
        label="Product page",
        max_length=1000,
        required=False,
        assume_scheme="https",
        help_text="The product's page in your shop.",
    )
    stock = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=2_147_483_647,
        help_text="Leave empty if you don't track stock.",
    )
    is_active = forms.BooleanField(
        label="Active",
        required=False,
        help_text="Inactive products stay in the catalog but campaign filters skip them.",
    )

    def __init__(self, data=None, *, merchant, product=None):
        self.product = product
        self.stored_attributes = (
            dict(product.attributes) if product and isinstance(product.attributes, dict) else {}
        )
        super().__init__(data, initial=self._initial(merchant, product))
        self.category_options = [c.name for c in category_list(merchant=merchant)]
        self.currency_options = list(currency_list(merchant=merchant))
        self.attribute_rows = AttributeRowFormSet(
            data,
            prefix=self.ATTRIBUTES_PREFIX,
            initial=[{"key": k, "value": attribute_text(v)} for k, v in self.stored_attributes.items()],
        )
        self.attribute_rows.stored = self.stored_attributes

    @staticmethod
    def _initial(merchant, product) -> dict:
        if product is None:
            return {
                "currency": currency_list(merchant=merchant).first() or DEFAULT_CURRENCY,
                "is_active": True,
            }
        return {
            "title": product.title,
            "sku": product.sku,
            "brand": product.brand,
            "category": product.category.name if product.category_id else "",
            "price": product.price,
            "currency": product.currency,
            "description": product.description,
            "url": product.url,
            "stock": product.stock,
            "is_active": product.is_active,
        }

    def clean_description(self) -> str:
        # Browsers send a textarea's line breaks as CRLF; stored text (imports, the API) uses LF.
        return self.cleaned_data["description"].replace("\r\n", "\n")

    def is_valid(self) -> bool:
        rows_valid = self.attribute_rows.is_valid()
        return super().is_valid() and rows_valid

    def service_kwargs(self) -> dict:
        """Keyword arguments for `product_create` / `product_update`."""
        data = self.cleaned_data
        return {
            "title": data["title"],
            "sku": data["sku"],
            "brand": data["brand"],
            "category": data["category"] or None,
            "price": data["price"],
            "currency": data["currency"],
            "description": data["description"],
            "url": data["url"],
            "stock": data["stock"],
            "is_active": data["is_active"],
            "attributes": self._attributes(),
        }

    def _attributes(self) -> dict:
        # A stored value that is not plain text (a number, a list) is shown as text; left as it was, it keeps
        # its type instead of becoming that text.
        attributes = {}
        for row in self.attribute_rows.kept_rows():
            key, value = row.get("key"), row.get("value")
            if not key:
                continue
            stored = self.stored_attributes.get(key)
            unchanged = key in self.stored_attributes and attribute_text(stored) == value
            attributes[key] = stored if unchanged else value
        return attributes

    def focus_first_error(self) -> None:
        """Put the cursor on the first field with an error when the page comes back (keyboard users)."""
        for bound in [*self, *(field for row in self.attribute_rows for field in row)]:
            if bound.errors:
                bound.field.widget.attrs["autofocus"] = True
                return
