"""Products list (HTMX search, filters, pagination) and product detail."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import Role
from tests.factories import CategoryFactory, ProductFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def catalog(merchant, other_merchant):
    # Descriptions differ from the factory's (which mentions "bottle") so searches narrow predictably.
    bottles = CategoryFactory(merchant=merchant, name="Bottles", slug="bottles")
    lamps = CategoryFactory(merchant=merchant, name="Lamps", slug="lamps")
    return {
        "bottle": ProductFactory(
            merchant=merchant,
            sku="TB-1",
            title="Trail bottle",
            brand="Northwind",
            category=bottles,
            description="Keeps water cold.",
        ),
        "mug": ProductFactory(
            merchant=merchant,
            sku="CM-1",
            title="Camp mug",
            brand="Northwind",
            category=bottles,
            is_active=False,
            description="Enamel.",
        ),
        "lamp": ProductFactory(
            merchant=merchant,
            sku="HL-1",
            title="Head lamp",
            brand="Lumen",
            category=lamps,
            price=Decimal("1234.50"),
            description="300 lumens.",
        ),
        "foreign": ProductFactory(
            merchant=other_merchant, sku="XX-1", title="Contoso lamp", brand="Contoso", description=""
        ),
    }


@pytest.fixture
def logged_in(client, owner):
    client.force_login(owner)
    return client


def test_list_shows_only_the_current_merchants_products(logged_in, catalog):
    response = logged_in.get(reverse("catalog:product_list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html
    for title in ("Trail bottle", "Camp mug", "Head lamp"):
        assert title in html
    assert "Contoso lamp" not in html
    assert "1,234.50" in html
    assert "3 products" in html


def test_every_role_can_browse(client, catalog, member_with_role):
    for role in (Role.VIEWER, Role.REVIEWER, Role.EDITOR):
        client.force_login(member_with_role(role))
        assert client.get(reverse("catalog:product_list")).status_code == 200
        assert client.get(reverse("catalog:product_detail", args=[catalog["bottle"].id])).status_code == 200


def test_search_filters_by_title_sku_and_brand(logged_in, catalog):
    html = logged_in.get(reverse("catalog:product_list"), {"q": "lamp"}).content.decode()
    assert "Head lamp" in html
    assert "Trail bottle" not in html
    assert "Contoso lamp" not in html
    assert "1 matching product" in html

    html = logged_in.get(reverse("catalog:product_list"), {"q": "tb-1"}).content.decode()
    assert "Trail bottle" in html and "Head lamp" not in html

    html = logged_in.get(reverse("catalog:product_list"), {"q": "lumen"}).content.decode()
    assert "Head lamp" in html and "Trail bottle" not in html


def test_htmx_request_gets_the_table_partial_only(logged_in, catalog):
    response = logged_in.get(reverse("catalog:product_list"), {"q": "bottle"}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert "<nav" not in html.split('class="pagination"')[0]
    assert 'data-testid="product-table"' in html
    assert "Trail bottle" in html and "Head lamp" not in html
    assert "HX-Request" in response["Vary"]


def test_htmx_history_restore_gets_the_full_page(logged_in, catalog):
    response = logged_in.get(
        reverse("catalog:product_list"), {"q": "bottle"}, HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX
    )
    assert "<html" in response.content.decode()


def test_search_box_is_wired_for_live_search(logged_in, catalog):
    html = logged_in.get(reverse("catalog:product_list")).content.decode()
    assert 'hx-trigger="input changed delay:300ms, search"' in html
    assert 'hx-target="#product-results"' in html
    assert 'hx-push-url="true"' in html
    assert "data-search-shortcut" in html
    # CSRF token travels in hx-headers on <body>.
    assert '<body hx-headers=\'{"X-CSRFToken": "' in html


def test_filters_by_category_brand_and_status(logged_in, catalog):
    url = reverse("catalog:product_list")
    html = logged_in.get(url, {"category": "lamps"}).content.decode()
    assert "Head lamp" in html and "Trail bottle" not in html
    assert '<option value="lamps" selected>' in html

    html = logged_in.get(url, {"brand": "Northwind"}).content.decode()
    assert "Trail bottle" in html and "Camp mug" in html and "Head lamp" not in html

    html = logged_in.get(url, {"status": "inactive"}, **HTMX).content.decode()
    assert "Camp mug" in html and "Trail bottle" not in html

    html = logged_in.get(url, {"category": "bottles", "status": "active"}, **HTMX).content.decode()
    assert "Trail bottle" in html and "Camp mug" not in html


def test_unknown_filter_values_are_ignored_not_errors(logged_in, catalog):
    response = logged_in.get(
        reverse("catalog:product_list"),
        {"category": "nope", "brand": "Contoso", "status": "weird", "page": "x"},
    )
    assert response.status_code == 200
    assert "3 products" in response.content.decode()


def test_no_match_shows_clear_filters(logged_in, catalog):
    html = logged_in.get(reverse("catalog:product_list"), {"q": "zzz"}, **HTMX).content.decode()
    assert "No products match" in html
    assert "Clear filters" in html


def test_empty_catalog_points_at_import(logged_in, merchant):
    html = logged_in.get(reverse("catalog:product_list")).content.decode()
    assert "No products yet" in html
    assert reverse("catalog:import") in html


def test_pagination_keeps_the_query_and_works_with_and_without_htmx(logged_in, merchant):
    ProductFactory.create_batch(30, merchant=merchant, title="Bottle")
    ProductFactory(merchant=merchant, title="Mug", description="Enamel.")
    url = reverse("catalog:product_list")

    html = logged_in.get(url, {"q": "bottle"}).content.decode()
    assert "Page 1 of 2" in html
    assert 'href="?q=bottle&amp;page=2"' in html
    assert 'hx-get="?q=bottle&amp;page=2"' in html

    page2 = logged_in.get(url, {"q": "bottle", "page": "2"}, **HTMX)
    html = page2.content.decode()
    assert "<html" not in html
    assert "Page 2 of 2" in html
    assert html.count('class="row-title"') == 5

    assert "Page 2 of 2" in logged_in.get(url, {"q": "bottle", "page": "99"}).content.decode()


def test_detail_shows_every_field(logged_in, catalog):
    product = catalog["lamp"]
    product.url = "https://shop.example.com/head-lamp"
    product.attributes = {"lumens": 300, "colours": ["red", "black"], "waterproof": True}
    product.save()

    response = logged_in.get(reverse("catalog:product_detail", args=[product.id]))

    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "Head lamp",
        "HL-1",
        "Lumen",
        "Lamps",
        "1,234.50",
        "USD",
        "lumens",
        "300",
        "red, black",
        "yes",
        'href="https://shop.example.com/head-lamp"',
        "300 lumens.",
    ):
        assert text in html, text


def test_detail_of_another_merchants_product_is_404(logged_in, catalog):
    response = logged_in.get(reverse("catalog:product_detail", args=[catalog["foreign"].id]))
    assert response.status_code == 404
    assert "Contoso lamp" not in response.content.decode()


def test_detail_of_missing_product_is_404(logged_in, catalog):
    assert logged_in.get(reverse("catalog:product_detail", args=[999999])).status_code == 404


def test_html_in_product_data_is_shown_as_text(logged_in, merchant):
    product = ProductFactory(
        merchant=merchant,
        title="<script>alert(1)</script>",
        brand="<b>Bold</b>",
        description='<img src=x onerror="alert(2)">\nSecond line',
        attributes={"<i>key</i>": "<script>alert(3)</script>"},
        url="javascript:alert(4)",
    )
    pages = [
        logged_in.get(reverse("catalog:product_list")).content.decode(),
        logged_in.get(reverse("catalog:product_list"), {"q": "script"}, **HTMX).content.decode(),
        logged_in.get(reverse("catalog:product_detail", args=[product.id])).content.decode(),
    ]
    for html in pages:
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "<b>Bold</b>" not in html
    detail = pages[2]
    assert "<img src=x" not in detail
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;<br>Second line" in detail
    assert "<script>alert(3)</script>" not in detail
    assert "<i>key</i>" not in detail
    assert 'href="javascript:' not in detail


# --- attributes as the merchant reads them -----------------------------------------------------------------


def test_detail_humanises_attribute_keys_and_keeps_bookkeeping_apart(logged_in, merchant):
    product = ProductFactory(
        merchant=merchant,
        attributes={"primary_color": "Black", "gender": "Women", "num_images": "7", "style_id": "88121"},
    )
    html = logged_in.get(reverse("catalog:product_detail", args=[product.id])).content.decode()
    facts = html.split('data-testid="product-bookkeeping"')[0]
    assert '<th scope="row">Primary color</th><td>Black</td>' in facts
    assert '<th scope="row">Gender</th><td>Women</td>' in facts
    assert "primary_color" not in html and "num_images" not in html
    assert "Number of images" not in facts and "88121" not in facts
    bookkeeping = html.split('data-testid="product-bookkeeping"')[1].split("</p>")[0]
    assert "Number of images: 7" in bookkeeping and "Style ID: 88121" in bookkeeping


def test_detail_with_only_bookkeeping_attributes_says_there_are_no_facts(logged_in, merchant):
    product = ProductFactory(merchant=merchant, attributes={"NumImages": "5"})
    html = logged_in.get(reverse("catalog:product_detail", args=[product.id])).content.decode()
    assert "No attributes beyond the bookkeeping below." in html
    assert "Number of images: 5" in html


# --- the product's copy ------------------------------------------------------------------------------------


@pytest.fixture
def make_piece(merchant):
    from marketing.models import Campaign, ContentPiece

    def make(product, *, channel="product_description", status="in_review", name="Spring launch", **fields):
        campaign, _ = Campaign.objects.get_or_create(
            merchant=product.merchant, name=name, defaults={"channel": channel}
        )
        return ContentPiece.objects.create(
            merchant=product.merchant, campaign=campaign, product=product, status=status, **fields
        )

    return make


def test_detail_lists_the_products_copy_with_links_to_review(logged_in, catalog, make_piece):
    bottle = catalog["bottle"]
    described = make_piece(bottle, title="Cold for a day", body="A steel bottle that keeps water cold.")
    emailed = make_piece(
        bottle, channel="email", name="June email", status="approved", subject="Summer is here", body="Hi!"
    )
    make_piece(catalog["lamp"], title="Lamp copy", body="Bright.")
    make_piece(catalog["foreign"], title="Their copy", body="Not yours.")

    html = logged_in.get(reverse("catalog:product_detail", args=[bottle.id])).content.decode()
    copy = html.split('data-testid="product-copy"')[1]
    assert copy.count('data-testid="product-piece"') == 2
    assert "Cold for a day" in copy and "A steel bottle that keeps water cold." in copy
    assert "Product description · Spring launch" in copy
    assert "Summer is here" in copy and "Email (subject + body) · June email" in copy
    assert ">In review</span>" in copy and ">Approved</span>" in copy
    for piece in (described, emailed):
        assert f'href="{reverse("marketing:piece_card", args=[piece.id])}"' in copy
    assert "Lamp copy" not in html and "Their copy" not in html
    assert "No copy for this product yet" not in html


def test_detail_without_copy_explains_how_to_get_some(logged_in, catalog):
    html = logged_in.get(reverse("catalog:product_detail", args=[catalog["lamp"].id])).content.decode()
    assert "No copy for this product yet." in html
    assert f'href="{reverse("marketing:campaign_create")}"' in html


def test_detail_shows_the_newest_copy_and_how_many_there_are(logged_in, catalog, make_piece):
    bottle = catalog["bottle"]
    for variant in range(1, 13):
        make_piece(bottle, variant=variant, title=f"Variant {variant}", body="Text.")
    html = logged_in.get(reverse("catalog:product_detail", args=[bottle.id])).content.decode()
    assert html.count('data-testid="product-piece"') == 10
    assert "newest 10 of 12" in html
    assert "Variant 12" in html and "Variant 1<" not in html


def test_viewer_sees_the_copy_but_no_campaign_link(client, catalog, make_piece, member_with_role):
    make_piece(catalog["bottle"], title="Cold for a day", body="Text.")
    client.force_login(member_with_role(Role.VIEWER))
    html = client.get(reverse("catalog:product_detail", args=[catalog["bottle"].id])).content.decode()
    assert "Cold for a day" in html
    lamp = client.get(reverse("catalog:product_detail", args=[catalog["lamp"].id])).content.decode()
    assert "No copy for this product yet." in lamp
    assert reverse("marketing:campaign_create") not in lamp
