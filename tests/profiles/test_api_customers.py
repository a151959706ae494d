"""/api/v1/customers/: upsert, field errors, lookup by external id, filters, profile, export, erasure, scopes
and tenant isolation on every route."""

from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import AuditLog
from profiles.models import Customer, CustomerProfile, ErasureRecord, Event, Segment, SegmentMembership
from tests.factories import CustomerFactory, EventFactory

URL = "/api/v1/customers/"


def detail(external_id, suffix=""):
    return f"{URL}{external_id}/{suffix}"


def test_post_creates_then_updates_by_external_id(api_client, merchant):
    body = {
        "external_id": "shop-17",
        "email": "ada@example.com",
        "name": "Ada",
        "locale": "en_GB",
        "country": "United Kingdom",
        "consent_marketing": True,
        "attributes": {"vip": True, "tier": "gold"},
    }
    created = api_client.post(URL, body, format="json")
    assert created.status_code == 201, created.json()
    data = created.json()
    assert data["external_id"] == "shop-17" and data["locale"] == "en-GB"
    assert data["consent_marketing"] is True and data["consent_profiling"] is True
    assert data["rfm_segment"] is None and data["segments"] == []

    updated = api_client.post(
        URL,
        {"external_id": "shop-17", "name": "Ada L.", "attributes": {"tier": None, "city": "Leeds"}},
        format="json",
    )
    assert updated.status_code == 200
    assert updated.json()["name"] == "Ada L." and updated.json()["email"] == "ada@example.com"
    assert updated.json()["attributes"] == {"vip": True, "city": "Leeds"}
    assert Customer.objects.filter(merchant=merchant).count() == 1

    customer_audit = AuditLog.objects.filter(merchant=merchant, object_type="customer").order_by("id")
    actions = list(customer_audit.values_list("action", "changes"))
    assert [a for a, _ in actions] == ["customer.create", "customer.update"]
    # Personal values stay out of the audit log.
    assert actions[0][1]["email"] == "(set)" and actions[1][1]["name"] == ["(set)", "(set)"]

    unchanged = api_client.post(URL, {"external_id": "shop-17", "name": "Ada L."}, format="json")
    assert unchanged.status_code == 200
    assert customer_audit.count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "a@b.c"}, "external_id"),
        ({"external_id": "  "}, "external_id"),
        ({"external_id": "x" * 201}, "external_id"),
        ({"external_id": "c", "email": "not-an-email"}, "email"),
        ({"external_id": "c", "locale": "english please"}, "locale"),
        ({"external_id": "c", "consent_marketing": "maybe"}, "consent_marketing"),
        ({"external_id": "c", "attributes": ["vip"]}, "attributes"),
        ({"external_id": "c", "name": {"first": "Ada"}}, "name"),
        ({"external_id": "c", "country": "x" * 65}, "country"),
    ],
)
def test_bad_fields_are_400_with_field_errors(api_client, merchant, body, field):
    response = api_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["field_errors"]
    assert not Customer.objects.exists()


def test_a_non_object_body_is_400(api_client):
    response = api_client.post(URL, ["c"], format="json")
    assert response.status_code == 400


def test_detail_by_external_id_and_patch(api_client, merchant):
    CustomerFactory(merchant=merchant, external_id="ada@example.com", name="Ada")
    response = api_client.get(detail("ada@example.com"))
    assert response.status_code == 200 and response.json()["name"] == "Ada"
    CustomerFactory(merchant=merchant, external_id="with space")
    assert api_client.get(detail("with%20space")).status_code == 200

    patched = api_client.patch(
        detail("ada@example.com"), {"country": "FR", "external_id": "ignored"}, format="json"
    )
    assert patched.status_code == 200
    assert patched.json()["country"] == "FR" and patched.json()["external_id"] == "ada@example.com"
    bad = api_client.patch(detail("ada@example.com"), {"email": "nope"}, format="json")
    assert bad.status_code == 400 and "email" in bad.json()["field_errors"]
    # PUT upserts at the URL id, so a different id in the body is refused (see the PUT test below).
    assert api_client.put(detail("ada@example.com"), {"external_id": "x"}, format="json").status_code == 400
    assert api_client.get(detail("nobody")).status_code == 404
    assert api_client.get(detail("a%00b")).status_code == 404


def test_list_filters_ordering_and_pagination(api_client, merchant):
    ada = CustomerFactory(
        merchant=merchant, external_id="a1", name="Ada Lovelace", country="UK", consent_marketing=True
    )
    bob = CustomerFactory(
        merchant=merchant, external_id="b2", name="Bob", country="France", consent_profiling=False
    )
    CustomerFactory(merchant=merchant, external_id="c3", name="Cyd", country="uk")
    CustomerProfile.objects.create(customer=ada, merchant=merchant, rfm_segment="champions")
    CustomerProfile.objects.create(
        customer=bob, merchant=merchant, rfm_segment="champions"
    )  # refused: hidden
    vip = Segment.objects.create(merchant=merchant, name="VIP", slug="vip")
    SegmentMembership.objects.create(segment=vip, customer=ada, merchant=merchant)

    def ids(**params):
        response = api_client.get(URL, params)
        assert response.status_code == 200, response.json()
        return [c["external_id"] for c in response.json()["results"]]

    Customer.objects.filter(pk=bob.pk).update(last_seen_at=timezone.now())
    assert ids() == ["b2", "c3", "a1"]  # most recently seen first, never seen last (then newest id first)
    assert ids(search="lovelace") == ["a1"]
    assert ids(q="LOVE") == ["a1"]
    assert sorted(ids(country="UK")) == ["a1", "c3"]
    assert ids(consent_marketing="true") == ["a1"]
    assert ids(consent_profiling="false") == ["b2"]
    assert sorted(ids(rfm_segment="champions")) == ["a1", "b2"]
    assert ids(segment="vip") == ["a1"]
    assert ids(segment="nope") == []
    assert ids(ordering="name") == ["a1", "b2", "c3"]
    assert ids(ordering="-external_id") == ["c3", "b2", "a1"]
    page = api_client.get(URL, {"page_size": 2, "ordering": "name"}).json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]
    listed = {c["external_id"]: c for c in api_client.get(URL).json()["results"]}
    assert listed["a1"]["rfm_segment"] == "champions" and listed["a1"]["segments"] == ["vip"]
    assert listed["b2"]["rfm_segment"] is None
    assert api_client.get(URL, {"rfm_segment": "royalty"}).status_code == 400


