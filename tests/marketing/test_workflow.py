"""The review workflow: every legal move, every illegal one (refused without touching the row), revisions,
and an audit entry with who did it for each state change."""

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AuditLog
from accounts.services import Actor
from marketing.models import ContentPiece, ContentRevision
from marketing.publishing.services import content_publish, content_unpublish
from marketing.review.services import (
    content_approve,
    content_bulk_approve,
    content_regenerate,
    content_reject,
    content_submit,
    content_update,
)
from marketing.workflow import ContentConflict
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

S = ContentPiece.Status


@pytest.fixture
def reviewer():
    return Actor.for_user(UserFactory(username="rita@example.com"))


def test_happy_path_draft_to_published_and_back(make_piece, reviewer):
    piece = make_piece(S.DRAFT)
    piece = content_submit(piece=piece, actor=reviewer)
    assert piece.status == S.IN_REVIEW
    piece = content_approve(piece=piece, actor=reviewer)
    assert piece.status == S.APPROVED and piece.reviewed_by_label == "rita@example.com"
    piece = content_publish(piece=piece, actor=reviewer)
    assert piece.status == S.PUBLISHED and piece.published_at is not None
    piece = content_unpublish(piece=piece, actor=reviewer)
    assert piece.status == S.APPROVED and piece.published_at is None

    entries = list(
        AuditLog.objects.filter(object_type="contentpiece", object_id=str(piece.pk)).order_by("id")
    )
    assert [e.action for e in entries] == [
        "content.submit",
        "content.approve",
        "content.publish",
        "content.unpublish",
    ]
    assert {e.actor_label for e in entries} == {"rita@example.com"}
    assert entries[1].changes["from"] == "in_review" and entries[1].changes["to"] == "approved"


@pytest.mark.parametrize(
    ("status", "service", "kwargs"),
    [
        (S.DRAFT, content_approve, {}),
        (S.DRAFT, content_publish, {}),
        (S.IN_REVIEW, content_publish, {}),
        (S.IN_REVIEW, content_unpublish, {}),
        (S.IN_REVIEW, content_submit, {}),
        (S.APPROVED, content_approve, {}),
        (S.APPROVED, content_reject, {"reason": "too late"}),
        (S.PUBLISHED, content_approve, {}),
        (S.PUBLISHED, content_reject, {"reason": "no"}),
        (S.PUBLISHED, content_publish, {}),
        (S.REJECTED, content_approve, {}),
        (S.REJECTED, content_publish, {}),
        (S.REJECTED, content_reject, {"reason": "again"}),
        (S.APPROVED, content_unpublish, {}),
    ],
)
def test_illegal_moves_are_refused_and_change_nothing(make_piece, reviewer, status, service, kwargs):
    piece = make_piece(status)
    before = AuditLog.objects.count()
    with pytest.raises(ContentConflict) as info:
        service(piece=piece, actor=reviewer, **kwargs)
    assert info.value.code == "illegal_transition"
    piece.refresh_from_db()
    assert piece.status == status
    assert AuditLog.objects.count() == before


@pytest.mark.parametrize(
    ("status", "service", "kwargs", "message"),
    [
        (
            S.IN_REVIEW,
            content_publish,
            {},
            "A piece in review cannot be published; only approved pieces can.",
        ),
        (S.DRAFT, content_approve, {}, "A draft piece cannot be approved; only pieces in review can."),
        (
            S.APPROVED,
            content_reject,
            {"reason": "late"},
            "An approved piece cannot be rejected; only draft pieces, or pieces in review, can.",
        ),
        (
            S.PUBLISHED,
            content_update,
            {"body": "changed"},
            "A published piece cannot be edited; unpublish it first.",
        ),
        (
            S.APPROVED,
            content_regenerate,
            {},
            "An approved piece cannot be regenerated; only draft or rejected pieces, or pieces in review, can.",
        ),
    ],
)
def test_refusals_name_the_piece_in_plain_english(make_piece, reviewer, status, service, kwargs, message):
    with pytest.raises(ContentConflict) as info:
        service(piece=make_piece(status), actor=reviewer, **kwargs)
    assert info.value.message == message


def test_a_stale_object_cannot_win_a_race(make_piece, reviewer):
    """Two reviewers load the same piece; the second approve finds it already approved and is refused."""
    first = make_piece(S.IN_REVIEW)
    second = ContentPiece.objects.get(pk=first.pk)
    content_approve(piece=first, actor=reviewer)
    content_publish(piece=first, actor=reviewer)
    with pytest.raises(ContentConflict):
        content_reject(piece=second, actor=reviewer, reason="stale view")
    first.refresh_from_db()
    assert first.status == S.PUBLISHED


def test_reject_needs_a_reason_and_keeps_it(make_piece, reviewer):
    piece = make_piece(S.IN_REVIEW)
    with pytest.raises(ValidationError):
        content_reject(piece=piece, actor=reviewer, reason="   ")
    piece = content_reject(piece=piece, actor=reviewer, reason="Wrong tone")
    assert (piece.status, piece.rejection_reason) == (S.REJECTED, "Wrong tone")
    draft = make_piece(S.DRAFT, variant=2)
    assert content_reject(piece=draft, actor=reviewer, reason="Not needed").status == S.REJECTED


