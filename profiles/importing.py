"""Reading customer files: CSV or JSON, column mapping (our names, Shopify and Klaviyo exports, or an explicit
mapping) and per-row validation. Nothing here touches the database; `profiles.import_services.customer_import`
does the writing. The shapes follow the catalog import (catalog/importing.py): the same file errors
(`ImportFileError`, `ImportTooLarge` with stable codes), line numbers as a spreadsheet shows them (header = 1;
for JSON the 1-based position in the list), errors as {"line", "external_id", "errors": {field: reason}}.

Columns:
- Headers are matched case- and punctuation-insensitively against `FIELD_ALIASES`. When several columns feed
  one field, the first in alias order is used and the others fill in where it is blank (Klaviyo: `External
  ID`, else `Klaviyo ID`). A row without an id uses its email (lower-cased) as the external id, so Shopify's
  older export (no customer id column) imports too.
- `first_name` + `last_name` are joined into `name` when the row has no name of its own.
- `attributes.<key>` columns and unknown columns become attributes (`Total Spent` -> `total_spent`); CSV
  values are strings, JSON values are kept as given. An `attributes` column holds a JSON object.
- An explicit `mapping` ({"their header": "field" | "attributes.<key>" | ""}) overrides the matching for the
  headers it names; "" ignores a column. A field named in the mapping takes only the mapped columns.
- Consent columns take yes/no words (storyfront.parsing.parse_bool) plus the consent words shops export
  (Klaviyo's SUBSCRIBED / NEVER_SUBSCRIBED / UNSUBSCRIBED).
- An empty cell leaves the stored value as it is: a row only changes the fields it has values for.
- Values pass the customer service's own checks (`profiles.services.customer_fields_clean`: locale tags such as
  en-GB, attribute size...) after ours, so a file accepts exactly what the API accepts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from catalog.import_values import is_blank
from catalog.importing import (
    ImportFileError,
    ImportTooLarge,
    attribute_key,
    decode_text,
    detect_format,
    normalize_header,
)
from profiles.services import customer_fields_clean
from storyfront import uploads
from storyfront.parsing import parse_bool

__all__ = ["ImportFileError", "ImportTooLarge", "parse_customer_file"]

# Customer fields a file can set, and the ones the mapping may also name.
CUSTOMER_FIELDS = tuple(
    "external_id email name locale country consent_marketing consent_profiling attributes".split()
)
MAPPING_TARGETS = (*CUSTOMER_FIELDS, "first_name", "last_name")
# Normalised header names (lower case, letters and digits only) per field, in priority order.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    field: tuple(aliases.split())
    for field, aliases in {
        "external_id": "externalid customerid customerexternalid customernumber userid klaviyoid id",
        "email": "email emailaddress customeremail",
        "name": "name fullname customername",
        "first_name": "firstname givenname",
        "last_name": "lastname surname familyname",
        "locale": "locale language languagecode preferredlanguage",
        "country": "country countrycode defaultaddresscountrycode defaultaddresscountry billingcountry",
        "consent_marketing": "consentmarketing acceptsemailmarketing acceptsmarketing emailmarketingconsent "
        "marketingconsent emailconsent",
        "consent_profiling": "consentprofiling profilingconsent",
        "attributes": "attributes",
    }.items()
}
# Our own read-only fields: a file exported from us may carry them; they are not imported.
IGNORED_HEADERS = frozenset({"createdat", "updatedat", "firstseenat", "lastseenat", "merchant"})
MAX_LENGTHS = {"external_id": 200, "email": 254, "name": 200, "locale": 16, "country": 64}
# Consent words beside yes/no (storyfront.parsing): Klaviyo's SUBSCRIBED / NEVER_SUBSCRIBED / UNSUBSCRIBED...
CONSENT_TRUE_WORDS = ("subscribed", "opted in", "optedin", "opt-in", "accepted", "granted")
CONSENT_FALSE_WORDS = tuple(
    "unsubscribed|never_subscribed|never subscribed|not subscribed|not_subscribed|opted out|optedout|opt-out|"
    "declined|denied|suppressed".split("|")
)
MAX_REPORTED_ERRORS = 10_000
PREVIEW_ROWS = 50

_SUFFIX_FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".json": "json"}
_ATTRIBUTE_PREFIX = "attributes."
# Markers for problems found while reading; a NUL cannot clash with a real header.
_EXTRA_CELLS = uploads.EXTRA_CELLS
_NOT_AN_OBJECT = uploads.NOT_AN_OBJECT


@dataclass
class ParsedCustomer:
    line: int
    external_id: str
    values: dict[
        str, Any
    ]  # Customer field -> clean value, only the fields this row sets (attributes: a dict)


@dataclass
class ParsedCustomerFile:
    file_format: str
    columns: dict[str, str]  # header -> field, "attributes.<key>", or "name (first)"/"name (last)"
    ignored_columns: list[str]
    rows: list[ParsedCustomer] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    error_count: int = 0
    total_rows: int = 0


@dataclass
class ColumnMapping:
    sources: dict[str, list[str]]  # field (incl. first_name/last_name) -> headers, in priority order
    attributes: dict[str, str]  # header -> attribute key
    columns: dict[str, str]
    ignored: list[str]


# --- entry point -------------------------------------------------------------------------------------------


def parse_customer_file(
    data: bytes,
    *,
    filename: str = "",
    file_format: str | None = None,
    mapping: dict[str, str] | None = None,
    max_bytes: int | None = None,
) -> ParsedCustomerFile:
    """The file's valid rows and per-row errors. File-level problems raise ImportFileError (ImportTooLarge
    over ``max_bytes``)."""
    mapping = validate_mapping(mapping)
    try:
        uploads.check_size(len(data), max_bytes)
    except uploads.UploadTooLarge as exc:
        raise ImportTooLarge(exc.size, exc.limit) from None
    if not data.strip():
        raise ImportFileError("The file is empty.", code="empty_file")
    file_format = _detect(filename, file_format, data)
    text = decode_text(data)
    headers, records = _read_table(text, filename, file_format)
    if not records:
        raise ImportFileError("The file has a header but no customer rows.", code="no_rows")
    columns = map_columns(headers, mapping)
    parsed = ParsedCustomerFile(
        file_format=file_format, columns=columns.columns, ignored_columns=columns.ignored
    )
    first_line: dict[str, int] = {}
    for line, record in records:
        parsed.total_rows += 1
        row, errors = clean_row(line, record, columns)
        if row.external_id and not errors.get("external_id"):
            first = first_line.setdefault(row.external_id, line)
            if first != line:
                errors["external_id"] = f"Duplicate customer: already on line {first} of this file."
        if errors:
            parsed.error_count += 1
            if len(parsed.errors) < MAX_REPORTED_ERRORS:
                parsed.errors.append({"line": line, "external_id": row.external_id, "errors": errors})
        else:
            parsed.rows.append(row)
    return parsed


def validate_mapping(mapping: Any) -> dict[str, str]:
    """The explicit mapping, checked: an object of header -> field name, "attributes.<key>" or ""."""
    if mapping is None or mapping == "":
        return {}
    if not isinstance(mapping, dict):
        raise ImportFileError(
            'The mapping must be an object such as {"Their header": "email"}.', code="invalid_mapping"
        )
    clean: dict[str, str] = {}
    for header, target in mapping.items():
        if not isinstance(target, str):
            raise ImportFileError(
                f'The mapping for \'{header}\' must be a field name, "attributes.<key>" or "" to ignore it.',
                code="invalid_mapping",
            )
        target = target.strip()
        if target.startswith(_ATTRIBUTE_PREFIX):
            if not target[len(_ATTRIBUTE_PREFIX) :].strip():
                raise ImportFileError(
                    f"The mapping for '{header}' names no attribute key.", code="invalid_mapping"
                )
        elif target and target not in MAPPING_TARGETS:
            raise ImportFileError(
                f"The mapping for '{header}' names an unknown field '{target}'. Use one of "
                f'{", ".join(MAPPING_TARGETS)}, "attributes.<key>", or "" to ignore the column.',
                code="invalid_mapping",
            )
        clean[str(header).strip()] = target
    return clean


# --- file level --------------------------------------------------------------------------------------------


def _detect(filename: str, file_format: str | None, data: bytes) -> str:
    if file_format:
        return detect_format(filename=filename, file_format=file_format, data=data)
    try:
        return uploads.detect_format(filename, data, suffixes=_SUFFIX_FORMATS)
    except uploads.UploadError as exc:
        raise ImportFileError(exc.message, code=exc.code) from None


def _read_table(
    text: str, filename: str, file_format: str
) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    try:
        if file_format == "json":
            return uploads.read_json_table(
                text, what="customer", example='{"external_id": "c-1", "email": ...}'
            )
        return uploads.read_csv_table(text, filename)
    except uploads.UploadError as exc:
        raise ImportFileError(exc.message, code=exc.code) from None


# --- columns -----------------------------------------------------------------------------------------------


def map_columns(headers: list[str], mapping: dict[str, str] | None = None) -> ColumnMapping:
    """Each header becomes a field's source, an attribute, or an ignored column."""
    explicit = _resolve_mapping(headers, mapping or {})
    pinned = {target for target in explicit.values() if target and not target.startswith(_ATTRIBUTE_PREFIX)}
    sources: dict[str, list[str]] = {}
    attributes: dict[str, str] = {}
    ignored: list[str] = []
    for index, header in enumerate(headers, start=1):
        if header in explicit:
            target = explicit[header]
            if not target:
                ignored.append(header)
            elif target.startswith(_ATTRIBUTE_PREFIX):
                attributes[header] = target[len(_ATTRIBUTE_PREFIX) :].strip()
            else:
                sources.setdefault(target, []).append(header)
            continue
        fld = _alias_field(header)
        if not header:
            ignored.append(f"(column {index}, no header)")
        elif header.casefold().startswith(_ATTRIBUTE_PREFIX) and header[len(_ATTRIBUTE_PREFIX) :].strip():
            attributes[header] = header[len(_ATTRIBUTE_PREFIX) :].strip()
        elif fld and fld not in pinned:
            sources.setdefault(fld, []).append(header)
        elif normalize_header(header) in IGNORED_HEADERS:
            ignored.append(header)
        else:
            attributes[header] = attribute_key(header)
    for fld, their in sources.items():
        aliases = FIELD_ALIASES[fld]
        if fld not in pinned:
            their.sort(key=lambda h, aliases=aliases: aliases.index(normalize_header(h)))
    if "external_id" not in sources and "email" not in sources:
        found = ", ".join(f"'{h}'" for h in headers if h) or "none"
        raise ImportFileError(
            f"Missing an id column: the file needs an external id or an email for each customer. Found columns: "
            f"{found}. Accepted names include external_id, Customer ID, Klaviyo ID, id, email; or map a column "
            'to "external_id".',
            code="missing_columns",
        )
    columns: dict[str, str] = {}
    for header in headers:
        if header in attributes:
            columns[header] = f"attributes.{attributes[header]}"
        else:
            fld = next((f for f, hs in sources.items() if header in hs), None)
            if fld:
                columns[header] = {"first_name": "name (first)", "last_name": "name (last)"}.get(fld, fld)
    return ColumnMapping(sources, attributes, columns, ignored)


