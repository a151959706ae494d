"""Segment services: create/update/delete (slugs, built-ins, audit, recompute queued on commit), the built-in RFM
segments, and the worker's membership diff."""

import pytest
from django.utils import timezone

from accounts.models import AuditLog
from accounts.services import Actor
from profiles.models import CustomerProfile, Segment, SegmentMembership
from profiles.segments import (
    SegmentInvalid,
    customer_segments,
    ensure_builtin_segments,
    recompute_segments,
    segment_create,
    segment_delete,
    segment_members,
    segment_update,
)
from profiles.tasks import recompute_segments_task
from tests.profiles.segment_helpers import customer, ids

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")
GB = [{"field": "country", "op": "in", "value": ["GB"]}]


def members(segment):
    return sorted(
        SegmentMembership.objects.filter(segment=segment).values_list("customer__external_id", flat=True)
    )


@pytest.fixture
def shoppers(merchant):
    return {
        "ann": customer(merchant, "ann", country="GB"),
        "bob": customer(merchant, "bob", country="GB"),
        "cat": customer(merchant, "cat", country="FR"),
    }


def test_create_counts_members_audits_and_queues_a_recompute(
    merchant, shoppers, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        segment = segment_create(merchant=merchant, actor=ACTOR, name="  UK shoppers ", rules=GB)
    assert (segment.name, segment.slug, segment.kind, segment.match) == (
        "UK shoppers",
        "uk-shoppers",
        "custom",
        "all",
    )
    assert segment.rules == GB and segment.member_count == 2 and segment.computed_at is None
    assert len(callbacks) == 1  # the recompute task, queued once the segment is committed
    log = AuditLog.objects.get(action="segment.create")
    assert log.merchant == merchant and log.object_id == str(segment.pk)
    assert log.changes["rules"] == ["Country is any of GB"] and log.changes["members"] == 2
    # Until the worker ran, members come from the live query.
    assert ids(segment_members(segment=segment)) == ["ann", "bob"]
    recompute_segments_task(segment_id=segment.pk)
    segment.refresh_from_db()
    assert members(segment) == ["ann", "bob"] and segment.computed_at is not None


def test_rules_are_normalised_when_saved(merchant):
    segment = segment_create(
        merchant=merchant,
        actor=ACTOR,
        name="Engaged",
        match="any",
        rules=[
            {"field": "r_score", "op": "gte", "value": "4"},
            {"field": "consent_marketing", "value": "yes"},
            {"field": "country", "op": "in", "value": "GB, de"},
        ],
    )
    assert segment.rules == [
        {"field": "r_score", "op": "gte", "value": 4},
        {"field": "consent_marketing", "op": "eq", "value": True},
        {"field": "country", "op": "in", "value": ["GB", "de"]},
    ]


def test_slugs_are_unique_per_merchant_and_never_reserved(merchant, other_merchant):
    first = segment_create(merchant=merchant, actor=ACTOR, name="VIP", rules=GB)
    second = segment_create(merchant=merchant, actor=ACTOR, name="VIP", rules=GB)
    elsewhere = segment_create(merchant=other_merchant, actor=ACTOR, name="VIP", rules=GB)
    assert (first.slug, second.slug, elsewhere.slug) == ("vip", "vip-2", "vip")
    assert segment_create(merchant=merchant, actor=ACTOR, name="New", rules=GB).slug == "new-2"
    assert segment_create(merchant=merchant, actor=ACTOR, name="!!!", rules=GB).slug == "segment"
    for slug, message in [("vip", "already has"), ("preview", "reserved"), ("Not A Slug", "lowercase")]:
        with pytest.raises(SegmentInvalid) as caught:
            segment_create(merchant=merchant, actor=ACTOR, name="x", rules=GB, slug=slug)
        assert message in caught.value.errors["slug"][0]


def test_create_reports_every_problem_at_once(merchant):
    with pytest.raises(SegmentInvalid) as caught:
        segment_create(
            merchant=merchant,
            actor=ACTOR,
            name=" ",
            description="d" * 501,
            match="most",
            rules=[{"field": "r_score", "op": "gte", "value": 4}, {"field": "nope"}],
        )
    errors = caught.value.errors
    assert set(errors) == {"name", "description", "match", "rules"}
    assert list(errors["rules"]) == [1]
    assert caught.value.message_dict["rules"][0].startswith("Condition 2: Unknown field.")
    assert not Segment.objects.exists()


def test_update_changes_rules_recounts_and_requeues(merchant, shoppers, django_capture_on_commit_callbacks):
    segment = segment_create(merchant=merchant, actor=ACTOR, name="UK", rules=GB)
    recompute_segments(segment_id=segment.pk)
    with django_capture_on_commit_callbacks() as callbacks:
        segment = segment_update(
            segment=segment, actor=ACTOR, rules=[{"field": "country", "op": "in", "value": ["FR"]}]
        )
    assert segment.member_count == 1 and len(callbacks) == 1
    # Stored memberships are stale now: readers get the live query.
    assert members(segment) == ["ann", "bob"] and ids(segment_members(segment=segment)) == ["cat"]
    assert recompute_segments(segment_id=segment.pk) == 3  # one added, two removed
    assert members(segment) == ["cat"]
    with django_capture_on_commit_callbacks() as callbacks:
        segment_update(segment=segment, actor=ACTOR, name="France")
    assert callbacks == []  # no rule change, no recompute
    log = AuditLog.objects.filter(action="segment.update").latest("id")
    assert log.changes == {"name": "France"}


def test_update_refuses_bad_values_and_unknown_fields(merchant):
    segment = segment_create(merchant=merchant, actor=ACTOR, name="UK", rules=GB)
    with pytest.raises(SegmentInvalid) as caught:
        segment_update(segment=segment, actor=ACTOR, match="any", rules=[])
    assert caught.value.errors == {"rules": ["Add at least one condition."]}
    with pytest.raises(TypeError):
        segment_update(segment=segment, actor=ACTOR, kind="builtin")
    segment.refresh_from_db()
    assert segment.match == "all" and segment.rules == GB


def test_builtins_keep_their_rules_and_cannot_be_deleted(merchant):
    assert ensure_builtin_segments(merchant=merchant) == 5
    assert ensure_builtin_segments(merchant=merchant) == 0
    builtins = Segment.objects.filter(merchant=merchant, kind="builtin")
    assert sorted(builtins.values_list("slug", flat=True)) == [
        "at-risk",
        "champions",
        "hibernating",
        "loyal",
        "new-customers",
    ]
    champions = builtins.get(slug="champions")
    assert champions.rules == [{"field": "rfm_segment", "op": "in", "value": ["champions"]}]
    with pytest.raises(SegmentInvalid) as caught:
        segment_update(segment=champions, actor=ACTOR, rules=GB)
    assert "rules" in caught.value.errors
    renamed = segment_update(segment=champions, actor=ACTOR, name="Best customers", description="Ours")
    assert renamed.name == "Best customers" and renamed.slug == "champions"
    with pytest.raises(SegmentInvalid):
        segment_delete(segment=champions, actor=ACTOR)
    assert builtins.count() == 5


def test_a_custom_segment_holding_a_builtin_slug_keeps_it(merchant):
    mine = segment_create(merchant=merchant, actor=ACTOR, name="Champions", rules=GB)
    ensure_builtin_segments(merchant=merchant)
    builtin = Segment.objects.get(merchant=merchant, kind="builtin", name="Champions")
    assert (mine.slug, builtin.slug) == ("champions", "champions-rfm")
    assert ensure_builtin_segments(merchant=merchant) == 0


def test_delete_removes_memberships_and_is_audited(merchant, shoppers):
    segment = segment_create(merchant=merchant, actor=ACTOR, name="UK", rules=GB)
    recompute_segments(segment_id=segment.pk)
    segment_delete(segment=segment, actor=ACTOR)
    assert not SegmentMembership.objects.exists()
    log = AuditLog.objects.get(action="segment.delete")
    assert log.changes == {"slug": "uk", "members": 2}


def test_recompute_diffs_memberships(merchant, shoppers):
    segment = segment_create(merchant=merchant, actor=ACTOR, name="UK", rules=GB)
    assert recompute_segments(segment_id=segment.pk) == 2
    kept = SegmentMembership.objects.get(segment=segment, customer=shoppers["ann"])
    assert recompute_segments(segment_id=segment.pk) == 0  # nothing changed, nothing written

    shoppers["bob"].country = "FR"
    shoppers["bob"].save()
    shoppers["cat"].country = "GB"
    shoppers["cat"].save()
    dan = customer(merchant, "dan", country="gb")
    assert recompute_segments(segment_id=segment.pk) == 3  # cat and dan in, bob out
    segment.refresh_from_db()
    assert members(segment) == ["ann", "cat", "dan"] and segment.member_count == 3
    # Unchanged members are not rewritten.
    assert SegmentMembership.objects.get(segment=segment, customer=shoppers["ann"]).pk == kept.pk
    assert customer_segments(customer=dan) == [segment]
    assert customer_segments(customer=shoppers["bob"]) == []


def test_recompute_everything_covers_every_merchant_and_creates_builtins(merchant, other_merchant, shoppers):
    theirs = customer(other_merchant, "zed", country="GB")
    CustomerProfile.objects.create(customer=theirs, merchant=other_merchant, rfm_segment="champions")
    CustomerProfile.objects.create(customer=shoppers["ann"], merchant=merchant, rfm_segment="at_risk")
    mine = segment_create(merchant=merchant, actor=ACTOR, name="UK", rules=GB)
    assert recompute_segments() == 2 + 1 + 1  # ann and bob in UK; ann at risk; zed a champion
    assert members(mine) == ["ann", "bob"]
    theirs_champions = Segment.objects.get(merchant=other_merchant, slug="champions")
    assert members(theirs_champions) == ["zed"] and theirs_champions.member_count == 1
    assert members(Segment.objects.get(merchant=merchant, slug="at-risk")) == ["ann"]
    assert Segment.objects.filter(kind="builtin").count() == 10
    # A merchant's own recompute only touches that merchant.
    shoppers["cat"].country = "GB"
    shoppers["cat"].save()
    theirs.country = "FR"
    theirs.save()
    assert recompute_segments(merchant_id=other_merchant.pk) == 0
    assert recompute_segments(merchant_id=merchant.pk) == 1


def test_recompute_does_not_mark_fresh_a_segment_edited_meanwhile(merchant, shoppers):
    segment = segment_create(merchant=merchant, actor=ACTOR, name="UK", rules=GB)
    seen = Segment.objects.get(pk=segment.pk)
    # The rules change while the worker works on the segment it read before.
    Segment.objects.filter(pk=segment.pk).update(updated_at=timezone.now())
    from profiles.segments import _recompute_one

    _recompute_one(seen)
    segment.refresh_from_db()
    assert segment.computed_at is None


def test_stored_rules_that_no_longer_validate_are_skipped(merchant, shoppers):
    segment = segment_create(merchant=merchant, actor=ACTOR, name="UK", rules=GB)
    recompute_segments(segment_id=segment.pk)
    Segment.objects.filter(pk=segment.pk).update(rules=[{"field": "shoe_size", "op": "eq", "value": 9}])
    assert recompute_segments(segment_id=segment.pk) == 0
    assert members(segment) == ["ann", "bob"]


def test_recompute_drops_customers_who_withdrew_profiling_consent(merchant, shoppers):
    segment = segment_create(merchant=merchant, actor=ACTOR, name="UK", rules=GB)
    recompute_segments(segment_id=segment.pk)
    shoppers["bob"].consent_profiling = False
    shoppers["bob"].save()
    assert recompute_segments(segment_id=segment.pk) == 1
    assert members(segment) == ["ann"]


def test_recompute_of_a_deleted_segment_is_a_no_op(merchant):
    assert recompute_segments(segment_id=987654) == 0
