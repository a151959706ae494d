"""Writes for merchants, memberships, API keys and the audit log."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import AuditLog, Invitation, Membership, Merchant, MerchantAPIKey, Role, Scope


@dataclass(frozen=True)
class Actor:
    """Who is doing something: a dashboard user, an API key or the system (tasks, commands)."""

    label: str
    user: Any = None
    api_key: MerchantAPIKey | None = None

    @classmethod
    def for_user(cls, user) -> Actor:
        return cls(label=user.get_username(), user=user)

    @classmethod
    def for_api_key(cls, key: MerchantAPIKey) -> Actor:
        return cls(label=f"api-key:{key.prefix}", api_key=key)

    @classmethod
    def system(cls, what: str = "system") -> Actor:
        return cls(label=what)


def audit_record(
    *,
    merchant: Merchant,
    actor: Actor,
    action: str,
    obj: Any = None,
    object_type: str = "",
    object_id: str = "",
    summary: str = "",
    changes: dict | None = None,
) -> AuditLog:
    if obj is not None:
        object_type = object_type or obj._meta.model_name
        object_id = object_id or str(obj.pk)
        summary = summary or str(obj)[:500]
    return AuditLog.objects.create(
        merchant=merchant,
        actor=actor.user,
        actor_label=actor.label[:200],
        action=action,
        object_type=object_type,
        object_id=object_id,
        summary=summary[:500],
        changes=changes or {},
    )


def validate_scopes(scopes: list[str]) -> list[str]:
    cleaned = sorted({s.strip().lower() for s in scopes if s.strip()})
    unknown = [s for s in cleaned if s not in Scope.values]
    if unknown:
        raise ValueError(f"Unknown scope(s): {', '.join(unknown)}. Allowed: {', '.join(Scope.values)}.")
    if not cleaned:
        raise ValueError(f"At least one scope is required. Allowed: {', '.join(Scope.values)}.")
    return cleaned


@transaction.atomic
def merchant_create(
    *, slug: str, name: str, owner_email: str | None = None, owner_password: str | None = None
):
    """Create a merchant (and its owner user if an email is given). Returns (merchant, owner_or_None)."""
    slug = slugify(slug)
    if not slug:
        raise ValueError("A merchant slug must contain letters or digits.")
    if Merchant.objects.filter(slug=slug).exists():
        raise ValueError(f"A merchant with slug '{slug}' already exists.")
    merchant = Merchant.objects.create(slug=slug, name=name or slug)
    owner = None
    if owner_email:
        owner = user_get_or_create(email=owner_email, password=owner_password)
        membership_set(merchant=merchant, user=owner, role=Role.OWNER, actor=Actor.system("create_merchant"))
    audit_record(
        merchant=merchant, actor=Actor.system("create_merchant"), action="merchant.create", obj=merchant
    )
    return merchant, owner


def user_get_or_create(*, email: str, password: str | None = None):
    User = get_user_model()
    email = User.objects.normalize_email(email).lower()
    user = User.objects.filter(username=email).first()
    if user is None:
        user = User(username=email, email=email)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
    elif password:
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


def membership_set(*, merchant: Merchant, user, role: str, actor: Actor) -> Membership:
    if role not in Role.values:
        raise ValueError(f"Unknown role '{role}'. Allowed: {', '.join(Role.values)}.")
    membership, created = Membership.objects.update_or_create(
        merchant=merchant, user=user, defaults={"role": role}
    )
    audit_record(
        merchant=merchant,
        actor=actor,
        action="membership.create" if created else "membership.update",
        obj=membership,
        changes={"role": role, "user": user.get_username()},
    )
    return membership


def api_key_create(
    *, merchant: Merchant, name: str, scopes: list[str], actor: Actor, expiry_date=None
) -> tuple[MerchantAPIKey, str]:
    """Create a key; the clear-text key is returned once and never stored."""
    scopes = validate_scopes(scopes)
    key_obj, key = MerchantAPIKey.objects.create_key(
        name=name or "API key",
        merchant=merchant,
        scopes=scopes,
        created_by=actor.user,
        expiry_date=expiry_date,
    )
    audit_record(
        merchant=merchant, actor=actor, action="api_key.create", obj=key_obj, changes={"scopes": scopes}
    )
    return key_obj, key


def api_key_revoke(*, key: MerchantAPIKey, actor: Actor) -> None:
    updated = MerchantAPIKey.objects.filter(pk=key.pk, revoked=False).update(revoked=True)
    if updated:
        audit_record(merchant=key.merchant, actor=actor, action="api_key.revoke", obj=key)


class MemberError(ValueError):
    """A members change that is refused (last owner, already a member, too many invitations); the message says why."""


class InvitationError(Exception):
    """An invitation link that cannot be used. `reason` is one of: invalid, expired, used, revoked, wrong_user,
    account_exists, already_member; the message is written for the person holding the link."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


