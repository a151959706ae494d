"""Attribute keys as a merchant reads them, and which ones are bookkeeping rather than product facts."""

import pytest

from catalog.attributes import attribute_label, attribute_rows, attribute_text, is_bookkeeping


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("num_images", "Number of images"),
        ("NumImages", "Number of images"),
        ("ProductID", "Product ID"),
        ("primary_color", "Primary color"),
        ("gender", "Gender"),
        ("qty_per_pack", "Quantity per pack"),
        ("USBType", "USB type"),
        ("fit-EU", "Fit EU"),
        ("image_url", "Image URL"),
        ("Care instructions", "Care instructions"),  # typed by a person: kept
        ("care instructions (EU)", "Care instructions (EU)"),
        ("größe", "Größe"),
        ("_", "_"),
    ],
)
def test_attribute_label(key, label):
    assert attribute_label(key) == label


@pytest.mark.parametrize(
    ("key", "bookkeeping"),
    [
        ("num_images", True),
        ("NumImages", True),
        ("image_count", True),
        ("style_id", True),
        ("ProductID", True),
        ("uuid", True),
        ("images", False),
        ("image_url", False),
        ("idea", False),
        ("gender", False),
        ("primary_color", False),
        ("Number of pockets", False),
    ],
)
def test_is_bookkeeping(key, bookkeeping):
    assert is_bookkeeping(key) is bookkeeping


def test_attribute_text():
    assert attribute_text(["red", "black"]) == "red, black"
    assert attribute_text({"w": 10, "h": 20}) == "w: 10; h: 20"
    assert (attribute_text(True), attribute_text(None), attribute_text(7)) == ("yes", "", "7")


def test_attribute_rows_split_facts_from_bookkeeping_in_order():
    facts, bookkeeping = attribute_rows({"gender": "Men", "num_images": "5", "fabric": "Linen", "sku_id": 9})
    assert facts == [("Gender", "Men"), ("Fabric", "Linen")]
    assert bookkeeping == [("Number of images", "5"), ("SKU ID", "9")]


def test_attribute_rows_of_a_non_object():
    assert attribute_rows(None) == ([], [])
    assert attribute_rows(["a", "b"]) == ([("Value", "a, b")], [])
