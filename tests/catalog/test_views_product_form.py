"""Creating and editing one product in the dashboard: the catalog services' rules, field errors instead of
error pages, attributes as name/value rows, roles and tenant scoping."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import AuditLog, Role
from catalog.models import Category, Product
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

CREATE_URL = reverse("catalog:product_create")


def rows(*pairs, total=None, initial=0):
    """The attribute rows' POST data (Django formset fields, prefix "attr")."""
    data = {
        "attr-TOTAL_FORMS": str(total if total is not None else len(pairs)),
        "attr-INITIAL_FORMS": str(initial),
        "attr-MIN_NUM_FORMS": "0",
        "attr-MAX_NUM_FORMS": "100",
    }
    for index, (key, value) in enumerate(pairs):
        data[f"attr-{index}-key"] = key
        data[f"attr-{index}-value"] = value
    return data


def product_data(**overrides):
    data = {
        "title": "Trail bottle 750 ml",
        "sku": "TB-750",
        "brand": "Northwind",
        "category": "Drinkware",
        "price": "24.90",
        "currency": "usd",
        "description": "Keeps drinks cold for 24 hours.",
        "url": "https://shop.example.com/tb-750",
        "stock": "12",
        "is_active": "on",
        **rows(("Material", "Stainless steel"), ("capacity_ml", "750"), ("", "")),
    }
    data.update(overrides)
    return data


def edit_url(product):
    return reverse("catalog:product_edit", args=[product.id])


@pytest.fixture
def logged_in(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def bottle(merchant):
    return ProductFactory(
        merchant=merchant,
        sku="TB-750",
        title="Trail bottle",
        category=CategoryFactory(merchant=merchant, name="Drinkware", slug="drinkware"),
        attributes={"sizes": ["S", "M"], "weight_g": 180, "material": "Steel"},
    )


# --- create ------------------------------------------------------------------------------------------------


def test_new_product_form_is_keyboard_ready(logged_in, merchant):
    ProductFactory(merchant=merchant, currency="EUR")
    CategoryFactory(merchant=merchant, name="Lamps", slug="lamps")
    html = logged_in.get(CREATE_URL).content.decode()
    for label in ("Title", "SKU", "Brand", "Category", "Price", "Currency", "Description", "Stock", "Active"):
        assert f">{label}</" in html, label
    assert 'for="id_attr-0-key">Attribute 1 name</label>' in html
    assert 'value="EUR"' in html  # the catalog's usual currency is the default
    assert '<option value="Lamps">' in html
    assert f'hx-get="{reverse("catalog:attribute_row")}"' in html
    assert "autofocus" not in html


def test_create_saves_through_the_service_and_redirects_to_the_product(logged_in, merchant):
    response = logged_in.post(CREATE_URL, product_data())
    product = Product.objects.get(merchant=merchant, sku="TB-750")
    assert response.status_code == 302
    assert response["Location"] == reverse("catalog:product_detail", args=[product.id])
    assert (product.title, product.brand, product.category.name, product.price, product.currency) == (
        "Trail bottle 750 ml",
        "Northwind",
        "Drinkware",
        Decimal("24.90"),
        "USD",
    )
    assert (product.stock, product.is_active, product.url) == (12, True, "https://shop.example.com/tb-750")
    assert product.attributes == {"Material": "Stainless steel", "capacity_ml": "750"}
    assert AuditLog.objects.filter(
        merchant=merchant, action="product.create", object_id=str(product.id)
    ).exists()
    page = logged_in.get(response["Location"]).content.decode()
    assert "Product “Trail bottle 750 ml” created." in page


def test_create_with_the_import_price_formats_and_no_stock_or_category(logged_in, merchant):
    data = product_data(price="1,299.00", stock="", category="", is_active="")
    data.pop("is_active")
    assert logged_in.post(CREATE_URL, data).status_code == 302
    product = Product.objects.get(merchant=merchant, sku="TB-750")
    assert (product.price, product.stock, product.category, product.is_active) == (
        Decimal("1299.00"),
        None,
        None,
        False,
    )


def test_duplicate_sku_is_a_field_error_not_a_500(logged_in, merchant, bottle):
    response = logged_in.post(CREATE_URL, product_data(sku=" TB-750 ", category="Hydration"))
    assert response.status_code == 400
    html = response.content.decode()
    assert "The product was not saved." in html
    assert "A product with SKU &#x27;TB-750&#x27; already exists." in html
    assert 'aria-invalid="true"' in html and "autofocus" in html
    assert Product.objects.filter(merchant=merchant).count() == 1
    # The new category typed in the failed form was not left behind.
    assert not Category.objects.filter(merchant=merchant, slug="hydration").exists()


def test_same_sku_as_another_merchants_product_is_fine(logged_in, merchant, other_merchant):
    ProductFactory(merchant=other_merchant, sku="TB-750")
    assert logged_in.post(CREATE_URL, product_data()).status_code == 302
    assert Product.objects.filter(merchant=merchant, sku="TB-750").exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "", "This field is required."),
        ("price", "free", "&#x27;free&#x27; is not a price."),
        ("price", "-3", "A price cannot be negative (got -3)."),
        ("price", "99999999999", "A price must be below 10,000,000,000.00."),
        ("currency", "U$D", "Use a 3-letter currency code such as USD."),
        ("stock", "-1", "Ensure this value is greater than or equal to 0."),
        ("url", "javascript:alert(1)", "Enter a valid URL."),
        ("category", "!!!", "A category name must contain letters or digits."),
        ("sku", "x" * 101, "Ensure this value has at most 100 characters (it has 101)."),
    ],
)
def test_bad_input_is_shown_on_its_field(logged_in, merchant, field, value, message):
    response = logged_in.post(CREATE_URL, product_data(**{field: value}))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Product.objects.exists()


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ((("", "Cotton"),), "Name the attribute, or clear its value."),
        ((("Material", ""),), "Give a value, or clear the name."),
        ((("Material", "Cotton"), ("material", "Linen")), "“Material” is already listed above."),
    ],
)
def test_bad_attribute_rows_are_shown_on_their_row(logged_in, pairs, message):
    response = logged_in.post(CREATE_URL, product_data(**rows(*pairs)))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Product.objects.exists()


