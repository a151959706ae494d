"""Reading and validating import files (no database): formats, encodings, column mapping, row errors."""

import json
from decimal import Decimal
from pathlib import Path

import pytest

from catalog.import_values import parse_price
from catalog.importing import ImportFileError, ImportTooLarge, parse_import

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
MYNTRA = DATASETS / "myntra_fashion_catalog" / "myntra_products_catalog.csv"
UCI = DATASETS / "uci_online_retail_first8000" / "online_retail_first8000.csv"


def csv_bytes(text: str, encoding: str = "utf-8") -> bytes:
    return text.encode(encoding)


def parse_csv(text: str, **kwargs):
    return parse_import(csv_bytes(text), filename="products.csv", **kwargs)


def errors_by_line(parsed) -> dict[int, dict[str, str]]:
    return {e["line"]: e["errors"] for e in parsed.errors}


# --- prices ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("12.5", "12.50"),
        ("1,299.00", "1299.00"),
        ("$12", "12.00"),
        ("₹ 11745", "11745.00"),
        ("12,50 EUR", "12.50"),
        ("1.299,95", "1299.95"),
        ("USD 7", "7.00"),
        ("0", "0.00"),
        (" 3 ", "3.00"),
        (19.999, "20.00"),
        (5, "5.00"),
    ],
)
def test_prices_in_common_spellings_are_accepted(raw, expected):
    assert parse_price(raw) == Decimal(expected)


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("abc", "is not a price"),
        ("12abc", "is not a price"),
        ("1.2.3", "is not a price"),
        ("-5", "cannot be negative"),
        ("-$5.00", "cannot be negative"),
        (-0.5, "cannot be negative"),
        ("", "required"),
        (None, "required"),
        (True, "Expected a number"),
        ([12], "Expected a number"),
        ("NaN", "is not a price"),
        ("99999999999", "must be below"),
    ],
)
def test_bad_prices_are_rejected_with_a_reason(raw, reason):
    with pytest.raises(ValueError, match=reason):
        parse_price(raw)


# --- file-level errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"   \n\r\n  ", b"\xef\xbb\xbf"])
def test_empty_file(data):
    with pytest.raises(ImportFileError) as exc:
        parse_import(data, filename="p.csv")
    assert exc.value.code == "empty_file"


def test_header_only_file_has_no_rows():
    with pytest.raises(ImportFileError) as exc:
        parse_csv("sku,title,price\n\n")
    assert exc.value.code == "no_rows"
    assert "no product rows" in exc.value.message


def test_too_large_is_its_own_error_and_checked_before_parsing():
    with pytest.raises(ImportTooLarge) as exc:
        parse_import(b"x" * 101, filename="p.csv", max_bytes=100)
    assert exc.value.code == "too_large"
    assert isinstance(exc.value, ImportFileError)


def test_missing_required_columns_lists_what_was_found():
    with pytest.raises(ImportFileError) as exc:
        parse_csv("Name,Cost,Colour\nMug,3,red\n")
    assert exc.value.code == "missing_columns"
    assert "sku" in exc.value.message and "price" in exc.value.message
    assert "'Name', 'Cost', 'Colour'" in exc.value.message


def test_undecodable_bytes_are_a_clear_encoding_error():
    noise = bytes(range(128, 256)) * 40 + b"\x00\x01\x02" * 50
    with pytest.raises(ImportFileError) as exc:
        parse_import(noise, filename="p.csv")
    assert exc.value.code == "bad_encoding"
    assert "UTF-8" in exc.value.message


def test_excel_workbook_is_refused_with_advice():
    with pytest.raises(ImportFileError) as exc:
        parse_import(b"PK\x03\x04" + b"\x00" * 100, filename="products.xlsx")
    assert exc.value.code == "unsupported_format"
    assert "CSV" in exc.value.message


@pytest.mark.parametrize(
    "payload, code",
    [
        ({"sku": "A", "title": "t", "price": 1}, "not_a_list"),
        ([1, 2, 3], "not_a_list"),
        ("just a string", "not_a_list"),
        ([], "no_rows"),
    ],
)
def test_json_that_is_not_a_list_of_objects(payload, code):
    with pytest.raises(ImportFileError) as exc:
        parse_import(json.dumps(payload).encode(), filename="p.json")
    assert exc.value.code == code


def test_malformed_json_names_the_position():
    with pytest.raises(ImportFileError) as exc:
        parse_import(b'[{"sku": "A", "title": "t", "price": 1},\n{"sku": ]', filename="p.json")
    assert exc.value.code == "malformed_json"
    assert "line 2" in exc.value.message


