"""Writes for merchants, memberships, API keys and the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.text import slugify

from accounts.models import AuditLog, Membership, Merchant, MerchantAPIKey, Role, Scope


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
def merchant_create(*, slug: str, name: str, owner_email: str | None = None, owner_password: str | None = None):
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
    audit_record(merchant=merchant, actor=Actor.system("create_merchant"), action="merchant.create", obj=merchant)
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
        name=name or "API key", merchant=merchant, scopes=scopes, created_by=actor.user, expiry_date=expiry_date
    )
    audit_record(merchant=merchant, actor=actor, action="api_key.create", obj=key_obj, changes={"scopes": scopes})
    return key_obj, key


def api_key_revoke(*, key: MerchantAPIKey, actor: Actor) -> None:
    updated = MerchantAPIKey.objects.filter(pk=key.pk, revoked=False).update(revoked=True)
    if updated:
        audit_record(merchant=key.merchant, actor=actor, action="api_key.revoke", obj=key)
