"""Reading uploaded files: decoding, format detection, size limits and CSV/JSON rows with their line numbers.

Framework-free (standard library and charset_normalizer): ml/engine imports it, and ml/engine never imports
Django. Each importer keeps its own words for the user: an `UploadError` carries a default message, a stable
`code` and where the problem is (`line`, `row`, `column`, `offset`, `detail` where known), so a caller can
show the message as it is or say the same thing its own way.

    check_size(size, limit)                       UploadTooLarge over the limit
    decode_upload(data, *, detect_charset=True)   text: UTF-8 (BOM dropped) first, then charset_normalizer
    detect_format(filename, content, ...)         "csv", "json" or "jsonl": by the name's suffix, else content
    iter_csv_rows(text, *, delimiter=",")          CsvRow(row, line, cells) per record
    load_json(text)                               the parsed document
    iter_json_rows(text, *, fmt="json")           JsonRow(row, value, error) per list item or per line
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import PurePath
from typing import Any, NamedTuple

import charset_normalizer

FORMATS = ("csv", "json", "jsonl")
SUFFIX_FORMATS: Mapping[str, str] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
# Encodings that spreadsheet programs write, preferred when charset_normalizer finds several equally good.
PREFERRED_ENCODINGS = ("cp1252", "cp1251", "gb18030", "cp932", "big5", "cp949", "cp1250", "iso8859_15")
_SUFFIX_ORDER = {f".{fmt}": position for position, fmt in enumerate(FORMATS)}
# Zip (xlsx, ods, any archive) and the old OLE2 container (xls).
_ARCHIVE_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")


class UploadError(ValueError):
    """An uploaded file that cannot be read. ``message`` is fit to show; ``code`` is stable for clients.
    Where known: ``line`` (1-based text line), ``row`` (1-based CSV record or JSON list position), ``column``
    (1-based, in the line), ``offset`` (byte offset of undecodable bytes) and ``detail`` (the parser's own
    words, such as "Expecting value")."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "invalid_file",
        line: int | None = None,
        row: int | None = None,
        column: int | None = None,
        offset: int | None = None,
        detail: str = "",
    ):
        super().__init__(message)
        self.message = message
        self.code = code
        self.line = line
        self.row = row
        self.column = column
        self.offset = offset
        self.detail = detail


class UploadTooLarge(UploadError):
    def __init__(self, size: int, limit: int):
        super().__init__(
            f"The file is {_megabytes(size)} MB; the limit is {_megabytes(limit)} MB. Split it into smaller files.",
            code="too_large",
        )
        self.size = size
        self.limit = limit


class CsvRow(NamedTuple):
    row: int  # the record's number, as a spreadsheet numbers rows (the header is 1; a multi-line cell is one)
    line: int  # the text line the record starts on
    cells: list[str]


class JsonRow(NamedTuple):
    row: int  # the position in the list (1-based), or the line for JSON lines
    value: Any
    error: UploadError | None = None  # JSON lines only: this line is not JSON (and value is None)


def check_size(size: int, limit: int | None) -> None:
    """UploadTooLarge when ``size`` bytes are over ``limit`` (None: no limit)."""
    if limit is not None and size > limit:
        raise UploadTooLarge(size, limit)


# --- decoding ----------------------------------------------------------------------------------------------


def decode_upload(data: bytes, *, detect_charset: bool = True) -> str:
    """The text of an upload. UTF-8, with or without a byte-order mark (dropped), is tried first.

    With ``detect_charset`` a file that is not UTF-8, or that decodes to text with NUL characters (UTF-16
    without a BOM does), is decoded as charset_normalizer judges best, preferring what spreadsheet programs
    write (PREFERRED_ENCODINGS) among equally good guesses; text that still holds NULs is binary. Without it,
    anything but UTF-8 is an error whose ``line`` and ``offset`` say where the first bad byte is."""
    try:
        text: str | None = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if not detect_charset:
            raise UploadError(
                "The file is not UTF-8 text. Save it as UTF-8 and upload it again.",
                code="bad_encoding",
                line=data[: exc.start].count(b"\n") + 1,
                offset=exc.start,
            ) from None
        text = None
    if not detect_charset:
        return text or ""
    if text is None or "\x00" in text:
        text = _detect_and_decode(data)
    if "\x00" in text:
        raise UploadError(
            "The file contains binary data. Upload a CSV or JSON text file, preferably UTF-8.",
            code="bad_encoding",
        )
    return text