def _alias_field(header: str) -> str | None:
    norm = normalize_header(header)
    return next((fld for fld, aliases in FIELD_ALIASES.items() if norm in aliases), None)


def _resolve_mapping(headers: list[str], mapping: dict[str, str]) -> dict[str, str]:
    """The mapping keyed by the file's own headers (matched exactly, else case-insensitively)."""
    by_fold = {h.casefold(): h for h in headers if h}
    resolved: dict[str, str] = {}
    for their, target in mapping.items():
        header = their if their in headers else by_fold.get(their.casefold())
        if header is None:
            found = ", ".join(f"'{h}'" for h in headers if h) or "none"
            raise ImportFileError(
                f"The mapping names a column '{their}' that the file does not have. Found columns: {found}.",
                code="invalid_mapping",
            )
        resolved[header] = target
    return resolved


# --- rows --------------------------------------------------------------------------------------------------


def clean_row(
    line: int, record: dict[str, Any], columns: ColumnMapping
) -> tuple[ParsedCustomer, dict[str, str]]:
    errors: dict[str, str] = {}
    if _NOT_AN_OBJECT in record:
        errors["row"] = f"Expected a customer object, got {record[_NOT_AN_OBJECT]}."
        return ParsedCustomer(line=line, external_id="", values={}), errors
    if _EXTRA_CELLS in record:
        errors["row"] = record[_EXTRA_CELLS]
    raw = {fld: _first_value(record, headers) for fld, headers in columns.sources.items()}
    values: dict[str, Any] = {}
    for fld, value in raw.items():
        if is_blank(value) or fld in ("first_name", "last_name"):
            continue
        try:
            values[fld] = _CLEANERS[fld](value)
        except ValueError as exc:
            errors[fld] = str(exc)
    _join_name(raw, values, errors)
    attributes = _attributes(record, columns, values.pop("attributes", None))
    if attributes:
        values["attributes"] = attributes
    _check_fields(values, errors)
    external_id = values.get("external_id") or ""
    if not external_id and "external_id" not in errors:
        if values.get("email"):
            external_id = values["email"].lower()
            values["external_id"] = external_id
        elif "email" not in errors:
            errors["external_id"] = "Each customer needs an external id or an email."
    return ParsedCustomer(line=line, external_id=external_id, values=values), errors


