"""Query-string filters for product lists (the API; the dashboard can reuse them)."""

from django_filters import rest_framework as filters

from catalog.models import Product
from catalog.selectors import product_search


class ProductFilter(filters.FilterSet):
    search = filters.CharFilter(
        method="filter_search", label="Words that must all appear in the SKU, title, brand or description."
    )
    brand = filters.CharFilter(field_name="brand", lookup_expr="iexact", label="Brand (case-insensitive).")
    category = filters.CharFilter(field_name="category__slug", label="Category slug.")
    is_active = filters.BooleanFilter(field_name="is_active")
    min_price = filters.NumberFilter(field_name="price", lookup_expr="gte", label="Price at least.")
    max_price = filters.NumberFilter(field_name="price", lookup_expr="lte", label="Price at most.")
    currency = filters.CharFilter(
        field_name="currency", lookup_expr="iexact", label="3-letter currency code."
    )

    class Meta:
        model = Product
        fields = ["search", "brand", "category", "is_active", "min_price", "max_price", "currency"]

    def filter_search(self, queryset, name, value):
        return product_search(queryset=queryset, search=value)
