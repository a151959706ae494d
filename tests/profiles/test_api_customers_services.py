"""profiles.services, which the customers API and the importers write through: upserts one at a time and in
bulk, attribute merging, consent withdrawal, audit entries."""

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AuditLog
from accounts.services import Actor
from profiles.models import Customer, CustomerProfile, Segment, SegmentMembership
from profiles.services import customer_fields_clean, customer_upsert, customers_upsert_many
from tests.factories import CustomerFactory

ACTOR = Actor.system("test")


def test_customer_upsert_creates_updates_and_validates(merchant):
    customer, created = customer_upsert(merchant=merchant, actor=ACTOR, external_id=" 17 ", email="A@b.co")
    assert created and customer.external_id == "17" and customer.email == "A@b.co"
    same, created = customer_upsert(merchant=merchant, actor=ACTOR, external_id=17, name="Ada")
    assert not created and same.pk == customer.pk and same.name == "Ada" and same.email == "A@b.co"
    with pytest.raises(ValidationError) as exc:
        customer_upsert(
            merchant=merchant, actor=ACTOR, external_id="17", email="nope", consent_marketing="perhaps"
        )
    assert set(exc.value.message_dict) == {"email", "consent_marketing"}
    with pytest.raises(ValidationError) as exc:
        customer_upsert(merchant=merchant, actor=ACTOR, external_id="17", favourite_colour="red")
    assert exc.value.message_dict == {"favourite_colour": ["Unknown customer field."]}


def test_fields_clean_normalises_what_imports_send():
    clean, errors = customer_fields_clean(
        {"consent_marketing": "yes", "consent_profiling": 0, "locale": "pt_BR", "attributes": None}
    )
    assert errors == {}
    assert clean == {
        "consent_marketing": True,
        "consent_profiling": False,
        "locale": "pt-BR",
        "attributes": {},
    }


def test_withdrawing_consent_in_a_single_upsert_drops_profile_and_memberships(merchant):
    ada = CustomerFactory(merchant=merchant, external_id="ada")
    CustomerProfile.objects.create(customer=ada, merchant=merchant)
    segment = Segment.objects.create(merchant=merchant, name="All", slug="all", member_count=1)
    SegmentMembership.objects.create(segment=segment, customer=ada, merchant=merchant)
    customer_upsert(merchant=merchant, actor=ACTOR, external_id="ada", consent_profiling=False)
    assert not CustomerProfile.objects.filter(customer=ada).exists()
    assert not SegmentMembership.objects.filter(customer=ada).exists()
    segment.refresh_from_db()
    assert segment.member_count == 0


def test_upsert_many_counts_merges_and_audits_once(merchant, other_merchant):
    CustomerFactory(merchant=merchant, external_id="a", name="A", attributes={"tier": "gold", "city": "Oslo"})
    CustomerFactory(merchant=merchant, external_id="b", name="B")
    theirs = CustomerFactory(merchant=other_merchant, external_id="c", name="Theirs")
    rows = [
        {"external_id": "a", "attributes": {"tier": None, "vip": True}},
        {"external_id": "b", "name": "B"},
        {"external_id": "c", "name": "C", "consent_marketing": True},
        {"external_id": "d", "name": "first"},
        {"external_id": "d", "email": "d@example.com"},
    ]
    counts = customers_upsert_many(merchant=merchant, actor=ACTOR, rows=rows)
    assert counts == {"created": 2, "updated": 1, "unchanged": 1}
    mine = {c.external_id: c for c in Customer.objects.filter(merchant=merchant)}
    assert mine["a"].attributes == {"city": "Oslo", "vip": True}
    assert (mine["d"].name, mine["d"].email) == ("first", "d@example.com")
    assert mine["c"].consent_marketing and mine["c"].name == "C"
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"
    audit = AuditLog.objects.filter(merchant=merchant, action="customer.upsert_many")
    assert list(audit.values_list("changes", flat=True)) == [counts]

    assert customers_upsert_many(merchant=merchant, actor=ACTOR, rows=rows[1:2], audit=False) == {
        "created": 0,
        "updated": 0,
        "unchanged": 1,
    }
    assert audit.count() == 1


def test_upsert_many_withdrawing_consent_drops_profiles(merchant):
    ada = CustomerFactory(merchant=merchant, external_id="ada")
    CustomerProfile.objects.create(customer=ada, merchant=merchant)
    customers_upsert_many(
        merchant=merchant, actor=ACTOR, rows=[{"external_id": "ada", "consent_profiling": False}]
    )
    assert not CustomerProfile.objects.filter(customer=ada).exists()
    assert AuditLog.objects.filter(merchant=merchant, action="customer.consent_withdrawn").count() == 1