def _check_fields(values: dict[str, Any], errors: dict[str, str]) -> None:
    """The customer service's own field rules (locale tags, JSON size...), so that an import accepts exactly
    what the API does; its normalised values replace ours."""
    clean, problems = customer_fields_clean(values)
    for name, messages in problems.items():
        errors.setdefault(name, " ".join(messages))
        values.pop(name, None)
    values.update(clean)


def _first_value(record: dict[str, Any], headers: list[str]) -> Any:
    value = None
    for header in headers:
        value = record.get(header)
        if not is_blank(value):
            break
    return value


def _join_name(raw: dict[str, Any], values: dict[str, Any], errors: dict[str, str]) -> None:
    if "name" in values or "name" in errors:
        return
    parts = []
    for part in ("first_name", "last_name"):
        value = raw.get(part)
        if is_blank(value):
            continue
        try:
            parts.append(_text(value))
        except ValueError as exc:
            errors[part] = str(exc)
    if parts:
        try:
            values["name"] = _text(" ".join(parts), fld="name")
        except ValueError as exc:
            errors["name"] = str(exc)


def _attributes(record: dict[str, Any], columns: ColumnMapping, from_column: dict | None) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for header, key in columns.attributes.items():
        value = record.get(header)
        if not is_blank(value):
            extra[key] = value.strip() if isinstance(value, str) else value
    return {**(from_column or {}), **extra}