@pytest.mark.parametrize(
    ("management", "message"),
    [
        ({"attr-TOTAL_FORMS": "201"}, "A product can have at most 200 attributes."),
        ({"attr-TOTAL_FORMS": "lots"}, "The attribute rows could not be read."),
        ({"attr-TOTAL_FORMS": None}, "The attribute rows could not be read."),  # management data missing
    ],
)
def test_tampered_attribute_rows_are_refused_with_a_message(logged_in, management, message):
    data = product_data()
    for key, value in management.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    response = logged_in.post(CREATE_URL, data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "The product was not saved." in html
    assert message in html
    assert not Product.objects.exists()


# --- edit --------------------------------------------------------------------------------------------------


def test_edit_form_shows_the_stored_values(logged_in, bottle):
    html = logged_in.get(edit_url(bottle)).content.decode()
    assert 'value="Trail bottle"' in html and 'value="TB-750"' in html and 'value="Drinkware"' in html
    assert 'value="sizes"' in html and 'value="S, M"' in html
    assert 'value="weight_g"' in html and 'value="180"' in html
    assert 'name="attr-4-key"' in html  # three stored rows and two empty ones
    assert 'name="attr-5-key"' not in html


def test_edit_changes_fields_and_keeps_untouched_attribute_types(logged_in, merchant, bottle):
    data = product_data(
        title="Trail bottle XL",
        category="Outdoor",
        stock="",
        **rows(
            ("sizes", "S, M"),
            ("weight_g", "200"),
            ("material", "Steel"),
            ("", ""),
            ("Lid", "Bamboo"),
            initial=3,
        ),
    )
    data["attr-2-DELETE"] = "on"
    response = logged_in.post(edit_url(bottle), data)
    assert response.status_code == 302
    bottle.refresh_from_db()
    assert (bottle.title, bottle.category.name, bottle.stock) == ("Trail bottle XL", "Outdoor", None)
    # "S, M" was not edited, so the list stays a list; the edited weight becomes the text typed.
    assert bottle.attributes == {"sizes": ["S", "M"], "weight_g": "200", "Lid": "Bamboo"}
    entry = AuditLog.objects.get(merchant=merchant, action="product.update", object_id=str(bottle.id))
    assert entry.changes["title"] == ["Trail bottle", "Trail bottle XL"]


def test_saving_without_changes_says_so_and_writes_nothing(logged_in, merchant, bottle):
    Product.objects.filter(pk=bottle.pk).update(description="Keeps drinks cold.\nFor 24 hours.")
    bottle.refresh_from_db()
    form = {
        "title": bottle.title,
        "sku": bottle.sku,
        "brand": bottle.brand,
        "category": "Drinkware",
        "price": str(bottle.price),
        "currency": bottle.currency,
        "description": bottle.description.replace("\n", "\r\n"),  # as a browser sends a textarea
        "url": "",
        "stock": str(bottle.stock),
        "is_active": "on",
        **rows(("sizes", "S, M"), ("weight_g", "180"), ("material", "Steel"), initial=3),
    }
    updated_at = bottle.updated_at
    response = logged_in.post(edit_url(bottle), form, follow=True)
    assert "No changes to save." in response.content.decode()
    bottle.refresh_from_db()
    assert bottle.updated_at == updated_at
    assert not AuditLog.objects.filter(action="product.update").exists()


def test_edit_to_a_taken_sku_is_a_field_error_and_keeps_the_stored_product(logged_in, merchant, bottle):
    ProductFactory(merchant=merchant, sku="HL-300", title="Head lamp")
    response = logged_in.post(edit_url(bottle), product_data(sku="HL-300", title="Renamed"))
    assert response.status_code == 400
    html = response.content.decode()
    assert "A product with SKU &#x27;HL-300&#x27; already exists." in html
    assert 'value="Renamed"' in html  # what was typed stays in the form...
    assert '<h2 id="product-form-title">Trail bottle</h2>' in html  # ...the header shows what is stored
    bottle.refresh_from_db()
    assert (bottle.sku, bottle.title) == ("TB-750", "Trail bottle")


def test_another_merchants_product_cannot_be_edited(logged_in, other_merchant):
    theirs = ProductFactory(merchant=other_merchant, sku="XX-1", title="Contoso lamp")
    assert logged_in.get(edit_url(theirs)).status_code == 404
    assert logged_in.post(edit_url(theirs), product_data()).status_code == 404
    theirs.refresh_from_db()
    assert (theirs.sku, theirs.title) == ("XX-1", "Contoso lamp")


def test_outsider_cannot_edit_ours(client, outsider, bottle):
    client.force_login(outsider)
    assert client.post(edit_url(bottle), product_data(title="Hacked")).status_code == 404
    bottle.refresh_from_db()
    assert bottle.title == "Trail bottle"


# --- roles -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.VIEWER, Role.REVIEWER])
def test_roles_without_edit_cannot_create_or_edit(client, member_with_role, bottle, role):
    client.force_login(member_with_role(role))
    assert client.get(CREATE_URL).status_code == 403
    assert client.post(CREATE_URL, product_data(sku="NEW-1")).status_code == 403
    assert client.get(edit_url(bottle)).status_code == 403
    assert client.post(edit_url(bottle), product_data(title="Nope")).status_code == 403
    assert client.get(reverse("catalog:attribute_row"), {"attr-TOTAL_FORMS": "1"}).status_code == 403
    assert not Product.objects.filter(sku="NEW-1").exists()
    detail = client.get(reverse("catalog:product_detail", args=[bottle.id])).content.decode()
    assert edit_url(bottle) not in detail
    assert CREATE_URL not in client.get(reverse("catalog:product_list")).content.decode()


def test_editor_can_create_and_sees_the_buttons(client, member_with_role, merchant, bottle):
    client.force_login(member_with_role(Role.EDITOR))
    assert (
        edit_url(bottle) in client.get(reverse("catalog:product_detail", args=[bottle.id])).content.decode()
    )
    assert CREATE_URL in client.get(reverse("catalog:product_list")).content.decode()
    assert client.post(CREATE_URL, product_data(sku="NEW-1")).status_code == 302


def test_anonymous_is_sent_to_log_in(client):
    response = client.get(CREATE_URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- one more attribute row (HTMX) -------------------------------------------------------------------------


def test_attribute_row_adds_the_next_row_and_raises_the_count(logged_in):
    response = logged_in.get(
        reverse("catalog:attribute_row"), {"attr-TOTAL_FORMS": "5"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="attr-5-key"' in html and 'name="attr-5-value"' in html
    assert ">Attribute 6 name</label>" in html
    assert "autofocus" in html
    assert 'name="attr-TOTAL_FORMS" value="6" id="id_attr-TOTAL_FORMS" hx-swap-oob="true"' in html


@pytest.mark.parametrize("count", ["", "x", "-1", "200"])
def test_attribute_row_refuses_a_bad_count(logged_in, count):
    assert logged_in.get(reverse("catalog:attribute_row"), {"attr-TOTAL_FORMS": count}).status_code == 400
