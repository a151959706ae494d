"""Settings › Webhooks: the endpoint list with recent deliveries, adding (with the API's URL checks shown as field
errors and the secret shown once), editing, disabling, enabling and deleting; roles, and another merchant's
endpoints answering 404."""

import pytest
from django.urls import reverse

from accounts.models import AuditLog, Role
from accounts.services import Actor
from marketing.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from marketing.publishing.services import webhook_endpoint_create

pytestmark = pytest.mark.django_db

PAGE = reverse("marketing:webhooks")
PUBLIC_URL = "https://8.8.8.8/storyfront"  # an address literal: no DNS lookup, and public


@pytest.fixture(autouse=True)
def private_refused(settings):
    settings.OUTBOUND_ALLOW_PRIVATE = False  # the default; explicit so an install's env cannot change it here


def make_endpoint(merchant, url=PUBLIC_URL, **fields):
    endpoint, _ = webhook_endpoint_create(merchant=merchant, actor=Actor.system("test"), url=url, **fields)
    return endpoint


def make_delivery(endpoint, n, **fields):
    return WebhookDelivery.objects.create(
        merchant=endpoint.merchant,
        endpoint=endpoint,
        event=WebhookEvent.CONTENT_PUBLISHED,
        idempotency_key=f"key-{endpoint.pk}-{n}",
        payload={"n": n},
        **fields,
    )


def test_page_lists_endpoints_with_their_recent_deliveries(login, merchant, other_merchant):
    hook = make_endpoint(merchant, description="Storefront sync", events=[WebhookEvent.CONTENT_PUBLISHED])
    make_delivery(hook, 1, status="delivered", status_code=200, attempts=1)
    make_delivery(
        hook,
        2,
        status="retrying",
        status_code=503,
        attempts=3,
        response_excerpt="Service Unavailable: try later",
    )
    make_delivery(hook, 3, status="failed", attempts=8, response_excerpt="connection refused by receiver")
    make_endpoint(other_merchant, url="https://1.1.1.1/contoso-secret-hook")

    response = login().get(PAGE)

    assert response.status_code == 200
    html = response.content.decode()
    assert PUBLIC_URL in html and "Storefront sync" in html
    assert "content.published" in html
    for text in ("Delivered", "Retrying", "Failed", "Service Unavailable: try later", "connection refused"):
        assert text in html
    assert "<td>503</td>" in html and "<td>8</td>" in html
    assert "contoso-secret-hook" not in html
    assert hook.secret not in html  # shown once, at creation only
    assert 'aria-current="page"' in html and '<span class="nav-label">Webhooks</span>' in html


def test_only_the_newest_deliveries_are_listed_and_the_page_costs_a_fixed_number_of_queries(
    login, merchant, django_assert_max_num_queries
):
    client = login()
    hooks = [make_endpoint(merchant, url=f"https://8.8.8.{n}/hook") for n in range(1, 4)]
    for hook in hooks:
        for n in range(8):
            make_delivery(hook, n, response_excerpt=f"error {hook.pk}-{n}", status="failed")
    client.get(PAGE)  # session and membership lookups warm up
    with django_assert_max_num_queries(8):
        html = client.get(PAGE).content.decode()
    assert html.count('data-testid="webhook-endpoint"') == 3
    for hook in hooks:
        newest = WebhookDelivery.objects.filter(endpoint=hook).order_by("-created_at", "-id")
        shown = [d.response_excerpt for d in newest[:5]]
        hidden = [d.response_excerpt for d in newest[5:]]
        assert all(f">{text}<" in html for text in shown)
        assert not any(f">{text}<" in html for text in hidden)


def test_no_endpoints_says_what_the_page_is_for(login):
    html = login().get(PAGE).content.decode()
    assert "No webhook endpoints yet" in html
    assert 'data-testid="webhook-add-form"' in html


def test_owner_adds_an_endpoint_and_sees_its_secret_once(login, merchant):
    client = login()
    response = client.post(
        reverse("marketing:webhook_create"),
        {"url": PUBLIC_URL, "description": "ERP", "events": [WebhookEvent.CONTENT_UNPUBLISHED]},
    )
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get(merchant=merchant)
    assert (endpoint.url, endpoint.description, endpoint.events, endpoint.active) == (
        PUBLIC_URL,
        "ERP",
        [WebhookEvent.CONTENT_UNPUBLISHED],
        True,
    )
    assert endpoint.secret.startswith("whsec_") and endpoint.secret in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    assert AuditLog.objects.filter(merchant=merchant, action="webhook.create").count() == 1
    assert endpoint.secret not in client.get(PAGE).content.decode()