def _detect_and_decode(data: bytes) -> str:
    results = charset_normalizer.from_bytes(data)
    best = results.best()
    if best is None:
        raise UploadError(
            "The file's text encoding could not be recognised. Save it as UTF-8 and upload it again.",
            code="bad_encoding",
        )
    lowest = min(match.chaos for match in results)
    candidates = {match.encoding: match for match in results if match.chaos <= lowest + 0.01}
    chosen = next((candidates[enc] for enc in PREFERRED_ENCODINGS if enc in candidates), best)
    return str(chosen)


# --- format ------------------------------------------------------------------------------------------------


def refuse_archive(data: bytes) -> None:
    """UploadError for a spreadsheet workbook or a zip archive, the usual wrong file."""
    if data.startswith(_ARCHIVE_MAGIC):
        raise UploadError(
            "This looks like an Excel workbook or a zip archive. Export the sheet as CSV (UTF-8) and upload that.",
            code="unsupported_format",
        )


def detect_format(
    filename: str,
    content: str | bytes,
    *,
    suffixes: Mapping[str, str] = SUFFIX_FORMATS,
    refuse_other_suffixes: bool = True,
) -> str:
    """The format, "csv", "json" or "jsonl" (whatever ``suffixes`` maps to). A suffix that ``suffixes`` knows
    decides; another suffix is an error (unless not ``refuse_other_suffixes``); otherwise the content does: "["
    first is a JSON document, "{" first JSON lines when ``suffixes`` has "jsonl" (else a JSON document),
    anything else CSV. Raw ``content`` (bytes) is first checked not to be a workbook or archive."""
    if isinstance(content, bytes):
        refuse_archive(content)
    suffix = PurePath(filename or "").suffix.lower()
    if suffix in suffixes:
        return suffixes[suffix]
    if suffix and refuse_other_suffixes:
        allowed = sorted(
            {f".{fmt}" for fmt in suffixes.values()}, key=lambda s: _SUFFIX_ORDER.get(s, len(FORMATS))
        )
        raise UploadError(
            f"Unsupported file type '{suffix}'. Upload a {_either(allowed)} file.", code="unknown_format"
        )
    head = _first_char(content)
    if head == "[":
        return "json"
    if head == "{":
        return "jsonl" if "jsonl" in suffixes.values() else "json"
    return "csv"


def _first_char(content: str | bytes) -> str:
    if isinstance(content, bytes):
        return content.lstrip().lstrip(b"\xef\xbb\xbf").lstrip()[:1].decode("latin-1")
    return content.lstrip().lstrip("\ufeff").lstrip()[:1]


def _either(options: Sequence[str]) -> str:
    return options[0] if len(options) == 1 else f"{', '.join(options[:-1])} or {options[-1]}"


# --- rows --------------------------------------------------------------------------------------------------


