"""The Privacy page (retention form, consent figures, erasure log) and erasing a customer from the dashboard:
who may do what (everyone reads, owners act), bad input answered with the form's error, and other merchants'
customers and erasures out of sight."""

import pytest
from django.urls import reverse

from accounts.models import AuditLog, Role
from accounts.services import Actor
from profiles.models import Customer, ErasureRecord, Event, ProfileSettings
from profiles.privacy import customer_erase
from tests.factories import CustomerFactory, EventFactory

pytestmark = pytest.mark.django_db

PAGE = reverse("profiles:privacy")


def erase_url(customer) -> str:
    return reverse("profiles:customer_erase", args=[customer.pk])


def text(response) -> str:
    return response.content.decode()


@pytest.fixture
def shopper(merchant):
    customer = CustomerFactory(merchant=merchant, external_id="shopper-7f3a", email="ines@example.com")
    EventFactory(customer=customer, type="view")
    EventFactory(customer=customer, type="purchase", order_id="A-1")
    return customer


def test_anonymous_visitors_are_sent_to_log_in(client, shopper):
    for url in (PAGE, erase_url(shopper)):
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"]


def test_viewers_read_the_page_without_the_form(login, merchant):
    CustomerFactory(merchant=merchant, consent_marketing=True)
    CustomerFactory(merchant=merchant, consent_profiling=False)
    response = login(Role.VIEWER).get(PAGE)
    html = text(response)
    assert response.status_code == 200
    assert "Only owners change the retention" in html and 'data-testid="save-retention"' not in html
    assert "disabled" in html and 'value="730"' in html
    assert 'data-testid="no-erasures"' in html
    assert '<span class="stat-value" data-testid="consent-marketing">1</span>' in html
    assert '<span class="stat-value" data-testid="consent-refused">1</span>' in html


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR, Role.REVIEWER])
def test_only_owners_change_the_retention(login, merchant, role):
    response = login(role).post(PAGE, {"event_retention_days": "90"})
    assert response.status_code == 403
    assert not ProfileSettings.objects.filter(merchant=merchant).exists()


def test_owner_changes_the_retention(login, merchant):
    client = login()
    response = client.post(PAGE, {"event_retention_days": "90"})
    assert response.status_code == 302 and response["Location"] == PAGE
    assert ProfileSettings.objects.get(merchant=merchant).event_retention_days == 90
    assert AuditLog.objects.filter(merchant=merchant, action="profiles.retention").exists()
    html = text(client.get(PAGE))
    assert "Raw events are now kept for 90 days." in html and 'value="90"' in html


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("10", "greater than or equal to 30"),
        ("5000", "less than or equal to 3650"),
        ("a year", "Enter a whole number."),
        ("", "This field is required."),
    ],
)
def test_bad_retention_is_answered_with_the_field_error(login, merchant, value, error):
    response = login().post(PAGE, {"event_retention_days": value})
    assert response.status_code == 400
    assert error in text(response)
    assert not ProfileSettings.objects.filter(merchant=merchant).exists()


def test_the_erasure_log_shows_this_merchants_erasures_only(login, merchant, other_merchant):
    mine = customer_erase(
        customer=CustomerFactory(merchant=merchant), actor=Actor.system("owner@example.com")
    )
    theirs = customer_erase(
        customer=CustomerFactory(merchant=other_merchant), actor=Actor.system("them@example.com")
    )
    html = text(login(Role.VIEWER).get(PAGE))
    assert html.count('data-testid="erasure-row"') == 1
    assert mine.customer_ref[:12] in html and "owner@example.com" in html
    assert theirs.customer_ref[:12] not in html and "them@example.com" not in html


def test_erase_asks_for_confirmation_first(login, shopper):
    response = login().get(erase_url(shopper))
    html = text(response)
    assert response.status_code == 200
    assert 'data-testid="erase-form"' in html and "shopper-7f3a" in html
    assert "2 events" in html
    assert Customer.objects.filter(pk=shopper.pk).exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR, Role.REVIEWER])
def test_only_owners_erase(login, shopper, role):
    client = login(role)
    assert client.get(erase_url(shopper)).status_code == 403
    assert client.post(erase_url(shopper), {"confirm": "shopper-7f3a"}).status_code == 403
    assert Customer.objects.filter(pk=shopper.pk).exists()


def test_another_merchants_customer_is_not_found(login, other_merchant):
    stranger = CustomerFactory(merchant=other_merchant, external_id="stranger-1")
    client = login()
    assert client.get(erase_url(stranger)).status_code == 404
    assert client.post(erase_url(stranger), {"confirm": "stranger-1"}).status_code == 404
    assert Customer.objects.filter(pk=stranger.pk).exists()


def test_a_wrong_confirmation_erases_nothing(login, shopper):
    response = login().post(erase_url(shopper), {"confirm": "shopper"})
    assert response.status_code == 400
    assert "Type shopper-7f3a exactly" in text(response)
    assert Customer.objects.filter(pk=shopper.pk).exists() and Event.objects.count() == 2


def test_owner_erases_and_lands_on_the_list_with_a_message(login, merchant, shopper):
    client = login()
    response = client.post(erase_url(shopper), {"confirm": "shopper-7f3a"})
    assert response.status_code == 302 and response["Location"] == reverse("profiles:customer_list")
    assert not Customer.objects.filter(pk=shopper.pk).exists() and not Event.objects.exists()
    record = ErasureRecord.objects.get(merchant=merchant)
    assert record.requested_by == "owner@example.com" and record.deleted["events"] == 2
    html = text(client.get(response["Location"]))
    assert "The customer was erased (2 events deleted, 0 conversations anonymised)." in html
    assert "shopper-7f3a" not in html
