import pytest
from django.http import Http404

from accounts.services import Actor
from catalog.selectors import (
    brand_list,
    category_list,
    currency_list,
    product_get,
    product_import_get,
    product_import_list,
    product_list,
)
from catalog.services import product_import
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(merchant, other_merchant):
    bags = CategoryFactory(merchant=merchant, name="Bags", slug="bags")
    kitchen = CategoryFactory(merchant=merchant, name="Kitchen", slug="kitchen")
    products = {
        "tote": ProductFactory(
            merchant=merchant, sku="TOTE-1", title="Canvas tote", brand="Acme", category=bags
        ),
        "mug": ProductFactory(
            merchant=merchant,
            sku="MUG-1",
            title="Enamel mug",
            brand="Northwind",
            category=kitchen,
            description="Holds hot cocoa",
        ),
        "old": ProductFactory(merchant=merchant, sku="MUG-0", title="Old mug", brand="acme", is_active=False),
        "nobrand": ProductFactory(
            merchant=merchant, sku="X-1", title="Plain bowl", brand="", category=kitchen
        ),
    }
    products["theirs"] = ProductFactory(
        merchant=other_merchant,
        sku="MUG-9",
        title="Their mug",
        brand="Zeta",
        category=CategoryFactory(merchant=other_merchant, name="Kitchen", slug="kitchen"),
    )
    return products


def skus(queryset):
    return sorted(p.sku for p in queryset)


def test_product_list_is_limited_to_the_merchant(merchant, other_merchant, catalog):
    assert skus(product_list(merchant=merchant)) == ["MUG-0", "MUG-1", "TOTE-1", "X-1"]
    assert skus(product_list(merchant=other_merchant)) == ["MUG-9"]


def test_product_list_search_matches_every_word_in_any_field(merchant, catalog):
    assert skus(product_list(merchant=merchant, search="mug")) == ["MUG-0", "MUG-1"]
    assert skus(product_list(merchant=merchant, search="cocoa")) == ["MUG-1"]  # description
    assert skus(product_list(merchant=merchant, search="tote-1")) == ["TOTE-1"]  # sku
    assert skus(product_list(merchant=merchant, search="northwind MUG")) == ["MUG-1"]  # brand + title
    assert skus(product_list(merchant=merchant, search="mug tote")) == []


def test_product_list_filters(merchant, catalog):
    assert skus(product_list(merchant=merchant, category="kitchen")) == ["MUG-1", "X-1"]
    assert skus(product_list(merchant=merchant, brand="ACME")) == ["MUG-0", "TOTE-1"]
    assert skus(product_list(merchant=merchant, is_active=False)) == ["MUG-0"]
    assert skus(product_list(merchant=merchant, is_active=True, category="kitchen", search="bowl")) == ["X-1"]


def test_product_list_loads_categories_in_the_same_query(merchant, catalog, django_assert_num_queries):
    with django_assert_num_queries(1):
        names = [p.category and p.category.name for p in product_list(merchant=merchant)]
    assert sorted(filter(None, names)) == ["Bags", "Kitchen", "Kitchen"]


def test_product_get_answers_404_for_another_merchant_or_junk(merchant, catalog):
    assert product_get(merchant=merchant, product_id=catalog["mug"].pk) == catalog["mug"]
    for product_id in (catalog["theirs"].pk, 999_999, "abc", None):
        with pytest.raises(Http404):
            product_get(merchant=merchant, product_id=product_id)


def test_category_list_counts_products(merchant, catalog):
    assert [(c.slug, c.product_count) for c in category_list(merchant=merchant)] == [
        ("bags", 1),
        ("kitchen", 2),
    ]


def test_brand_list_is_distinct_sorted_and_skips_blank(merchant, catalog):
    ProductFactory(merchant=merchant, brand="Acme")
    brands = list(brand_list(merchant=merchant))
    assert sorted(brands) == ["Acme", "Northwind", "acme"]  # the order itself follows the database collation


def test_product_imports_are_tenant_filtered(merchant, other_merchant):
    mine = product_import(
        merchant=merchant, actor=Actor.system(), data=b"sku,title,price\nA,Mug,1\n", filename="a.csv"
    )
    theirs = product_import(
        merchant=other_merchant, actor=Actor.system(), data=b"sku,title,price\nA,Mug,1\n", filename="b.csv"
    )
    assert list(product_import_list(merchant=merchant)) == [mine]
    assert product_import_get(merchant=merchant, import_id=mine.pk).report["preview"][0]["sku"] == "A"
    with pytest.raises(Http404):
        product_import_get(merchant=merchant, import_id=theirs.pk)
    with pytest.raises(Http404):
        product_import_get(merchant=merchant, import_id="nope")


def test_currency_list_is_the_merchants_currencies_most_used_first(merchant, other_merchant):
    ProductFactory.create_batch(2, merchant=merchant, currency="EUR")
    ProductFactory.create_batch(3, merchant=merchant, currency="USD")
    ProductFactory(merchant=merchant, currency="GBP")
    ProductFactory.create_batch(5, merchant=other_merchant, currency="INR")
    assert list(currency_list(merchant=merchant)) == ["USD", "EUR", "GBP"]
    assert currency_list(merchant=merchant).first() == "USD"
