"""Writes for the account-security events of a person (lockout, password change and reset). A user belongs to
merchants, not the other way round, so each event is written to the audit log of every merchant the user is a
member of: each merchant's owners see what happened to their team's logins."""

from django.db import transaction

from accounts.models import Membership
from accounts.services import Actor, audit_record


@transaction.atomic
def user_security_event_record(*, user, action: str, summary: str, ip: str, by_user: bool = True) -> int:
    """Returns the number of audit entries written. `by_user` is False for events the user did not cause
    (a lockout is caused by whoever typed the wrong passwords)."""
    actor = Actor.for_user(user) if by_user else Actor.system("login-protection")
    written = 0
    for membership in Membership.objects.filter(user=user).select_related("merchant"):
        audit_record(
            merchant=membership.merchant,
            actor=actor,
            action=action,
            object_type="user",
            object_id=str(user.pk),
            summary=summary,
            changes={"ip": ip, "username": user.get_username()},
        )
        written += 1
    return written
