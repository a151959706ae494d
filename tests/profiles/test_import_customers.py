"""Customer imports into the database: create / update / unchanged, dry runs, attribute merging, reports,
audit, and bad files that write nothing."""

import json

import pytest

from accounts.models import AuditLog
from accounts.services import Actor
from profiles.import_services import customer_import
from profiles.importing import ImportFileError, ImportTooLarge
from profiles.models import Customer, ImportRun
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")

SHOPIFY = (
    "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Default Address Country Code,Total Spent,Tags\n"
    "7204,Maya,Chen,maya@example.com,yes,CA,310.50,vip\n"
    "7205,Omar,Haddad,omar@example.com,no,GB,0.00,\n"
    "7206,Bad,Email,not-an-email,yes,US,1.00,\n"
    "7207,Lo,Cale,lo@example.com,maybe,FR,2.00,\n"
)


def run_import(merchant, text: str, name="customers.csv", **kwargs) -> ImportRun:
    return customer_import(merchant=merchant, actor=ACTOR, data=text.encode(), filename=name, **kwargs)


def test_shopify_export_creates_customers_and_reports_bad_rows(merchant):
    run = run_import(merchant, SHOPIFY)
    assert run.status == ImportRun.Status.APPLIED and run.kind == ImportRun.Kind.CUSTOMERS
    assert run.total_rows == 4 and run.error_count == 2
    assert run.counts == {"created": 2, "updated": 0, "unchanged": 0}
    maya = Customer.objects.get(merchant=merchant, external_id="7204")
    assert (maya.email, maya.name, maya.country, maya.consent_marketing, maya.consent_profiling) == (
        "maya@example.com",
        "Maya Chen",
        "CA",
        True,
        True,
    )
    assert maya.attributes == {"total_spent": "310.50", "tags": "vip"}
    assert run.report["errors"] == [
        {
            "line": 4,
            "external_id": "7206",
            "errors": {"email": "'not-an-email' is not a valid email address."},
        },
        {
            "line": 5,
            "external_id": "7207",
            "errors": {"consent_marketing": "'maybe' is not yes/no; use true or false."},
        },
    ]
    assert run.report["columns"]["Accepts Email Marketing"] == "consent_marketing"
    assert [row["action"] for row in run.report["preview"]] == ["create", "create"]
    audit = AuditLog.objects.get(merchant=merchant, action="customer.import")
    assert audit.object_id == str(run.pk) and audit.changes["created"] == 2


def test_reimport_is_unchanged_and_changes_are_updates(merchant):
    run_import(merchant, SHOPIFY)
    again = run_import(merchant, SHOPIFY)
    assert again.counts == {"created": 0, "updated": 0, "unchanged": 2}
    changed = run_import(merchant, "external_id,country,attributes.tier\n7204,DE,gold\n7205,,\n8000,NL,\n")
    assert changed.counts == {"created": 1, "updated": 1, "unchanged": 1}
    maya = Customer.objects.get(merchant=merchant, external_id="7204")
    # Only the given fields change; attributes are merged; the empty cells of 7205 leave it as it was.
    assert (maya.country, maya.email, maya.attributes) == (
        "DE",
        "maya@example.com",
        {"total_spent": "310.50", "tags": "vip", "tier": "gold"},
    )
    assert Customer.objects.get(merchant=merchant, external_id="7205").country == "GB"


def test_dry_run_writes_only_the_run(merchant):
    CustomerFactory(merchant=merchant, external_id="7204", email="old@example.com")
    run = run_import(merchant, SHOPIFY, dry_run=True)
    assert run.status == ImportRun.Status.PREVIEWED and run.dry_run
    assert run.counts == {"created": 1, "updated": 1, "unchanged": 0}
    assert Customer.objects.filter(merchant=merchant).count() == 1
    assert Customer.objects.get(external_id="7204").email == "old@example.com"
    assert not AuditLog.objects.filter(action="customer.import").exists()


def test_klaviyo_json_with_mapping(merchant):
    items = [
        {
            "Email": "a@example.com",
            "Member": "m-1",
            "Locale": "pt_BR",
            "Email Marketing Consent": "SUBSCRIBED",
        },
        {"Email": "b@example.com", "Member": "m-2", "Locale": "not a locale!"},
    ]
    run = run_import(merchant, json.dumps(items), name="profiles.json", mapping={"Member": "external_id"})
    assert run.counts["created"] == 1 and run.error_count == 1
    customer = Customer.objects.get(merchant=merchant, external_id="m-1")
    # The customer service's own rules apply: locale tags are normalised, bad ones refused.
    assert (customer.locale, customer.consent_marketing) == ("pt-BR", True)
    assert run.report["errors"][0]["errors"] == {"locale": "Use a language tag such as en, en-GB or pt_BR."}


def test_a_file_without_valid_rows_is_rejected(merchant):
    run = run_import(merchant, "external_id,email\n1,nope\n")
    assert run.status == ImportRun.Status.REJECTED and run.error_count == 1
    assert not Customer.objects.exists()


def test_bad_files_write_nothing(merchant, settings):
    with pytest.raises(ImportFileError):
        run_import(merchant, "phone\n123\n")
    settings.PROFILES_IMPORT_MAX_BYTES = 10
    with pytest.raises(ImportTooLarge):
        run_import(merchant, SHOPIFY)
    assert not ImportRun.objects.exists() and not Customer.objects.exists()


def test_imports_do_not_reach_another_merchant(merchant, other_merchant):
    theirs = CustomerFactory(merchant=other_merchant, external_id="7204", email="theirs@example.com")
    run = run_import(merchant, SHOPIFY)
    assert run.counts["created"] == 2
    theirs.refresh_from_db()
    assert theirs.email == "theirs@example.com"
    assert Customer.objects.filter(merchant=other_merchant).count() == 1


def test_withdrawing_profiling_consent_in_a_file_drops_the_profile(merchant):
    from profiles.models import CustomerProfile

    customer = CustomerFactory(merchant=merchant, external_id="c-1")
    CustomerProfile.objects.create(customer=customer, merchant=merchant, frequency=3)
    run = run_import(merchant, "external_id,consent_profiling\nc-1,no\n")
    assert run.counts["updated"] == 1
    customer.refresh_from_db()
    assert customer.consent_profiling is False
    assert not CustomerProfile.objects.filter(customer=customer).exists()