def test_unreadable_csv_names_the_row_where_reading_stopped():
    # A cell over the csv module's field limit (128 KiB) is what Python's reader refuses.
    text = 'sku,title,price\nA1,"two\nlines",3\nA2,' + "x" * 200_000 + ",4\n"
    with pytest.raises(ImportFileError) as exc:
        parse_csv(text)
    assert exc.value.code == "malformed_csv"
    assert exc.value.message == "Line 3 is not valid CSV: field larger than field limit (131072)."


def test_oversized_file_is_refused_before_reading():
    with pytest.raises(ImportTooLarge) as exc:
        parse_csv("sku,title,price\n" + "A1,Hat,3\n" * 300_000, max_bytes=1024 * 1024)
    assert (exc.value.code, exc.value.limit) == ("too_large", 1024 * 1024)
    assert exc.value.message == "The file is 2.6 MB; the limit is 1.0 MB. Split it into smaller files."


def test_unknown_format_and_extension():
    with pytest.raises(ImportFileError) as exc:
        parse_import(b"sku,title,price\nA,t,1\n", file_format="xml")
    assert exc.value.code == "unknown_format"
    with pytest.raises(ImportFileError) as exc:
        parse_import(b"sku,title,price\nA,t,1\n", filename="products.xml")
    assert exc.value.code == "unknown_format"


def test_format_is_sniffed_without_a_file_name():
    assert parse_import(b'  [{"sku": "A", "title": "t", "price": 1}]').file_format == "json"
    assert parse_import(b"sku,title,price\nA,t,1\n").file_format == "csv"


def test_repeated_header_is_refused():
    with pytest.raises(ImportFileError) as exc:
        parse_csv("sku,title,price,Title\nA,t,1,u\n")
    assert exc.value.code == "duplicate_columns"


# --- encodings ---------------------------------------------------------------------------------------------


def test_utf8_with_bom_does_not_pollute_the_first_header():
    parsed = parse_import("sku,title,price\nA,Café,1\n".encode("utf-8-sig"), filename="p.csv")
    assert parsed.columns["sku"] == "sku"
    assert parsed.rows[0].values["title"] == "Café"


def test_windows_1252_file_is_detected_and_decoded():
    text = "sku,title,price\nA1,Crème brûlée dish – large,12.50\nA2,Café au lait bowl,8\n"
    parsed = parse_import(text.encode("cp1252"), filename="p.csv")
    assert [r.values["title"] for r in parsed.rows] == ["Crème brûlée dish – large", "Café au lait bowl"]


def test_utf16_with_bom_is_decoded():
    parsed = parse_import("sku,title,price\nA1,Crème,12\n".encode("utf-16"), filename="p.csv")
    assert parsed.rows[0].values["title"] == "Crème"


# --- rows --------------------------------------------------------------------------------------------------


def test_line_numbers_are_spreadsheet_rows_even_with_multiline_cells():
    parsed = parse_csv('sku,title,price,description\nA,Mug,3,"two\nlines"\nB,Cup,abc,x\n\nC,Bowl,-1,y\n')
    assert errors_by_line(parsed) == {
        3: {"price": "'abc' is not a price."},
        5: {"price": "A price cannot be negative (got -1)."},
    }
    assert parsed.total_rows == 3  # the blank row is not a product
    assert parsed.rows[0].values["description"] == "two\nlines"


def test_duplicate_skus_name_the_first_line():
    parsed = parse_csv("sku,title,price\nA,Mug,3\nB,Cup,4\nA,Mug again,5\nA,Third,6\n")
    assert [r.sku for r in parsed.rows] == ["A", "B"]
    assert errors_by_line(parsed) == {
        4: {"sku": "Duplicate SKU: already on line 2 of this file."},
        5: {"sku": "Duplicate SKU: already on line 2 of this file."},
    }
    assert parsed.error_count == 2


def test_required_values_missing_in_a_row():
    parsed = parse_csv("sku,title,price\n,Mug,3\nB,,4\nC,Bowl,\n")
    assert errors_by_line(parsed) == {
        2: {"sku": "This field is required."},
        3: {"title": "This field is required."},
        4: {"price": "This field is required."},
    }
    assert parsed.rows == []


def test_row_with_too_many_cells_is_an_error_not_a_shift():
    parsed = parse_csv("sku,title,price\nA,Mug, large,3\nB,Cup,4\n")
    assert "4 cells but the header has 3" in errors_by_line(parsed)[2]["row"]
    assert [r.sku for r in parsed.rows] == ["B"]


