"""Login and logout pages."""

from django.urls import reverse


def test_dashboard_requires_login(client, db):
    for name in (
        "dashboard:home",
        "dashboard:settings",
        "dashboard:campaigns",
        "catalog:product_list",
        "catalog:import",
        "catalog:import_list",
    ):
        response = client.get(reverse(name))
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("accounts:login") + "?next=")


def test_login_page_renders_styled_form(client, db):
    response = client.get(reverse("accounts:login"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Log in to your dashboard" in html
    assert 'autocomplete="username"' in html
    assert "/static/css/app.css" in html
    assert "https://" not in html  # nothing from a CDN


def test_login_with_good_credentials_lands_on_overview(client, owner, merchant):
    response = client.post(
        reverse("accounts:login"),
        {"username": "owner@example.com", "password": "pw-Storyfront-1"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("dashboard:home")
    assert merchant.name in response.content.decode()


def test_login_with_bad_password_shows_error(client, owner):
    response = client.post(reverse("accounts:login"), {"username": "owner@example.com", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_logout_is_post_only(client, owner):
    client.force_login(owner)
    assert client.get(reverse("accounts:logout")).status_code == 405
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login")
    assert client.get(reverse("dashboard:home")).status_code == 302