def test_profile_endpoint(api_client, merchant):
    ada = CustomerFactory(merchant=merchant, external_id="ada")
    response = api_client.get(detail("ada", "profile/"))
    assert response.status_code == 404 and "No profile yet" in response.json()["message"]
    CustomerProfile.objects.create(
        customer=ada,
        merchant=merchant,
        frequency=3,
        monetary=Decimal("120.50"),
        rfm_segment="loyal",
        computed_at=timezone.now(),
    )
    profile = api_client.get(detail("ada", "profile/")).json()
    assert profile["customer"] == "ada" and profile["frequency"] == 3 and profile["monetary"] == "120.50"
    Customer.objects.filter(pk=ada.pk).update(consent_profiling=False)
    response = api_client.get(detail("ada", "profile/"))
    assert response.status_code == 404 and "refused profiling" in response.json()["message"]


def test_withdrawing_profiling_consent_drops_the_profile(api_client, merchant):
    ada = CustomerFactory(merchant=merchant, external_id="ada")
    CustomerProfile.objects.create(customer=ada, merchant=merchant)
    response = api_client.patch(detail("ada"), {"consent_profiling": False}, format="json")
    assert response.status_code == 200 and response.json()["consent_profiling"] is False
    assert not CustomerProfile.objects.filter(customer=ada).exists()
    assert AuditLog.objects.filter(merchant=merchant, action="customer.consent_withdrawn").exists()


def test_export_and_erase(api_client, merchant):
    ada = CustomerFactory(merchant=merchant, external_id="ada", email="ada@example.com")
    EventFactory(customer=ada, type="view")
    export = api_client.get(detail("ada", "export/"))
    assert export.status_code == 200
    assert export.json()["customer"]["email"] == "ada@example.com" and len(export.json()["events"]) == 1

    erased = api_client.delete(detail("ada"))
    assert erased.status_code == 200
    record = erased.json()
    assert record["deleted"]["events"] == 1 and len(record["customer_ref"]) == 64
    assert "ada" not in str(record)
    assert ErasureRecord.objects.filter(merchant=merchant).count() == 1
    assert not Customer.objects.filter(pk=ada.pk).exists() and not Event.objects.exists()
    assert api_client.get(detail("ada")).status_code == 404


def test_a_read_key_cannot_write(make_api_client, merchant):
    CustomerFactory(merchant=merchant, external_id="ada")
    reader = make_api_client(merchant, scopes=("read",))
    assert reader.get(URL).status_code == 200
    assert reader.get(detail("ada", "export/")).status_code == 200
    assert reader.post(URL, {"external_id": "new"}, format="json").status_code == 403
    assert reader.patch(detail("ada"), {"name": "x"}, format="json").status_code == 403
    assert reader.delete(detail("ada")).status_code == 403
    assert Customer.objects.filter(merchant=merchant).count() == 1


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("get", ""), ("patch", ""), ("delete", ""), ("get", "profile/"), ("get", "export/")],
)
def test_another_merchants_customer_is_404_everywhere(api_client, other_merchant, method, suffix):
    theirs = CustomerFactory(merchant=other_merchant, external_id="theirs", name="Theirs")
    CustomerProfile.objects.create(customer=theirs, merchant=other_merchant)
    response = getattr(api_client, method)(detail("theirs", suffix), {"name": "Mine"}, format="json")
    assert response.status_code == 404
    assert response.json()["message"] == "No such customer."
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"


def test_upsert_never_touches_another_merchants_customer(api_client, merchant, other_merchant):
    theirs = CustomerFactory(merchant=other_merchant, external_id="same", name="Theirs")
    assert api_client.post(URL, {"external_id": "same", "name": "Mine"}, format="json").status_code == 201
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"
    assert [c["name"] for c in api_client.get(URL).json()["results"]] == ["Mine"]


def test_put_creates_then_updates_at_the_url_id(api_client, merchant, other_merchant):
    theirs = CustomerFactory(merchant=other_merchant, external_id="put-me", name="Theirs")
    created = api_client.put(detail("put-me"), {"name": "Ada", "country": "GB"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["external_id"] == "put-me"
    updated = api_client.put(detail("put-me"), {"name": "Ada L."}, format="json")
    assert updated.status_code == 200
    customer = Customer.objects.get(merchant=merchant, external_id="put-me")
    assert (customer.name, customer.country) == ("Ada L.", "GB")
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"
    moved = api_client.put(detail("put-me"), {"external_id": "other"}, format="json")
    assert moved.status_code == 400
    assert "external_id" in moved.json()["field_errors"]
    bad = api_client.put(detail("put-me"), {"email": "not an email"}, format="json")
    assert bad.status_code == 400 and "email" in bad.json()["field_errors"]