def test_other_field_errors():
    parsed = parse_csv(
        "sku,title,price,currency,stock,url,is_active,category\n"
        "A,Mug,3,EURO,1,,yes,\n"
        "B,Cup,3,usd,-2,,yes,\n"
        "C,Bowl,3,EUR,2.5,notaurl,maybe,\n"
        "D,Plate,3,eur,1,https://example.com/d,no,!!!\n"
        f"E,{'x' * 501},3,,,,,\n"
        "F,Fork,3,,,,,\n"
        "G,Spoon,3,gbp,,,,\n"
    )
    errors = errors_by_line(parsed)
    assert set(errors[2]) == {"currency"}
    assert set(errors[3]) == {"stock"}
    assert set(errors[4]) == {"stock", "url", "is_active"}
    assert errors[5] == {"category": "A category name must contain letters or digits."}
    assert errors[6] == {"title": "At most 500 characters (this one has 501)."}
    assert [(r.sku, r.values["currency"]) for r in parsed.rows] == [("F", "USD"), ("G", "GBP")]


def test_json_rows_with_wrong_types_are_row_errors_numbered_by_position():
    payload = [
        {
            "sku": "A",
            "title": "Mug",
            "price": 3.5,
            "stock": 4,
            "is_active": False,
            "attributes": {"color": "red"},
        },
        {"sku": "B", "title": ["not", "text"], "price": "3"},
        {"sku": "C", "title": "Cup", "price": {"amount": 3}},
        "not an object",
        {"sku": "E", "title": "Bowl", "price": 2, "attributes": "red"},
        {"sku": "F", "title": "Plate", "price": 2, "stock": "many"},
        {"sku": 1234, "title": "Numeric SKU", "price": 1},
    ]
    parsed = parse_import(json.dumps(payload).encode(), filename="p.json")
    errors = errors_by_line(parsed)
    assert errors[2] == {"title": "Expected text, got a list."}
    assert errors[3] == {"price": "Expected a number, got an object."}
    assert errors[4] == {"row": "Expected a product object, got a string."}
    assert errors[5] == {"attributes": 'Attributes must be a JSON object, e.g. {"color": "red"}.'}
    assert errors[6] == {"stock": "'many' is not a whole number."}
    first, numeric = parsed.rows
    assert first.values == {
        "sku": "A",
        "title": "Mug",
        "price": Decimal("3.50"),
        "stock": 4,
        "is_active": False,
        "attributes": {"color": "red"},
    }
    assert numeric.sku == "1234"


def test_html_is_kept_verbatim():
    html = '<p>Soft <b>cotton</b> &amp; linen</p><script>alert("x")</script>'
    parsed = parse_import(
        json.dumps([{"sku": "A", "title": "<i>Mug</i>", "price": 1, "description": html}]).encode(),
        filename="p.json",
    )
    assert parsed.rows[0].values["description"] == html
    assert parsed.rows[0].values["title"] == "<i>Mug</i>"


# --- column mapping ----------------------------------------------------------------------------------------


def test_myntra_headers_map_to_product_fields_with_inr():
    parsed = parse_csv(
        "ProductID,ProductName,ProductBrand,Gender,Price (INR),NumImages,Description,PrimaryColor\n"
        '10017413,DKNY Unisex Trolley Bag,DKNY,Unisex,11745,7,"Black and grey, TSA lock", Black\n'
        "10016283,EthnoVogue Kurta Set,EthnoVogue,Women,5810,7,Beige kurta,\n"
    )
    assert parsed.columns == {
        "ProductID": "sku",
        "ProductName": "title",
        "ProductBrand": "brand",
        "Gender": "attributes.gender",
        "Price (INR)": "price",
        "NumImages": "attributes.num_images",
        "Description": "description",
        "PrimaryColor": "attributes.primary_color",
    }
    bag, kurta = parsed.rows
    assert bag.values == {
        "sku": "10017413",
        "title": "DKNY Unisex Trolley Bag",
        "brand": "DKNY",
        "price": Decimal("11745.00"),
        "currency": "INR",
        "description": "Black and grey, TSA lock",
        "attributes": {"gender": "Unisex", "num_images": "7", "primary_color": "Black"},
    }
    # Gender says who the product is for, not what it is: an attribute, and no category (the file has none).
    assert "category" not in parsed.fields and bag.category_slug == ""
    assert kurta.values["attributes"] == {"gender": "Women", "num_images": "7"}  # blank colour is not stored


def test_uci_online_retail_headers():
    parsed = parse_csv(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"
        "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom\n"
        "536366,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:28:00,2.55,17850.0,United Kingdom\n"
        "536367,22960,,1,2010-12-01 08:34:00,0.0,,United Kingdom\n"
    )
    assert parsed.columns == {"StockCode": "sku", "Description": "title", "UnitPrice": "price"}
    assert parsed.ignored_columns == ["InvoiceNo", "Quantity", "InvoiceDate", "CustomerID", "Country"]
    assert [(r.sku, r.values["title"], r.values["price"]) for r in parsed.rows] == [
        ("85123A", "WHITE HANGING HEART T-LIGHT HOLDER", Decimal("2.55")),
        ("71053", "WHITE METAL LANTERN", Decimal("3.39")),
    ]
    assert errors_by_line(parsed) == {
        4: {"sku": "Duplicate SKU: already on line 2 of this file."},
        5: {"title": "This field is required."},
    }


