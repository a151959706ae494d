from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models

from accounts.models import Merchant


class Category(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="categories")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"
        constraints = [
            models.UniqueConstraint(fields=["merchant", "slug"], name="uniq_category_merchant_slug")
        ]

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="products")
    sku = models.CharField("SKU", max_length=100)
    title = models.CharField(max_length=500)
    brand = models.CharField(max_length=200, blank=True)
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="products"
    )
    price = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0"))])
    currency = models.CharField(max_length=3, default="USD")
    attributes = models.JSONField(default=dict, blank=True)
    description = models.TextField(blank=True)
    url = models.URLField(max_length=1000, blank=True)
    stock = models.IntegerField(null=True, blank=True, validators=[MinValueValidator(0)])
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "sku"], name="uniq_product_merchant_sku"),
            models.CheckConstraint(condition=models.Q(price__gte=0), name="product_price_non_negative"),
        ]
        indexes = [
            models.Index(fields=["merchant", "title"]),
            models.Index(fields=["merchant", "brand"]),
            models.Index(fields=["merchant", "-updated_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.sku})"

    @property
    def in_stock(self) -> bool:
        return self.stock is None or self.stock > 0


class ProductImport(models.Model):
    """One import run: the file's name and format, the mode, and the per-row report."""

    class Status(models.TextChoices):
        PREVIEWED = "previewed", "Previewed (dry run)"
        APPLIED = "applied", "Applied"
        REJECTED = "rejected", "Rejected"

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="product_imports")
    filename = models.CharField(max_length=255, blank=True)
    file_format = models.CharField(max_length=8)
    status = models.CharField(max_length=16, choices=Status.choices)
    dry_run = models.BooleanField(default=False)
    total_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    # Rows whose values equal the stored product's: reported, not rewritten.
    unchanged_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)
    created_by_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.filename or 'import'} ({self.status})"