def _normalize_email(email: str) -> str:
    return get_user_model().objects.normalize_email(email.strip()).lower()


def _send_invitation_email(*, invitation: Invitation, link: str) -> None:
    context = {"invitation": invitation, "link": link, "inviter": invitation.invited_by}
    send_mail(
        subject=f"You are invited to {invitation.merchant.name} on Storyfront",
        message=render_to_string("accounts/email/invitation.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )


def member_invite(
    *, merchant: Merchant, email: str, role: str, actor: Actor, base_url: str
) -> tuple[Invitation, str]:
    """Invite an email to the merchant and mail the link (`base_url` is the site's scheme and host). Inviting an
    email that already has an open invitation refreshes it: new token, role and expiry; the old link stops working.
    Returns (invitation, clear-text token); only the token's hash is stored. The mail goes out inside the
    transaction, so a failed send leaves nothing behind and the owner can simply try again."""
    if role not in Role.values:
        raise MemberError(f"Unknown role '{role}'. Allowed: {', '.join(Role.values)}.")
    email = _normalize_email(email)
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        # Lock the merchant row: concurrent invites for one merchant queue here, so the open-invitation cap
        # and the one-open-invitation-per-email rule hold without a unique-violation 500.
        Merchant.objects.select_for_update().filter(pk=merchant.pk).first()
        if Membership.objects.filter(merchant=merchant, user__username__iexact=email).exists():
            raise MemberError(f"{email} is already a member of {merchant.name}.")
        open_invitations = Invitation.objects.filter(merchant=merchant, accepted_at=None, revoked_at=None)
        invitation = open_invitations.filter(email=email).first()
        refreshed = invitation is not None
        if invitation is None:
            if open_invitations.filter(expires_at__gt=now).count() >= settings.INVITATION_MAX_OPEN:
                raise MemberError(
                    f"{merchant.name} already has {settings.INVITATION_MAX_OPEN} pending invitations. "
                    "Revoke some before inviting more."
                )
            invitation = Invitation(merchant=merchant, email=email)
        invitation.role = role
        invitation.token_hash = Invitation.hash_token(token)
        invitation.invited_by = actor.user
        invitation.expires_at = now + timedelta(days=settings.INVITATION_EXPIRY_DAYS)
        invitation.save()
        audit_record(
            merchant=merchant,
            actor=actor,
            action="invitation.create",
            obj=invitation,
            changes={"email": email, "role": role, "refreshed": refreshed},
        )
        link = base_url.rstrip("/") + reverse("dashboard:invitation_accept", args=[token])
        _send_invitation_email(invitation=invitation, link=link)
    return invitation, token


def invitation_revoke(*, invitation: Invitation, actor: Actor) -> bool:
    """Revoke an open invitation; False if it was already accepted or revoked (revoking twice is harmless)."""
    updated = Invitation.objects.filter(pk=invitation.pk, accepted_at=None, revoked_at=None).update(
        revoked_at=timezone.now()
    )
    if updated:
        audit_record(
            merchant=invitation.merchant,
            actor=actor,
            action="invitation.revoke",
            obj=invitation,
            changes={"email": invitation.email, "role": invitation.role},
        )
    return bool(updated)


def invitation_check(*, invitation: Invitation | None) -> Invitation:
    """The invitation if its link can still be used, else InvitationError with the reason."""
    if invitation is None:
        raise InvitationError(
            "invalid", "This invitation link is not valid. Check that you copied all of it."
        )
    if invitation.accepted_at:
        raise InvitationError("used", "This invitation has already been used. Log in to reach the dashboard.")
    if invitation.revoked_at:
        raise InvitationError(
            "revoked", "This invitation was withdrawn. Ask an owner of the merchant for a new one."
        )
    if invitation.expires_at <= timezone.now():
        raise InvitationError(
            "expired", "This invitation has expired. Ask an owner of the merchant for a new one."
        )
    return invitation


def invitation_wrong_user_error(*, invitation: Invitation, user) -> InvitationError:
    return InvitationError(
        "wrong_user",
        f"This invitation is for {invitation.email}, but you are signed in as {user.get_username()}. "
        "Log out, then open the link again.",
    )


def invitation_accept(*, token: str, user=None, password: str | None = None) -> Membership:
    """Use an invitation link once. A signed-in `user` must be the invited email; without one, a new account is
    created for the invited email with `password` (an email that already has an account must log in first).
    The check and the use are one guarded update, so a link clicked twice at once makes one membership."""
    User = get_user_model()
    with transaction.atomic():
        invitation = invitation_check(
            invitation=Invitation.objects.select_for_update()
            .select_related("merchant")
            .filter(token_hash=Invitation.hash_token(token), merchant__is_active=True)
            .first()
        )
        if user is not None:
            if not invitation.is_for(user):
                raise invitation_wrong_user_error(invitation=invitation, user=user)
        else:
            if User.objects.filter(username__iexact=invitation.email).exists():
                raise InvitationError(
                    "account_exists",
                    f"{invitation.email} already has an account: log in to accept the invitation.",
                )
            if not password:
                raise ValueError("A password is required to create the account.")
            user = User(username=invitation.email, email=invitation.email)
            user.set_password(password)
            user.save()
        if Membership.objects.filter(merchant=invitation.merchant, user=user).exists():
            raise InvitationError(
                "already_member", f"You are already a member of {invitation.merchant.name}."
            )
        used = Invitation.objects.filter(pk=invitation.pk, accepted_at=None, revoked_at=None).update(
            accepted_at=timezone.now()
        )
        if not used:
            raise InvitationError(
                "used", "This invitation has already been used. Log in to reach the dashboard."
            )
        membership = Membership.objects.create(merchant=invitation.merchant, user=user, role=invitation.role)
        audit_record(
            merchant=invitation.merchant,
            actor=Actor.for_user(user),
            action="invitation.accept",
            obj=membership,
            changes={"email": invitation.email, "role": invitation.role, "invitation": invitation.pk},
        )
    return membership


def _lock_owners(merchant: Merchant) -> list[int]:
    """Lock the merchant's owner memberships and return their ids. Every owner-count check takes these locks
    first, so two owners demoting each other at the same moment cannot leave the merchant with none."""
    return list(
        Membership.objects.select_for_update()
        .filter(merchant=merchant, role=Role.OWNER)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def membership_role_change(*, membership: Membership, role: str, actor: Actor) -> Membership:
    if role not in Role.values:
        raise MemberError(f"Unknown role '{role}'. Allowed: {', '.join(Role.values)}.")
    with transaction.atomic():
        owners = _lock_owners(membership.merchant)
        current = Membership.objects.select_for_update().filter(pk=membership.pk).first()
        if current is None:
            raise MemberError("That member has already been removed.")
        if current.role == role:
            return current
        if current.role == Role.OWNER and owners == [current.pk]:
            raise MemberError(
                f"{current.user.get_username()} is the last owner of {current.merchant.name}. "
                "Make another member an owner first."
            )
        previous = current.role
        current.role = role
        current.save(update_fields=["role"])
        audit_record(
            merchant=current.merchant,
            actor=actor,
            action="membership.role_change",
            obj=current,
            changes={"user": current.user.get_username(), "role": [previous, role]},
        )
    return current


def membership_remove(*, membership: Membership, actor: Actor) -> None:
    with transaction.atomic():
        owners = _lock_owners(membership.merchant)
        current = Membership.objects.select_for_update().filter(pk=membership.pk).first()
        if current is None:
            return
        if current.role == Role.OWNER and owners == [current.pk]:
            raise MemberError(
                f"{current.user.get_username()} is the last owner of {current.merchant.name} and cannot be "
                "removed. Make another member an owner first."
            )
        audit_record(
            merchant=current.merchant,
            actor=actor,
            action="membership.remove",
            obj=current,
            changes={"user": current.user.get_username(), "role": current.role},
        )
        current.delete()
