"""Settings › Members: the member list, invitations, role changes and removals (owners, who hold "manage"), and the
public page an invitation link opens. Reads go through selectors scoped to `request.merchant`; writes through
services. Role and removal forms post with HTMX and get the members panel back (409 with the reason when refused);
without JavaScript they post normally and are redirected back with a message."""

import logging

from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.decorators import merchant_required
from accounts.forms import InvitationPasswordForm, MemberInviteForm, MembershipRoleForm
from accounts.middleware import SESSION_KEY
from accounts.models import Role
from accounts.selectors import (
    invitation_get,
    invitation_get_by_token,
    invitation_open_list,
    membership_get_for_merchant,
    membership_list_for_merchant,
)
from accounts.services import (
    Actor,
    InvitationError,
    MemberError,
    invitation_accept,
    invitation_check,
    invitation_revoke,
    invitation_wrong_user_error,
    member_invite,
    membership_remove,
    membership_role_change,
)

logger = logging.getLogger(__name__)

# The statuses each refusal of an invitation link answers with: a link that never existed is 404, one that is
# spent is 410, one that belongs to someone else is 403, one that needs the holder to do something first is 409.
INVITATION_ERROR_STATUS = {
    "invalid": 404,
    "used": 410,
    "revoked": 410,
    "expired": 410,
    "wrong_user": 403,
    "account_exists": 409,
    "already_member": 409,
}


def _wants_partial(request) -> bool:
    # A history-restore request (back button after a cache miss) needs the whole page, not the fragment.
    return bool(request.htmx) and not request.htmx.history_restore_request


def _members_context(request, **extra):
    merchant = request.merchant
    can_manage = request.membership.can("manage")
    members = list(membership_list_for_merchant(merchant=merchant))
    return {
        "section": "settings",
        "members": members,
        "owner_count": sum(1 for m in members if m.role == Role.OWNER),
        "invitations": invitation_open_list(merchant=merchant) if can_manage else [],
        "can_manage": can_manage,
        "roles": Role.choices,
        **extra,
    }


@merchant_required()
def members_page(request):
    return render(
        request, "dashboard/members.html", _members_context(request, invite_form=MemberInviteForm())
    )


def _after_change(request, *, notice: str, status: int = 200):
    """HTMX gets the fresh members panel (with the notice); a plain form post is redirected to the page."""
    if not _wants_partial(request):
        (messages.success if status == 200 else messages.error)(request, notice)
        return redirect("dashboard:members")
    context = _members_context(request, notice=notice, notice_ok=status == 200)
    return render(request, "dashboard/partials/_members_panel.html", context, status=status)


@merchant_required("manage")
@require_POST
def member_invite_view(request):
    form = MemberInviteForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            invitation, _ = member_invite(
                merchant=request.merchant,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                actor=Actor.for_user(request.user),
                base_url=request.build_absolute_uri("/"),
            )
        except MemberError as exc:
            form.add_error("email", str(exc))
        except OSError:
            # SMTP failures are OSErrors; the invitation was rolled back with the failed send.
            logger.exception("Sending an invitation email failed")
            form.add_error(
                None, "The invitation email could not be sent, so nothing was saved. Try again shortly."
            )
            status = 503
        else:
            messages.success(
                request,
                f"Invitation sent to {invitation.email} as {invitation.get_role_display().lower()}. "
                f"The link works once and expires on {date_format(localtime(invitation.expires_at), 'j M Y')}.",
            )
            return redirect(f"{reverse('dashboard:members')}#invitations")
    return render(
        request, "dashboard/members.html", _members_context(request, invite_form=form), status=status
    )