def test_a_blocked_piece_cannot_be_approved(make_piece, reviewer):
    piece = make_piece(
        S.IN_REVIEW,
        approvable=False,
        flagged=True,
        grounding={"passed": False, "approvable": False, "unsupported": [{"text": "$5", "kind": "price"}]},
    )
    with pytest.raises(ContentConflict) as info:
        content_approve(piece=piece, actor=reviewer)
    assert info.value.code == "grounding_failed"
    assert "1 unsupported claim" in info.value.message
    piece.refresh_from_db()
    assert piece.status == S.IN_REVIEW


def test_editing_keeps_a_revision_and_sends_rejected_and_approved_pieces_back_to_review(make_piece, reviewer):
    rejected = make_piece(S.REJECTED, rejection_reason="dull")
    edited = content_update(
        piece=rejected, actor=reviewer, body="A stainless steel bottle, 750 ml, for 24.90 USD."
    )
    assert edited.status == S.IN_REVIEW and edited.rejection_reason == ""
    revision = ContentRevision.objects.get(piece=rejected)
    assert revision.fields_before["body"].startswith("A stainless steel bottle that keeps")
    assert revision.fields_after["body"] == "A stainless steel bottle, 750 ml, for 24.90 USD."
    assert (revision.author_label, revision.status_before, revision.kind) == (
        "rita@example.com",
        "rejected",
        "edit",
    )
    assert edited.grounding  # re-checked

    approved = make_piece(S.APPROVED, variant=2)
    assert content_update(piece=approved, actor=reviewer, title="Trail bottle, green").status == S.IN_REVIEW
    in_review = make_piece(S.IN_REVIEW, variant=3)
    assert content_update(piece=in_review, actor=reviewer, title="Green trail bottle").status == S.IN_REVIEW
    assert AuditLog.objects.filter(action="content.edit").count() == 3


def test_published_pieces_cannot_be_edited_and_no_op_edits_write_nothing(make_piece, reviewer):
    published = make_piece(S.PUBLISHED)
    with pytest.raises(ContentConflict):
        content_update(piece=published, actor=reviewer, body="changed")
    draft = make_piece(S.DRAFT, variant=2)
    content_update(piece=draft, actor=reviewer, title=draft.title)
    assert not ContentRevision.objects.exists()


def test_edit_refuses_fields_the_channel_does_not_have(make_piece, reviewer):
    piece = make_piece(S.IN_REVIEW)  # a product description has a title and a body, no subject
    with pytest.raises(ValidationError) as info:
        content_update(piece=piece, actor=reviewer, subject="Hello")
    assert "subject" in info.value.message_dict


def test_bulk_approve_takes_only_pieces_that_pass_every_check(make_piece, reviewer, merchant, jacket):
    good = make_piece(S.IN_REVIEW, variant=1)
    flagged = make_piece(S.IN_REVIEW, variant=2, flagged=True)
    blocked = make_piece(S.IN_REVIEW, variant=3, approvable=False)
    draft = make_piece(S.DRAFT, variant=4)
    also_good = make_piece(S.IN_REVIEW, product=jacket)
    result = content_bulk_approve(
        merchant=merchant,
        actor=reviewer,
        pieces=ContentPiece.objects.filter(pk__in=[good.pk, flagged.pk, blocked.pk, draft.pk, also_good.pk]),
    )
    assert sorted(result.approved) == sorted([good.pk, also_good.pk])
    assert set(result.skipped) == {flagged.pk, blocked.pk, draft.pk}
    assert result.skipped[draft.pk] == "is draft"
    statuses = dict(ContentPiece.objects.values_list("pk", "status"))
    assert statuses[good.pk] == statuses[also_good.pk] == S.APPROVED
    assert statuses[flagged.pk] == statuses[blocked.pk] == S.IN_REVIEW
    assert AuditLog.objects.filter(action="content.approve").count() == 2


def test_bulk_approve_ignores_another_merchants_pieces(make_piece, reviewer, other_merchant):
    piece = make_piece(S.IN_REVIEW)
    result = content_bulk_approve(merchant=other_merchant, actor=reviewer, pieces=[piece])
    assert result.approved == [] and result.skipped == {piece.pk: "not found"}
    piece.refresh_from_db()
    assert piece.status == S.IN_REVIEW


def test_channels_are_defined_once_in_the_engine():
    from marketing.models import Channel
    from ml.engine.grounding import CHANNEL_FIELDS, CHANNEL_LABELS, CHANNEL_LIMITS

    assert Channel.choices == list(CHANNEL_LABELS.items())
    assert set(CHANNEL_FIELDS) == set(CHANNEL_LIMITS) == set(Channel.values)
    assert Channel.AD_HEADLINE == "ad_headline" and Channel.EMAIL.label == "Email (subject + body)"