def test_shopify_export_headers_with_handle_fallback():
    parsed = parse_csv(
        "Handle,Title,Body (HTML),Vendor,Type,Tags,Published,"
        "Variant SKU,Variant Inventory Qty,Variant Price\n"
        "linen-shirt,Linen shirt,<p>Breathable</p>,Acme,Shirts,summer,TRUE,LS-01,12,49.00\n"
        "canvas-tote,Canvas tote,<p>Sturdy</p>,Acme,Bags,,FALSE,,3,19.50\n"
    )
    assert parsed.columns == {
        "Handle": "sku",
        "Title": "title",
        "Body (HTML)": "description",
        "Vendor": "brand",
        "Type": "category",
        "Tags": "attributes.tags",
        "Published": "is_active",
        "Variant SKU": "sku",
        "Variant Inventory Qty": "stock",
        "Variant Price": "price",
    }
    shirt, tote = parsed.rows
    assert (shirt.sku, shirt.values["is_active"], shirt.values["stock"]) == ("LS-01", True, 12)
    assert (tote.sku, tote.values["is_active"], tote.values["category"]) == ("canvas-tote", False, "Bags")
    assert tote.values["description"] == "<p>Sturdy</p>"


def test_our_own_field_names_and_ignored_read_only_fields():
    parsed = parse_csv(
        "id,sku,title,brand,category,price,currency,description,url,stock,is_active,attributes,created_at\n"
        "9,A,Mug,Acme,Kitchen,3,eur,Big mug,https://shop.example/a,5,false,"
        '"{""color"": ""red""}",2024-01-01\n'
    )
    assert parsed.ignored_columns == ["id", "created_at"]
    assert parsed.rows[0].values == {
        "sku": "A",
        "title": "Mug",
        "brand": "Acme",
        "category": "Kitchen",
        "price": Decimal("3.00"),
        "currency": "EUR",
        "description": "Big mug",
        "url": "https://shop.example/a",
        "stock": 5,
        "is_active": False,
        "attributes": {"color": "red"},
    }
    assert parsed.fields == {
        "sku",
        "title",
        "brand",
        "category",
        "price",
        "currency",
        "description",
        "url",
        "stock",
        "is_active",
        "attributes",
    }


def test_semicolon_separated_file():
    parsed = parse_csv("sku;title;price\nA;Mug;3,50\n")
    assert parsed.rows[0].values["price"] == Decimal("3.50")


def test_blank_header_is_reported_as_ignored():
    parsed = parse_csv("sku,title,price,\nA,Mug,3,\n")
    assert parsed.ignored_columns == ["(column 4, no header)"]


# --- the real files ----------------------------------------------------------------------------------------


@pytest.mark.skipif(not MYNTRA.exists(), reason=f"shared dataset not present at {MYNTRA}")
def test_real_myntra_catalog_parses_without_errors():
    parsed = parse_import(MYNTRA.read_bytes(), filename=MYNTRA.name)
    assert parsed.total_rows == 12491
    assert len(parsed.rows) == 12491 and parsed.error_count == 0
    # The file has no category column: products stay uncategorised, and Gender is an attribute.
    assert "category" not in parsed.fields
    assert not any(r.category_slug or "category" in r.values for r in parsed.rows)
    assert {r.values["attributes"]["gender"] for r in parsed.rows} == {
        "Women",
        "Men",
        "Unisex",
        "Boys",
        "Girls",
        "Unisex Kids",
    }
    assert all(r.values["currency"] == "INR" for r in parsed.rows)


@pytest.mark.skipif(not UCI.exists(), reason=f"shared dataset not present at {UCI}")
def test_real_uci_file_reports_repeated_stock_codes():
    parsed = parse_import(UCI.read_bytes(), filename=UCI.name)
    assert parsed.total_rows == 8000
    duplicates = [e for e in parsed.errors if "Duplicate SKU" in e["errors"].get("sku", "")]
    # 1,897 distinct stock codes: every later line of a code is a duplicate, every first line is either
    # imported or rejected for its own reason (a blank description).
    assert len(duplicates) == 8000 - 1897
    first_lines_rejected = [e for e in parsed.errors if "sku" not in e["errors"]]
    assert len(parsed.rows) + len(first_lines_rejected) == 1897
    assert len({r.sku for r in parsed.rows}) == len(parsed.rows)
