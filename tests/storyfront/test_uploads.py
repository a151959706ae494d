"""storyfront.uploads: the one reader of uploaded files (catalog import, training files, support dialogues)."""

import codecs
import json

import pytest

from storyfront.uploads import (
    CsvRow,
    JsonRow,
    UploadError,
    UploadTooLarge,
    check_size,
    decode_upload,
    detect_format,
    iter_csv_rows,
    iter_json_rows,
    load_json,
)

# --- size --------------------------------------------------------------------------------------------------


def test_check_size_refuses_only_what_is_over_the_limit():
    check_size(1024, 1024)
    check_size(10**9, None)
    with pytest.raises(UploadTooLarge) as exc:
        check_size(3 * 1024 * 1024, 2 * 1024 * 1024)
    assert exc.value.message == "The file is 3.0 MB; the limit is 2.0 MB. Split it into smaller files."
    assert (exc.value.code, exc.value.size, exc.value.limit) == (
        "too_large",
        3 * 1024 * 1024,
        2 * 1024 * 1024,
    )
    assert isinstance(exc.value, UploadError)


# --- decoding ----------------------------------------------------------------------------------------------


def test_utf8_with_and_without_bom_decodes_and_drops_the_bom():
    assert decode_upload("sku,title\nA1,Crème\n".encode()) == "sku,title\nA1,Crème\n"
    assert decode_upload(codecs.BOM_UTF8 + b"sku\nA1\n") == "sku\nA1\n"
    assert decode_upload(codecs.BOM_UTF8 + b"x", detect_charset=False) == "x"


def test_a_spreadsheet_encoding_is_detected_and_preferred():
    text = "sku,title,price\nA1,Café crème brûlée,4\nA2,Naïve façade à la carte,5\n" * 5
    assert decode_upload(text.encode("cp1252")) == text


def test_utf16_with_or_without_bom_is_detected():
    text = "sku,title,price\nA1,Straw hat,12\n" * 5
    assert decode_upload(text.encode("utf-16")) == text
    # Without a BOM, UTF-16 is valid UTF-8 full of NULs: that must not be taken as the text.
    assert "\x00" not in decode_upload(text.encode("utf-16-le"))


def test_binary_data_is_refused_with_a_clear_message():
    with pytest.raises(UploadError) as exc:
        decode_upload(bytes(range(256)) * 8)
    assert exc.value.code == "bad_encoding"
    assert exc.value.message in (
        "The file contains binary data. Upload a CSV or JSON text file, preferably UTF-8.",
        "The file's text encoding could not be recognised. Save it as UTF-8 and upload it again.",
    )


def test_strict_utf8_says_where_the_first_bad_byte_is():
    data = b'{"a": 1}\n{"b": 2}\n{"c": "caf\xe9"}\n'
    with pytest.raises(UploadError) as exc:
        decode_upload(data, detect_charset=False)
    assert (exc.value.code, exc.value.line, exc.value.offset) == ("bad_encoding", 3, data.index(b"\xe9"))
    assert "not UTF-8" in exc.value.message


# --- format ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("products.csv", "csv"),
        ("PRODUCTS.TSV", "csv"),
        ("export.txt", "csv"),
        ("items.json", "json"),
        ("chat.jsonl", "jsonl"),
        ("chat.ndjson", "jsonl"),
    ],
)
def test_the_suffix_decides_the_format(filename, expected):
    assert detect_format(filename, "[1, 2]" if expected == "csv" else "a,b\n1,2") == expected


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('  \n[{"sku": 1}]', "json"),
        ('\ufeff{"turns": []}\n{"turns": []}', "jsonl"),
        (b'\xef\xbb\xbf [{"sku": 1}]', "json"),
        ("sku,title\nA1,Hat", "csv"),
        ("", "csv"),
    ],
)
def test_without_a_suffix_the_content_decides(content, expected):
    assert detect_format("", content) == expected


def test_an_object_first_is_a_json_document_where_json_lines_are_not_taken():
    assert detect_format("upload", '{"sku": 1}', suffixes={".csv": "csv", ".json": "json"}) == "json"


