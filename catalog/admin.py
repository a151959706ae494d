import json

from django.contrib import admin, messages
from django.db import models
from django.db.models import Count
from django.utils.html import format_html

from accounts.services import Actor
from catalog.models import Category, Product, ProductImport
from catalog.services import product_bulk_set_active


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "merchant", "product_count", "created_at"]
    list_filter = ["merchant"]
    list_select_related = ["merchant"]
    search_fields = ["name", "slug", "merchant__name", "merchant__slug"]
    raw_id_fields = ["merchant"]
    readonly_fields = ["created_at"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(product_count=Count("products"))

    @admin.display(description="Products", ordering="product_count")
    def product_count(self, obj):
        return obj.product_count


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = [
        "sku",
        "title",
        "brand",
        "category",
        "price",
        "currency",
        "stock",
        "is_active",
        "merchant",
        "updated_at",
    ]
    list_display_links = ["sku", "title"]
    list_filter = [
        "merchant",
        "is_active",
        "currency",
        ("category", admin.RelatedOnlyFieldListFilter),
        "brand",
    ]
    list_select_related = ["merchant", "category"]
    search_fields = ["sku", "title", "brand", "merchant__name", "merchant__slug"]
    raw_id_fields = ["merchant", "category"]
    readonly_fields = ["created_at", "updated_at"]
    date_hierarchy = "updated_at"
    actions = ["activate", "deactivate"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = [
        (None, {"fields": ["merchant", "sku", "title", "brand", "category"]}),
        ("Price and stock", {"fields": ["price", "currency", "stock", "is_active"]}),
        ("Content", {"fields": ["description", "attributes", "url"]}),
        ("Timestamps", {"fields": ["created_at", "updated_at"]}),
    ]

    @admin.action(description="Activate selected products", permissions=["change"])
    def activate(self, request, queryset):
        count = product_bulk_set_active(queryset=queryset, is_active=True, actor=Actor.for_user(request.user))
        self.message_user(request, f"Activated {count} product(s).", messages.SUCCESS)

    @admin.action(description="Deactivate selected products", permissions=["change"])
    def deactivate(self, request, queryset):
        count = product_bulk_set_active(
            queryset=queryset, is_active=False, actor=Actor.for_user(request.user)
        )
        self.message_user(request, f"Deactivated {count} product(s).", messages.SUCCESS)


@admin.register(ProductImport)
class ProductImportAdmin(admin.ModelAdmin):
    """Imports are a record of what happened: viewable, never edited."""

    list_display = [
        "id",
        "filename",
        "merchant",
        "status",
        "dry_run",
        "file_format",
        "total_rows",
        "created_count",
        "updated_count",
        "unchanged_count",
        "error_count",
        "created_by_label",
        "created_at",
    ]
    list_filter = ["merchant", "status", "dry_run", "file_format"]
    list_select_related = ["merchant"]
    search_fields = ["filename", "created_by_label", "merchant__name", "merchant__slug"]
    date_hierarchy = "created_at"
    fields = [
        "merchant",
        "filename",
        "file_format",
        "status",
        "dry_run",
        "total_rows",
        "created_count",
        "updated_count",
        "unchanged_count",
        "error_count",
        "created_by_label",
        "created_at",
        "report_pretty",
    ]
    readonly_fields = fields

    @admin.display(description="Report")
    def report_pretty(self, obj):
        return format_html(
            "<pre class='pre-wrap'>{}</pre>",
            json.dumps(obj.report, indent=2, ensure_ascii=False),
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