REFUSED = [
    ("http://127.0.0.1:6379/", "127.0.0.1 is a loopback address"),
    ("http://localhost:8000/hook", "localhost resolves to"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
    ("http://10.0.0.7/hook", "10.0.0.7 is a private address"),
    ("ftp://8.8.8.8/hook", "only http and https URLs are allowed"),
    ("not a url at all", "Enter a valid URL."),
    ("http://2130706433/", "Enter a valid URL."),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED, ids=[u for u, _ in REFUSED])
def test_refused_urls_are_field_errors_and_nothing_is_saved(login, url, reason):
    response = login().post(reverse("marketing:webhook_create"), {"url": url, "description": "x"})
    assert response.status_code == 400
    form = response.context["create_form"]
    assert list(form.errors) == ["url"]
    assert reason in form.errors["url"][0]
    html = response.content.decode()
    assert 'class="field-error" id="id_url_error"' in html and reason in html
    assert not WebhookEndpoint.objects.exists()


def test_private_urls_are_accepted_where_the_install_allows_them(login, settings, merchant):
    settings.OUTBOUND_ALLOW_PRIVATE = True
    response = login().post(reverse("marketing:webhook_create"), {"url": "http://10.0.0.7/hook"})
    assert response.status_code == 200
    assert WebhookEndpoint.objects.filter(merchant=merchant, url="http://10.0.0.7/hook").exists()


def test_unknown_events_and_long_descriptions_are_refused(login):
    response = login().post(
        reverse("marketing:webhook_create"),
        {"url": PUBLIC_URL, "events": ["content.deleted"], "description": "d" * 201},
    )
    assert response.status_code == 400
    assert set(response.context["create_form"].errors) == {"events", "description"}
    assert not WebhookEndpoint.objects.exists()


def test_owner_edits_an_endpoint(login, merchant):
    hook = make_endpoint(merchant)
    prefix = f"endpoint-{hook.pk}"
    response = login().post(
        reverse("marketing:webhook_edit", args=[hook.pk]),
        {f"{prefix}-url": "https://1.1.1.1/new", f"{prefix}-description": "Moved", f"{prefix}-events": []},
    )
    assert response.status_code == 302 and response["Location"].endswith(f"#endpoint-{hook.pk}")
    hook.refresh_from_db()
    assert (hook.url, hook.description, hook.events) == ("https://1.1.1.1/new", "Moved", [])
    assert AuditLog.objects.filter(merchant=merchant, action="webhook.update").exists()


def test_an_endpoint_cannot_be_repointed_inside(login, merchant):
    hook = make_endpoint(merchant)
    prefix = f"endpoint-{hook.pk}"
    response = login().post(
        reverse("marketing:webhook_edit", args=[hook.pk]),
        {f"{prefix}-url": "http://169.254.169.254/latest/", f"{prefix}-description": ""},
    )
    assert response.status_code == 400
    assert response.context["editing_id"] == hook.pk
    html = response.content.decode()
    assert "cloud metadata address" in html
    assert f'id="id_{prefix}-url_error"' in html
    hook.refresh_from_db()
    assert hook.url == PUBLIC_URL


def test_owner_disables_enables_and_deletes_an_endpoint(login, merchant):
    client = login()
    hook = make_endpoint(merchant)
    make_delivery(hook, 1, status="failed")
    toggle = reverse("marketing:webhook_toggle", args=[hook.pk])

    assert client.post(toggle, {"active": "0"}).status_code == 302
    hook.refresh_from_db()
    assert hook.active is False
    assert "Disabled" in client.get(PAGE).content.decode()
    assert client.post(toggle, {"active": "1"}).status_code == 302
    hook.refresh_from_db()
    assert hook.active is True
    assert client.post(toggle, {"active": "maybe"}).status_code == 400

    response = client.post(reverse("marketing:webhook_delete", args=[hook.pk]))
    assert response.status_code == 302 and response["Location"] == PAGE
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()
    assert AuditLog.objects.filter(merchant=merchant, action="webhook.delete").exists()


@pytest.mark.parametrize("role", [Role.EDITOR, Role.REVIEWER, Role.VIEWER])
def test_other_roles_see_endpoints_but_cannot_change_them(login, merchant, role):
    client = login(role)
    hook = make_endpoint(merchant)
    html = client.get(PAGE).content.decode()
    assert PUBLIC_URL in html
    assert "Only owners can add, change or delete webhook endpoints." in html
    assert 'data-testid="webhook-add-form"' not in html and 'data-testid="webhook-edit-form"' not in html
    assert client.post(reverse("marketing:webhook_create"), {"url": "https://1.1.1.1/x"}).status_code == 403
    assert (
        client.post(reverse("marketing:webhook_toggle", args=[hook.pk]), {"active": "0"}).status_code == 403
    )
    assert client.post(reverse("marketing:webhook_delete", args=[hook.pk])).status_code == 403
    assert list(WebhookEndpoint.objects.values_list("url", "active")) == [(PUBLIC_URL, True)]


def test_another_merchants_endpoint_answers_404(login, other_merchant):
    client = login()
    theirs = make_endpoint(other_merchant)
    prefix = f"endpoint-{theirs.pk}"
    for name, data in (
        ("marketing:webhook_edit", {f"{prefix}-url": "https://1.1.1.1/mine"}),
        ("marketing:webhook_toggle", {"active": "0"}),
        ("marketing:webhook_delete", {}),
    ):
        assert client.post(reverse(name, args=[theirs.pk]), data).status_code == 404, name
    theirs.refresh_from_db()
    assert (theirs.url, theirs.active) == (PUBLIC_URL, True)
    assert PUBLIC_URL not in client.get(PAGE).content.decode()


def test_pages_need_a_login(client):
    assert client.get(PAGE).status_code == 302
