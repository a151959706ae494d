from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from accounts.models import Membership, Merchant, Role
from catalog.models import Category, Product


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}@example.com")
    email = factory.LazyAttribute(lambda o: o.username)
    password = factory.django.Password("pw-Storyfront-1")


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    name = factory.Sequence(lambda n: f"Merchant {n}")
    slug = factory.Sequence(lambda n: f"merchant-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    merchant = factory.SubFactory(MerchantFactory)
    role = Role.OWNER


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    merchant = factory.SubFactory(MerchantFactory)
    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    merchant = factory.SubFactory(MerchantFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    title = factory.Sequence(lambda n: f"Trail bottle {n}")
    brand = "Northwind"
    price = Decimal("24.90")
    currency = "USD"
    attributes = factory.LazyFunction(lambda: {"material": "stainless steel", "capacity": "750 ml"})
    description = "Insulated bottle that keeps drinks cold for 24 hours."
    stock = 12


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "profiles.Customer"

    merchant = factory.SubFactory(MerchantFactory)
    external_id = factory.Sequence(lambda n: f"cust-{n}")
    email = factory.LazyAttribute(lambda o: f"{o.external_id}@example.com")
    name = factory.Sequence(lambda n: f"Customer {n}")


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "profiles.Event"

    merchant = factory.LazyAttribute(lambda o: o.customer.merchant)
    customer = factory.SubFactory(CustomerFactory)
    type = "view"
    occurred_at = factory.LazyFunction(lambda: __import__("django.utils.timezone").utils.timezone.now())