# --- cells -------------------------------------------------------------------------------------------------


def _text(value: Any, *, fld: str = "") -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"Expected text, got {uploads.json_type(value)}.")
    text = value.strip() if isinstance(value, str) else str(value)
    limit = MAX_LENGTHS.get(fld)
    if limit and len(text) > limit:
        raise ValueError(f"At most {limit} characters (this one has {len(text)}).")
    return text


def _external_id(value: Any) -> str:
    # Spreadsheets and pandas turn numeric ids into floats: 17850.0 is customer 17850.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return _text(value, fld="external_id")


def _email(value: Any) -> str:
    email = _text(value, fld="email")
    try:
        validate_email(email)
    except ValidationError:
        raise ValueError(f"'{email[:80]}' is not a valid email address.") from None
    return email


def _consent(value: Any) -> bool:
    return parse_bool(value, true_words=CONSENT_TRUE_WORDS, false_words=CONSENT_FALSE_WORDS)


def _attributes_object(value: Any) -> dict:
    if isinstance(value, str):
        try:
            value = uploads.load_json(value)
        except uploads.UploadError:
            raise ValueError('Attributes must be a JSON object, e.g. {"tier": "gold"}.') from None
    if not isinstance(value, dict):
        raise ValueError(f"Attributes must be an object, got {uploads.json_type(value)}.")
    return value


_CLEANERS = {
    "external_id": _external_id,
    "email": _email,
    "name": lambda v: _text(v, fld="name"),
    "locale": lambda v: _text(v, fld="locale"),
    "country": lambda v: _text(v, fld="country"),
    "consent_marketing": _consent,
    "consent_profiling": _consent,
    "attributes": _attributes_object,
}
