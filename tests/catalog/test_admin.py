import pytest
from django.urls import reverse

from accounts.models import AuditLog
from accounts.services import Actor
from catalog.models import Product
from catalog.services import product_import
from tests.factories import CategoryFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = UserFactory(username="root@example.com", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


@pytest.fixture
def objects(merchant, other_merchant):
    kitchen = CategoryFactory(merchant=merchant, name="Kitchen", slug="kitchen")
    mug = ProductFactory(merchant=merchant, sku="MUG-1", title="Enamel mug", category=kitchen)
    ProductFactory(merchant=other_merchant, sku="ZETA-9", title="Zeta lamp")
    imported = product_import(
        merchant=merchant,
        actor=Actor.system("test"),
        data=b"sku,title,price\nBOWL-1,<b>Bowl</b>,3\n",
        filename="bowls.csv",
    )
    return {"category": kitchen, "product": mug, "import": imported}


@pytest.mark.parametrize("model", ["category", "product", "productimport"])
def test_changelist_and_change_pages_load(admin_client, objects, model):
    obj = objects[{"productimport": "import"}.get(model, model)]
    changelist = admin_client.get(reverse(f"admin:catalog_{model}_changelist"))
    assert changelist.status_code == 200
    change = admin_client.get(reverse(f"admin:catalog_{model}_change", args=[obj.pk]))
    assert change.status_code == 200


def test_product_search_and_merchant_filter(admin_client, objects, merchant, other_merchant):
    url = reverse("admin:catalog_product_changelist")
    found = admin_client.get(url, {"q": "enamel"}).content.decode()
    assert "MUG-1" in found and "ZETA-9" not in found
    by_merchant = admin_client.get(url, {"merchant__id__exact": other_merchant.pk}).content.decode()
    assert "ZETA-9" in by_merchant and "MUG-1" not in by_merchant


def test_category_and_import_search(admin_client, objects):
    assert (
        "Kitchen"
        in admin_client.get(reverse("admin:catalog_category_changelist"), {"q": "kitch"}).content.decode()
    )
    page = admin_client.get(
        reverse("admin:catalog_productimport_changelist"), {"q": "bowls"}
    ).content.decode()
    assert "bowls.csv" in page
    assert (
        "bowls.csv"
        not in admin_client.get(
            reverse("admin:catalog_productimport_changelist"), {"q": "nothing-like-it"}
        ).content.decode()
    )


def test_import_admin_is_read_only_and_escapes_the_report(admin_client, objects):
    assert admin_client.get(reverse("admin:catalog_productimport_add")).status_code == 403
    page = admin_client.get(reverse("admin:catalog_productimport_change", args=[objects["import"].pk]))
    html = page.content.decode()
    assert "&lt;b&gt;Bowl&lt;/b&gt;" in html and "<b>Bowl</b>" not in html
    assert 'name="_save"' not in html
    response = admin_client.post(
        reverse("admin:catalog_productimport_change", args=[objects["import"].pk]),
        {"filename": "changed.csv"},
    )
    assert response.status_code == 403
    objects["import"].refresh_from_db()
    assert objects["import"].filename == "bowls.csv"


def test_deactivate_action_goes_through_the_audited_service(admin_client, objects, merchant):
    response = admin_client.post(
        reverse("admin:catalog_product_changelist"),
        {"action": "deactivate", "_selected_action": [objects["product"].pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert Product.objects.get(pk=objects["product"].pk).is_active is False
    entry = AuditLog.objects.get(action="product.deactivate")
    assert (entry.merchant, entry.actor_label) == (merchant, "root@example.com")
