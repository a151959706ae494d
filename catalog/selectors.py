"""Reads for the catalog. Every function takes the merchant and never returns another merchant's rows."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from accounts.models import Merchant
from catalog.models import Category, Product, ProductImport

SEARCH_FIELDS = ("sku", "title", "brand", "description")


def product_search(*, queryset: QuerySet[Product], search: str) -> QuerySet[Product]:
    """Every word of `search` must appear (case-insensitively) in the SKU, title, brand or description."""
    for word in (search or "").split():
        match = Q()
        for name in SEARCH_FIELDS:
            match |= Q(**{f"{name}__icontains": word})
        queryset = queryset.filter(match)
    return queryset


def product_list(
    *,
    merchant: Merchant,
    search: str = "",
    category: str | None = None,
    brand: str | None = None,
    is_active: bool | None = None,
) -> QuerySet[Product]:
    """The merchant's products; `category` is a category slug, `brand` matches case-insensitively."""
    queryset = Product.objects.filter(merchant=merchant).select_related("category")
    if search:
        queryset = product_search(queryset=queryset, search=search)
    if category:
        queryset = queryset.filter(category__slug=category)
    if brand:
        queryset = queryset.filter(brand__iexact=brand)
    if is_active is not None:
        queryset = queryset.filter(is_active=is_active)
    return queryset


def product_get(*, merchant: Merchant, product_id) -> Product:
    try:
        product = product_list(merchant=merchant).filter(pk=product_id).first()
    except (TypeError, ValueError):
        product = None
    if product is None:
        raise Http404("No such product.")
    return product


def category_list(*, merchant: Merchant) -> QuerySet[Category]:
    """The merchant's categories by name, each annotated with `product_count`."""
    return (
        Category.objects.filter(merchant=merchant).annotate(product_count=Count("products")).order_by("name")
    )


def brand_list(*, merchant: Merchant) -> QuerySet:
    """Distinct non-empty brand names of the merchant's products, alphabetically."""
    return (
        Product.objects.filter(merchant=merchant)
        .exclude(brand="")
        .order_by("brand")
        .values_list("brand", flat=True)
        .distinct()
    )


def currency_list(*, merchant: Merchant) -> QuerySet:
    """The currency codes of the merchant's products, the most used first."""
    return (
        Product.objects.filter(merchant=merchant)
        .values("currency")
        .annotate(n=Count("id"))
        .order_by("-n", "currency")
        .values_list("currency", flat=True)
    )


def product_import_list(*, merchant: Merchant) -> QuerySet[ProductImport]:
    """Newest first, without the (possibly large) report; use product_import_get for one import's report."""
    return ProductImport.objects.filter(merchant=merchant).defer("report")


def product_import_get(*, merchant: Merchant, import_id) -> ProductImport:
    try:
        product_import = ProductImport.objects.filter(merchant=merchant, pk=import_id).first()
    except (TypeError, ValueError):
        product_import = None
    if product_import is None:
        raise Http404("No such import.")
    return product_import