def iter_csv_rows(text: str, *, delimiter: str = ",") -> Iterator[CsvRow]:
    """Every record of a CSV text, blank ones included (the caller decides what a blank row means), each with
    its record number and the line it starts on. Text that is not CSV raises UploadError at the record where
    reading stopped (``row``, ``line``; ``detail`` is the csv module's message)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    row = 0
    previous_end = 0
    while True:
        row += 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise UploadError(
                f"Line {row} is not valid CSV: {exc}.",
                code="malformed_csv",
                row=row,
                line=previous_end + 1,
                detail=str(exc),
            ) from None
        yield CsvRow(row, previous_end + 1, cells)
        previous_end = reader.line_num


def load_json(text: str, *, constants_as_text: bool = False) -> Any:
    """The JSON document in ``text``, or UploadError with the ``line``, ``column`` and ``detail`` of the first
    mistake. ``constants_as_text`` reads NaN and Infinity as the strings "NaN" and "Infinity"."""
    try:
        if constants_as_text:
            return json.loads(text, parse_constant=lambda name: name)
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UploadError(
            f"The file is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).",
            code="malformed_json",
            line=exc.lineno,
            column=exc.colno,
            detail=exc.msg,
        ) from None


def iter_json_rows(text: str, *, fmt: str = "json", constants_as_text: bool = False) -> Iterator[JsonRow]:
    """The records of a JSON upload with their numbers. ``fmt="json"``: the document must be a list (else
    UploadError with code "not_a_list"); each item with its 1-based position. ``fmt="jsonl"``: each non-blank
    line with its line number; a line that is not JSON comes with an ``error`` instead of a value, so every bad
    line can be reported."""
    if fmt == "jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                yield JsonRow(number, load_json(line, constants_as_text=constants_as_text))
            except UploadError as exc:
                exc.line = exc.row = number
                yield JsonRow(number, None, exc)
        return
    if fmt != "json":
        raise ValueError(f"unknown JSON format {fmt!r}; use 'json' or 'jsonl'")
    items = load_json(text, constants_as_text=constants_as_text)
    if not isinstance(items, list):
        raise UploadError("The JSON must be a list of records.", code="not_a_list", line=1)
    for position, item in enumerate(items, start=1):
        yield JsonRow(position, item)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}"


# --- tables: a file of records (CSV with a header row, or a JSON list of objects) -----------------------------

# Keys no header can have (a NUL), put in a record to carry a problem to the row's report.
EXTRA_CELLS = "\x00extra-cells"
NOT_AN_OBJECT = "\x00not-an-object"

Records = list[tuple[int, dict[str, Any]]]


def json_type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def read_csv_table(text: str, filename: str = "") -> tuple[list[str], Records]:
    """The header and the non-blank records of a CSV text, each with its line as a spreadsheet shows it. The
    delimiter is a tab for .tsv files, else the most frequent of , ; tab | in the header line. A short row leaves
    its last columns blank; a row with more non-blank cells than columns carries EXTRA_CELLS (a message).
    Raises UploadError for duplicate columns or a file without a header."""
    first_line = text.lstrip("\ufeff").split("\n", 1)[0]
    delimiter = "\t" if filename.lower().endswith(".tsv") else max(",;\t|", key=first_line.count)
    headers: list[str] | None = None
    records: Records = []
    for line, _, values in iter_csv_rows(text, delimiter=delimiter):
        if not any(v.strip() for v in values):
            continue
        if headers is None:
            headers = [h.strip() for h in values]
            _check_unique_headers(headers)
            continue
        record: dict[str, Any] = dict(zip(headers, values, strict=False))
        if len(values) > len(headers) and any(v.strip() for v in values[len(headers) :]):
            record[EXTRA_CELLS] = (
                f"The row has {len(values)} cells but the header has {len(headers)} columns (an unquoted comma?)."
            )
        records.append((line, record))
    if headers is None:
        raise UploadError("The file is empty.", code="empty_file")
    return headers, records


def _check_unique_headers(headers: list[str]) -> None:
    seen: set[str] = set()
    for header in headers:
        key = header.casefold()
        if header and key in seen:
            raise UploadError(f"The column '{header}' appears more than once.", code="duplicate_columns")
        seen.add(key)


def read_json_table(text: str, *, what: str, example: str) -> tuple[list[str], Records]:
    """The keys (in order of first appearance) and records of a JSON list of objects, each with its 1-based
    position; an item that is not an object carries NOT_AN_OBJECT (its JSON type). ``what`` names the objects
    ("product") and ``example`` shows one, for the error when the JSON is not such a list."""
    items = load_json(text, constants_as_text=True)
    if not isinstance(items, list):
        raise UploadError(
            f"The JSON must be a list of {what} objects, e.g. [{example}]; got {json_type(items)}.",
            code="not_a_list",
        )
    if items and not any(isinstance(item, dict) for item in items):
        raise UploadError(
            f"The JSON must be a list of {what} objects; its items are {json_type(items[0])}s.",
            code="not_a_list",
        )
    headers: dict[str, None] = {}
    records: Records = []
    for position, item in enumerate(items, start=1):
        if isinstance(item, dict):
            headers.update(dict.fromkeys(str(k).strip() for k in item))
            records.append((position, {str(k).strip(): v for k, v in item.items()}))
        else:
            records.append((position, {NOT_AN_OBJECT: json_type(item)}))
    return list(headers), records
