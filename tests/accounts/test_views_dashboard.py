"""Overview page, merchant switcher and the placeholder areas."""

import pytest
from django.urls import reverse

from accounts.middleware import SESSION_KEY
from accounts.models import Role
from accounts.services import Actor, audit_record
from tests.factories import CategoryFactory, MembershipFactory, MerchantFactory, ProductFactory, UserFactory


def test_overview_shows_current_merchant_counts_and_activity(client, owner, merchant, other_merchant):
    bottles = CategoryFactory(merchant=merchant, name="Bottles", slug="bottles")
    ProductFactory.create_batch(3, merchant=merchant, category=bottles)
    ProductFactory.create_batch(5, merchant=other_merchant)
    audit_record(
        merchant=merchant, actor=Actor.for_user(owner), action="product.update", summary="Trail bottle"
    )
    audit_record(merchant=other_merchant, actor=Actor.system(), action="secret.other.merchant")
    client.force_login(owner)

    response = client.get(reverse("dashboard:home"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Northwind Outfitters" in html
    assert 'data-testid="stat-products">3<' in html
    assert "Bottles" in html
    assert "product.update" in html
    assert "secret.other.merchant" not in html
    assert "Your catalog is empty" not in html


def test_empty_catalog_points_editors_at_import(client, owner, member_with_role):
    client.force_login(owner)
    html = client.get(reverse("dashboard:home")).content.decode()
    assert "Your catalog is empty" in html
    assert reverse("catalog:import") in html

    client.force_login(member_with_role(Role.VIEWER))
    html = client.get(reverse("dashboard:home")).content.decode()
    assert "Your catalog is empty" in html
    assert "ask an editor or owner" in html
    assert f'href="{reverse("catalog:import")}"' not in html


def test_navigation_lists_every_area(client, owner):
    client.force_login(owner)
    html = client.get(reverse("dashboard:home")).content.decode()
    for label in ("Catalog", "Campaigns", "Review", "Chat", "Customers", "Insights", "Models", "Settings"):
        assert f'<span class="nav-label">{label}</span>' in html


@pytest.mark.parametrize("area", ["insights"])
def test_unbuilt_areas_say_so(client, owner, area):
    client.force_login(owner)
    response = client.get(reverse(f"dashboard:{area}"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Not built yet" in html
    assert 'aria-current="page"' in html


def test_user_with_two_merchants_can_switch(client, owner, merchant, other_merchant):
    MembershipFactory(user=owner, merchant=other_merchant, role=Role.VIEWER)
    client.force_login(owner)
    # With no choice made yet, the first membership by merchant name is current.
    html = client.get(reverse("dashboard:home")).content.decode()
    assert client.session[SESSION_KEY] == other_merchant.id
    assert 'data-testid="merchant-switcher"' in html
    assert f'name="merchant_id" value="{merchant.id}"' in html

    response = client.post(reverse("dashboard:switch_merchant"), {"merchant_id": merchant.id}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("dashboard:home")
    assert client.session[SESSION_KEY] == merchant.id
    html = response.content.decode()
    assert "Switched to Northwind Outfitters." in html
    assert "<h1>Northwind Outfitters</h1>" in html
    # The choice sticks across requests.
    assert "<h1>Northwind Outfitters</h1>" in client.get(reverse("dashboard:home")).content.decode()


def test_switch_to_a_merchant_you_do_not_belong_to_is_404(client, owner, merchant, other_merchant):
    client.force_login(owner)
    response = client.post(reverse("dashboard:switch_merchant"), {"merchant_id": other_merchant.id})
    assert response.status_code == 404
    assert client.session[SESSION_KEY] == merchant.id


@pytest.mark.parametrize("value", ["", "abc", "999999"])
def test_switch_with_junk_id_is_404(client, owner, value):
    client.force_login(owner)
    assert client.post(reverse("dashboard:switch_merchant"), {"merchant_id": value}).status_code == 404


def test_switch_is_post_only(client, owner):
    client.force_login(owner)
    assert client.get(reverse("dashboard:switch_merchant")).status_code == 405


def test_a_forged_session_merchant_falls_back_to_a_real_membership(client, owner, merchant, other_merchant):
    client.force_login(owner)
    session = client.session
    session[SESSION_KEY] = other_merchant.id
    session.save()
    html = client.get(reverse("dashboard:home")).content.decode()
    assert "Northwind Outfitters" in html
    assert "Contoso Goods" not in html


def test_user_without_merchant_gets_explanation(client, db):
    user = UserFactory(username="lonely@example.com")
    client.force_login(user)
    response = client.get(reverse("dashboard:home"))
    assert response.status_code == 403
    assert "not a member of any merchant" in response.content.decode()


def test_inactive_merchant_is_not_offered(client, owner):
    closed = MerchantFactory(name="Closed Shop", is_active=False)
    MembershipFactory(user=owner, merchant=closed, role=Role.OWNER)
    client.force_login(owner)
    html = client.get(reverse("dashboard:home")).content.decode()
    assert "Closed Shop" not in html
    assert client.post(reverse("dashboard:switch_merchant"), {"merchant_id": closed.id}).status_code == 404


def test_404_page_uses_the_dashboard_style(client, owner):
    client.force_login(owner)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html
    assert "/static/css/app.css" in html


def test_500_page_renders_without_a_request_context():
    # Django renders 500.html with an empty context; it must not depend on the request or a user.
    from django.template import loader

    html = loader.get_template("500.html").render()
    assert "Something went wrong" in html
    assert "/static/css/app.css" in html


def test_403_page_says_why(client, member_with_role):
    client.force_login(member_with_role(Role.VIEWER))
    response = client.get(reverse("catalog:import"))
    assert response.status_code == 403
    html = response.content.decode()
    assert "Your role (viewer) cannot edit here." in html
    assert '<span class="nav-label">Catalog</span>' in html  # shown inside the dashboard shell
