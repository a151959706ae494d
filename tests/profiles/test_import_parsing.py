"""Reading customer, order and sequence files (no database): column mapping, explicit mappings, per-row errors
with spreadsheet line numbers, file-level errors."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from profiles.importing import ImportFileError, ImportTooLarge, parse_customer_file
from profiles.order_import import (
    order_customers,
    order_products,
    parse_orders,
    parse_sequences,
    sequence_events,
    timezone_get,
)


def parse(text: str, name="customers.csv", **kwargs):
    return parse_customer_file(text.encode(), filename=name, **kwargs)


def errors_by_line(parsed) -> dict[int, dict[str, str]]:
    return {error["line"]: error["errors"] for error in parsed.errors}


# --- customer files: columns -------------------------------------------------------------------------------


def test_our_own_headers_map_to_fields_and_unknown_columns_become_attributes():
    parsed = parse(
        "external_id,email,first_name,last_name,locale,country,consent_marketing,consent_profiling,"
        "attributes.tier,Loyalty Points\n"
        "c-1,ana@example.com,Ana,Silva,pt-PT,PT,yes,no,gold,120\n"
    )
    assert parsed.error_count == 0
    (row,) = parsed.rows
    assert row.line == 2 and row.external_id == "c-1"
    assert row.values == {
        "external_id": "c-1",
        "email": "ana@example.com",
        "name": "Ana Silva",
        "locale": "pt-PT",
        "country": "PT",
        "consent_marketing": True,
        "consent_profiling": False,
        "attributes": {"tier": "gold", "loyalty_points": "120"},
    }
    assert parsed.columns["first_name"] == "name (first)"
    assert parsed.columns["Loyalty Points"] == "attributes.loyalty_points"
    assert parsed.columns["attributes.tier"] == "attributes.tier"


def test_shopify_customer_export():
    parsed = parse(
        "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Default Address Company,"
        "Default Address Country Code,Total Spent,Total Orders,Tags\n"
        '7204,Maya,Chen,maya@example.com,yes,,CA,310.50,4,"vip, newsletter"\n'
        "7205,Omar,,omar@example.com,no,Acme,GB,0.00,0,\n"
    )
    assert parsed.error_count == 0, parsed.errors
    maya, omar = parsed.rows
    assert maya.values == {
        "external_id": "7204",
        "email": "maya@example.com",
        "name": "Maya Chen",
        "consent_marketing": True,
        "country": "CA",
        "attributes": {"total_spent": "310.50", "total_orders": "4", "tags": "vip, newsletter"},
    }
    assert omar.values["name"] == "Omar" and omar.values["consent_marketing"] is False
    assert omar.values["attributes"]["default_address_company"] == "Acme"
    assert parsed.columns["Customer ID"] == "external_id"
    assert parsed.columns["Default Address Country Code"] == "country"


def test_shopify_export_without_an_id_column_uses_the_email():
    parsed = parse("First Name,Last Name,Email,Accepts Email Marketing\nLea,Roy,Lea.Roy@Example.com,no\n")
    (row,) = parsed.rows
    assert row.external_id == "lea.roy@example.com"
    assert row.values["email"] == "Lea.Roy@Example.com"


def test_klaviyo_profile_export_prefers_external_id_and_reads_consent_words():
    parsed = parse(
        "Email,First Name,Last Name,Country,Locale,Klaviyo ID,External ID,Email Marketing Consent\n"
        "a@example.com,A,One,France,fr-FR,01HKL1,shop-1,SUBSCRIBED\n"
        "b@example.com,B,Two,Spain,es-ES,01HKL2,,NEVER_SUBSCRIBED\n"
        "c@example.com,C,Three,Italy,it-IT,01HKL3,shop-3,maybe\n"
    )
    assert [row.external_id for row in parsed.rows] == ["shop-1", "01HKL2"]
    assert parsed.rows[0].values["consent_marketing"] is True
    assert parsed.rows[1].values["consent_marketing"] is False
    assert parsed.rows[0].values["locale"] == "fr-FR" and parsed.rows[0].values["country"] == "France"
    assert errors_by_line(parsed) == {4: {"consent_marketing": "'maybe' is not yes/no; use true or false."}}


def test_explicit_mapping_overrides_matching_and_can_ignore_columns():
    parsed = parse(
        "Member No,Work Email,Email,Segment,Notes\nM-9,w@example.com,home@example.com,B2B,call first\n",
        mapping={
            "Member No": "external_id",
            "work email": "email",
            "Segment": "attributes.segment",
            "Notes": "",
        },
    )
    (row,) = parsed.rows
    assert row.values == {
        "external_id": "M-9",
        "email": "w@example.com",
        # Email is no longer the email field (the mapping named another column for it): kept as an attribute.
        "attributes": {"segment": "B2B", "email": "home@example.com"},
    }
    assert parsed.ignored_columns == ["Notes"]


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"Nope": "email"}, "names a column 'Nope' that the file does not have"),
        ({"id": "phone"}, "unknown field 'phone'"),
        ({"id": "attributes."}, "names no attribute key"),
        ({"id": 3}, "must be a field name"),
        (["id"], "must be an object"),
    ],
)
def test_bad_mappings_are_file_errors(mapping, message):
    with pytest.raises(ImportFileError) as exc:
        parse("id,email\n1,a@example.com\n", mapping=mapping)
    assert exc.value.code == "invalid_mapping"
    assert message in exc.value.message


# --- customer files: rows ----------------------------------------------------------------------------------


def test_row_errors_have_spreadsheet_lines_and_valid_rows_survive():
    parsed = parse(
        "external_id,email,consent_profiling,country\n"
        "c-1,ok@example.com,true,DE\n"
        "c-2,not-an-email,,FR\n"
        "\n"
        '"c-3","multi\nline@example.com",x,US\n'
        ",,,NL\n"
        "c-1,again@example.com,,DE\n"
        "c-6,six@example.com,,DE,extra\n"
        f"c-7,seven@example.com,,{'X' * 65}\n"
    )
    assert parsed.total_rows == 7
    assert [row.external_id for row in parsed.rows] == ["c-1"]
    assert errors_by_line(parsed) == {
        3: {"email": "'not-an-email' is not a valid email address."},
        5: {
            "email": "'multi\nline@example.com' is not a valid email address.",
            "consent_profiling": "'x' is not yes/no; use true or false.",
        },
        6: {"external_id": "Each customer needs an external id or an email."},
        7: {"external_id": "Duplicate customer: already on line 2 of this file."},
        8: {"row": "The row has 5 cells but the header has 4 columns (an unquoted comma?)."},
        9: {"country": "At most 64 characters (this one has 65)."},
    }
    assert parsed.errors[0]["external_id"] == "c-2"


def test_blank_cells_are_left_out_so_they_change_nothing():
    parsed = parse("external_id,email,name,consent_marketing\nc-1,,,\n")
    assert parsed.rows[0].values == {"external_id": "c-1"}


def test_json_list_of_objects_keeps_attribute_types_and_numeric_ids():
    items = [
        {"external_id": 17850.0, "email": "a@example.com", "attributes": {"vip": True}, "points": 12},
        {"external_id": "c-2", "consent_marketing": "sometimes"},
        "not an object",
    ]
    parsed = parse(json.dumps(items), name="customers.json")
    assert parsed.file_format == "json"
    assert parsed.rows[0].values == {
        "external_id": "17850",
        "email": "a@example.com",
        "attributes": {"vip": True, "points": 12},
    }
    assert errors_by_line(parsed) == {
        2: {"consent_marketing": "'sometimes' is not yes/no; use true or false."},
        3: {"row": "Expected a customer object, got a string."},
    }


@pytest.mark.parametrize(
    ("content", "name", "code"),
    [
        (b"", "c.csv", "empty_file"),
        (b"external_id,email\n", "c.csv", "no_rows"),
        (b"phone,city\n123,Paris\n", "c.csv", "missing_columns"),
        (b"email,Email\na@example.com,b@example.com\n", "c.csv", "duplicate_columns"),
        (b'{"external_id": "1"}', "c.json", "not_a_list"),
        (b"[1, 2", "c.json", "malformed_json"),
        (b"PK\x03\x04rest-of-a-zip", "c.xlsx", "unsupported_format"),
        (b"external_id\n1\n", "c.pdf", "unknown_format"),
    ],
)
def test_file_level_errors(content, name, code):
    with pytest.raises(ImportFileError) as exc:
        parse_customer_file(content, filename=name)
    assert exc.value.code == code
    assert exc.value.message


def test_over_the_size_limit():
    with pytest.raises(ImportTooLarge) as exc:
        parse_customer_file(b"external_id\n" + b"c\n" * 100, filename="c.csv", max_bytes=50)
    assert exc.value.code == "too_large" and "limit" in exc.value.message


def test_semicolon_csv_in_cp1252():
    parsed = parse_customer_file(
        "external_id;name;country\nc-1;Zoë Brontë;Österreich\n".encode("cp1252"), filename="c.csv"
    )
    assert parsed.rows[0].values["name"] == "Zoë Brontë"
    assert parsed.rows[0].values["country"] == "Österreich"


# --- order exports ---------------------------------------------------------------------------------------

ORDERS = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"
    "536365,71053,,6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom\n"
    "536366,71053,WHITE METAL LANTERN,2,12/1/2010 8:28,3.50,,United Kingdom\n"
    "C536379,D,Discount,-1,2010-12-01 09:41:00,27.5,14527.0,France\n"
    "536380,22139,,-10,2010-12-01 10:00:00,0.0,,United Kingdom\n"
    "536381,22140,X,six,2010-12-01 10:00:00,1.0,,United Kingdom\n"
    "536382,22141,X,1,yesterday,1.0,,United Kingdom\n"
    "536383,22142,X,1,2010-12-01 10:00:00,-2,,United Kingdom\n"
)


def test_order_lines_become_purchase_and_refund_events():
    parsed = parse_orders(ORDERS)
    assert parsed.total_rows == 8
    assert [line.line for line in parsed.items] == [2, 3, 4, 5]
    first, second, anonymous, refund = (line.event(currency="GBP") for line in parsed.items)
    assert first == {
        "type": "purchase",
        "customer": "17850",
        "product": "85123A",
        "quantity": 6,
        "value": "15.30",
        "currency": "GBP",
        "order_id": "536365",
        "occurred_at": "2010-12-01T08:26:00+00:00",
        "idempotency_key": "order:536365:1",
        "properties": {"unit_price": "2.55"},
    }
    assert second["idempotency_key"] == "order:536365:2"
    assert anonymous["session_id"] == "invoice:536366" and "customer" not in anonymous
    assert anonymous["occurred_at"] == "2010-12-01T08:28:00+00:00"
    assert (refund["type"], refund["quantity"], refund["value"], refund["order_id"]) == (
        "refund",
        1,
        "27.50",
        "C536379",
    )
    assert errors_by_line(parsed) == {
        6: {
            "quantity": "A negative quantity (-10) on a sale is a stock adjustment, not a purchase; "
            "cancellations are invoices starting with C."
        },
        7: {"quantity": "'six' is not a whole number."},
        8: {"date": "'yesterday' is not a date and time; use YYYY-MM-DD HH:MM[:SS]."},
        9: {"price": "A unit price cannot be negative (got -2)."},
    }


def test_order_dates_are_read_in_the_given_timezone():
    parsed = parse_orders(ORDERS, tz=timezone_get("Europe/London"))
    assert parsed.items[0].occurred_at == datetime(2010, 12, 1, 8, 26, tzinfo=ZoneInfo("Europe/London"))
    parsed = parse_orders(ORDERS, tz=timezone_get("America/New_York"))
    assert parsed.items[0].occurred_at.astimezone(UTC) == datetime(2010, 12, 1, 13, 26, tzinfo=UTC)
    with pytest.raises(ValueError, match="Unknown timezone 'Mars/Base'"):
        timezone_get("Mars/Base")


def test_products_and_customers_of_an_order_file():
    parsed = parse_orders(ORDERS)
    products = order_products(parsed.items)
    assert products["71053"] == {
        "sku": "71053",
        "title": "WHITE METAL LANTERN",
        "price": "3.39",
        "is_active": True,
    }
    assert products["D"]["is_active"] is False  # a discount line, not merchandise
    assert order_customers(parsed.items) == {"17850": "United Kingdom", "14527": "France"}
    assert parsed.items[0].unit_price == Decimal("2.55")
    assert parsed.items[3].event(currency="GBP")["properties"] == {"unit_price": "27.5"}


def test_a_file_that_is_not_an_order_export():
    with pytest.raises(ImportFileError) as exc:
        parse_orders("external_id,email\n1,a@example.com\n")
    assert exc.value.code == "missing_columns"
    assert "missing invoiceno, stockcode, quantity, invoicedate, unitprice" in exc.value.message


# --- sequences ---------------------------------------------------------------------------------------------


def test_sequences_keep_order_with_synthesised_times():
    parsed = parse_sequences("1 10 11 12\n\n2 11\n3\n1 13\n", customer_prefix="beauty-")
    assert parsed.total_rows == 4
    assert [(user.customer, user.items) for user in parsed.items] == [
        ("beauty-1", ["10", "11", "12"]),
        ("beauty-2", ["11"]),
    ]
    assert errors_by_line(parsed) == {
        4: {"items": "No items after the user id."},
        5: {"user": "Duplicate user: already on line 1 of this file."},
    }
    end = datetime(2025, 1, 31, tzinfo=UTC)
    events = sequence_events(parsed.items[0], event_type="view", end=end, step=timedelta(days=1))
    assert [(e["product"], e["occurred_at"], e["idempotency_key"]) for e in events] == [
        ("10", "2025-01-29T00:00:00+00:00", "seq:beauty-1:1"),
        ("11", "2025-01-30T00:00:00+00:00", "seq:beauty-1:2"),
        ("12", "2025-01-31T00:00:00+00:00", "seq:beauty-1:3"),
    ]
    assert all(e["type"] == "view" and "value" not in e for e in events)