@merchant_required("manage")
@require_POST
def membership_role_view(request, membership_id: int):
    membership = membership_get_for_merchant(merchant=request.merchant, membership_id=membership_id)
    form = MembershipRoleForm(request.POST)
    if not form.is_valid():
        return _after_change(request, notice=f"Choose one of: {', '.join(Role.labels)}.", status=422)
    username = membership.user.get_username()
    try:
        changed = membership_role_change(
            membership=membership, role=form.cleaned_data["role"], actor=Actor.for_user(request.user)
        )
    except MemberError as exc:
        return _after_change(request, notice=str(exc), status=409)
    if changed.pk == request.membership.pk:
        # The middleware loaded the old role; the page drawn below must show what the user may do now.
        request.membership.refresh_from_db(fields=["role"])
    return _after_change(request, notice=f"{username} is now {changed.get_role_display().lower()}.")


@merchant_required("manage")
@require_POST
def membership_remove_view(request, membership_id: int):
    membership = membership_get_for_merchant(merchant=request.merchant, membership_id=membership_id)
    username = membership.user.get_username()
    try:
        membership_remove(membership=membership, actor=Actor.for_user(request.user))
    except MemberError as exc:
        return _after_change(request, notice=str(exc), status=409)
    if membership.pk == request.membership.pk:
        # Leaving a merchant: nothing of it is ours to see any more, so go home (the next merchant, if any).
        messages.success(request, f"You left {request.merchant.name}.")
        request.session.pop(SESSION_KEY, None)
        if _wants_partial(request):
            response = render(request, "dashboard/partials/_members_panel.html", {"left": True})
            response["HX-Redirect"] = reverse("dashboard:home")
            return response
        return redirect("dashboard:home")
    return _after_change(request, notice=f"Removed {username} from {request.merchant.name}.")


@merchant_required("manage")
@require_POST
def invitation_revoke_view(request, invitation_id: int):
    invitation = invitation_get(merchant=request.merchant, invitation_id=invitation_id)
    if invitation_revoke(invitation=invitation, actor=Actor.for_user(request.user)):
        return _after_change(
            request, notice=f"Withdrew the invitation to {invitation.email}. Its link no longer works."
        )
    return _after_change(
        request, notice=f"The invitation to {invitation.email} was already used or withdrawn.", status=409
    )


def _invitation_refused(request, exc: InvitationError, invitation=None):
    context = {"error": exc.message, "reason": exc.reason, "invitation": invitation}
    return render(request, "accounts/invitation.html", context, status=INVITATION_ERROR_STATUS[exc.reason])


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_accept_view(request, token: str):
    """Public: the link is the credential. GET only shows what the link offers (mail scanners and link previews
    open links); the invitation is used by the POST of the button or the new-account form."""
    invitation = invitation_get_by_token(token=token)
    user = request.user if request.user.is_authenticated else None
    try:
        invitation_check(invitation=invitation)
        if user is not None and not invitation.is_for(user):
            raise invitation_wrong_user_error(invitation=invitation, user=user)
    except InvitationError as exc:
        return _invitation_refused(request, exc, invitation)
    account_exists = (
        user is None and get_user_model().objects.filter(username__iexact=invitation.email).exists()
    )
    password_form = None
    if user is None and not account_exists:
        password_form = InvitationPasswordForm(
            get_user_model()(username=invitation.email, email=invitation.email),
            request.POST if request.method == "POST" else None,
        )
    context = {
        "invitation": invitation,
        "account_exists": account_exists,
        "password_form": password_form,
        "login_url": f"{reverse('accounts:login')}?next={request.path}",
    }
    if request.method == "GET" or account_exists:
        return render(
            request, "accounts/invitation.html", context, status=409 if request.method == "POST" else 200
        )
    password = None
    if password_form is not None:
        if not password_form.is_valid():
            return render(request, "accounts/invitation.html", context, status=400)
        password = password_form.cleaned_data["new_password1"]
    try:
        membership = invitation_accept(token=token, user=user, password=password)
    except InvitationError as exc:
        return _invitation_refused(request, exc, invitation)
    if user is None:
        login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
    request.session[SESSION_KEY] = membership.merchant_id
    messages.success(
        request,
        f"Welcome to {membership.merchant.name}. You joined as {membership.get_role_display().lower()}.",
    )
    return redirect("dashboard:home")
