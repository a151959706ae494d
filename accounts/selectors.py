"""Reads for accounts, always limited to what the requester may see."""

from django.http import Http404

from accounts.models import AuditLog, Invitation, Membership, Merchant, MerchantAPIKey


def object_get_or_404(queryset, pk, what: str):
    """The row with this pk in an already tenant-filtered queryset, else 404 (also for a malformed pk)."""
    try:
        obj = queryset.filter(pk=pk).first()
    except (TypeError, ValueError):
        obj = None
    if obj is None:
        raise Http404(f"No such {what}.")
    return obj


def membership_list_for_user(*, user):
    if not user.is_authenticated:
        return Membership.objects.none()
    return Membership.objects.filter(user=user, merchant__is_active=True).select_related("merchant")


def membership_get(*, user, merchant_id: int) -> Membership:
    membership = membership_list_for_user(user=user).filter(merchant_id=merchant_id).first()
    if membership is None:
        raise Http404("No such merchant.")
    return membership


def api_key_list(*, merchant: Merchant):
    return MerchantAPIKey.objects.filter(merchant=merchant).order_by("-created")


def api_key_get(*, merchant: Merchant, key_id: str) -> MerchantAPIKey:
    key = MerchantAPIKey.objects.filter(merchant=merchant, pk=key_id).first()
    if key is None:
        raise Http404("No such API key.")
    return key


def audit_log_list(*, merchant: Merchant):
    return AuditLog.objects.filter(merchant=merchant).select_related("actor")


def membership_list_for_merchant(*, merchant: Merchant):
    return Membership.objects.filter(merchant=merchant).select_related("user").order_by("user__username")


def membership_get_for_merchant(*, merchant: Merchant, membership_id) -> Membership:
    return object_get_or_404(
        Membership.objects.filter(merchant=merchant).select_related("user", "merchant"),
        membership_id,
        "member",
    )


def invitation_open_list(*, merchant: Merchant):
    """Invitations not yet accepted or revoked, expired ones included (they show as expired until re-sent)."""
    return (
        Invitation.objects.filter(merchant=merchant, accepted_at=None, revoked_at=None)
        .select_related("invited_by")
        .order_by("-created_at", "-id")
    )


def invitation_get(*, merchant: Merchant, invitation_id) -> Invitation:
    return object_get_or_404(
        Invitation.objects.filter(merchant=merchant).select_related("merchant"), invitation_id, "invitation"
    )


def invitation_get_by_token(*, token: str) -> Invitation | None:
    """The invitation a link's token points at (any merchant: the secret token is the access check)."""
    return (
        Invitation.objects.filter(token_hash=Invitation.hash_token(token), merchant__is_active=True)
        .select_related("merchant", "invited_by")
        .first()
    )
