"""Login brute-force protection on top of django-axes (settings: LOGIN_*, AXES_*).

Axes counts failures per username and address and locks that pair out at LOGIN_FAILURE_LIMIT. One address
trying many usernames (credential stuffing) would never hit that, so `failure_limit` drops the limit to 0,
which locks every username, once the address has failed LOGIN_IP_FAILURE_LIMIT times in the window. A
lockout of a known user is written to the audit log of each merchant the user belongs to, once per window."""

from datetime import timedelta

from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Sum
from django.dispatch import receiver
from django.utils import timezone

from accounts.auth_services import user_security_event_record
from accounts.models import AuditLog
from config.client_ip import client_ip

LOCKOUT_ACTION = "user.locked_out"


def _window() -> timedelta:
    return timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)


def failure_limit(request, credentials) -> int:
    ip = getattr(request, "axes_ip_address", None) or client_ip(request)
    address_failures = (
        AccessAttempt.objects.filter(ip_address=ip, attempt_time__gte=timezone.now() - _window()).aggregate(
            total=Sum("failures_since_start")
        )["total"]
        or 0
    )
    if address_failures >= settings.LOGIN_IP_FAILURE_LIMIT:
        return 0
    return settings.LOGIN_FAILURE_LIMIT


@receiver(user_locked_out)
def audit_lockout(sender, request, username, ip_address, **kwargs):
    if not username:
        return
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        return
    # Every refused attempt during a lockout signals again; one entry per user, address and window is enough
    # (and keeps an attacker from flooding the merchant's audit log).
    already = AuditLog.objects.filter(
        action=LOCKOUT_ACTION,
        object_type="user",
        object_id=str(user.pk),
        changes__ip=ip_address,
        created_at__gte=timezone.now() - _window(),
    )
    if already.exists():
        return
    user_security_event_record(
        user=user,
        action=LOCKOUT_ACTION,
        summary=(
            f"Login locked for {settings.LOGIN_LOCKOUT_MINUTES} minutes after repeated failed attempts "
            f"from {ip_address}."
        ),
        ip=ip_address,
        by_user=False,
    )