def test_an_unknown_suffix_is_refused_naming_the_accepted_ones_or_read_by_content():
    with pytest.raises(UploadError) as exc:
        detect_format("report.pdf", "x", suffixes={".csv": "csv", ".tsv": "csv", ".json": "json"})
    assert exc.value.code == "unknown_format"
    assert exc.value.message == "Unsupported file type '.pdf'. Upload a .csv or .json file."
    with pytest.raises(UploadError, match=r"Upload a \.csv, \.json or \.jsonl file\."):
        detect_format("notes.md", "x")
    assert detect_format("data.txt", "[1]", suffixes={".csv": "csv"}, refuse_other_suffixes=False) == "json"


@pytest.mark.parametrize("magic", [b"PK\x03\x04rest", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest"])
def test_a_workbook_is_refused_whatever_its_name(magic):
    with pytest.raises(UploadError) as exc:
        detect_format("products.csv", magic)
    assert exc.value.code == "unsupported_format"
    assert "Export the sheet as CSV" in exc.value.message


# --- CSV ---------------------------------------------------------------------------------------------------


def test_csv_rows_carry_their_record_number_and_first_line():
    text = 'sku,description\nA1,"two\nlines"\n\nA2,plain\n'
    rows = list(iter_csv_rows(text))
    assert rows == [
        CsvRow(1, 1, ["sku", "description"]),
        CsvRow(2, 2, ["A1", "two\nlines"]),
        CsvRow(3, 4, []),
        CsvRow(4, 5, ["A2", "plain"]),
    ]


def test_csv_delimiter_is_the_callers():
    assert [r.cells for r in iter_csv_rows("a;b\n1;2\n", delimiter=";")] == [["a", "b"], ["1", "2"]]


def test_malformed_csv_raises_at_the_record_where_reading_stopped():
    # A cell over the csv module's field limit is what the reader refuses.
    text = 'sku,title\nA1,"multi\nline"\n\nA2,' + "x" * 200_000 + "\n"
    rows = iter_csv_rows(text)
    assert [r.row for r in (next(rows), next(rows), next(rows))] == [1, 2, 3]
    with pytest.raises(UploadError) as exc:
        next(rows)
    error = exc.value
    assert (error.code, error.row, error.line) == ("malformed_csv", 4, 5)
    assert "field limit" in error.detail
    assert error.message == f"Line 4 is not valid CSV: {error.detail}."


def test_malformed_csv_in_the_header_is_row_and_line_1():
    with pytest.raises(UploadError) as exc:
        list(iter_csv_rows("x" * 200_000))
    assert (exc.value.row, exc.value.line) == (1, 1)


# --- JSON --------------------------------------------------------------------------------------------------


def test_load_json_reports_line_and_column():
    with pytest.raises(UploadError) as exc:
        load_json('[\n  {"sku": "A1"},\n  {"sku": }\n]')
    error = exc.value
    assert (error.code, error.line, error.column, error.detail) == (
        "malformed_json",
        3,
        11,
        "Expecting value",
    )
    assert error.message == "The file is not valid JSON (line 3, column 11: Expecting value)."


def test_constants_can_be_read_as_text():
    assert load_json("[NaN, 1]", constants_as_text=True) == ["NaN", 1]
    assert load_json("[Infinity]")[0] == float("inf")


def test_json_list_items_are_numbered_by_position():
    assert list(iter_json_rows(json.dumps([{"a": 1}, "x"]))) == [JsonRow(1, {"a": 1}), JsonRow(2, "x")]


def test_a_json_document_that_is_not_a_list_is_refused():
    with pytest.raises(UploadError) as exc:
        list(iter_json_rows('{"sku": "A1"}'))
    assert (exc.value.code, exc.value.line) == ("not_a_list", 1)


def test_json_lines_report_every_bad_line_and_keep_the_good_ones():
    text = '{"a": 1}\n\n{"b": \n[3]\nnope\n'
    rows = list(iter_json_rows(text, fmt="jsonl"))
    assert [(r.row, r.value) for r in rows] == [(1, {"a": 1}), (3, None), (4, [3]), (5, None)]
    bad = [r.error for r in rows if r.error]
    assert [(e.line, e.row, e.code) for e in bad] == [(3, 3, "malformed_json"), (5, 5, "malformed_json")]
    assert (bad[0].detail, bad[0].column) == ("Expecting value", 7)


def test_an_unknown_json_format_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown JSON format"):
        list(iter_json_rows("[]", fmt="yaml"))
