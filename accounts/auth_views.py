"""Password change and reset pages (Django's auth views with our templates), and the page a locked-out login
gets. Every page renders accounts/account_page.html, which shows the same body in the dashboard shell for a
member and in the plain card otherwise."""

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.shortcuts import render
from django.urls import reverse_lazy

from accounts.auth_forms import AccountPasswordChangeForm, AccountSetPasswordForm, ThrottledPasswordResetForm
from accounts.auth_services import user_security_event_record
from config.client_ip import client_ip

PAGE = "accounts/account_page.html"


def _page(title: str, body: str) -> dict:
    return {"page_title": title, "body_template": f"accounts/partials/_{body}.html", "section": "settings"}


def lockout_response(request, original_response=None, credentials=None):
    """django-axes' AXES_LOCKOUT_CALLABLE: a readable 429 page instead of axes' one-line text."""
    response = render(
        request,
        PAGE,
        {**_page("Too many attempts", "locked_out"), "lockout_minutes": settings.LOGIN_LOCKOUT_MINUTES},
        status=429,
    )
    response["Retry-After"] = str(settings.LOGIN_LOCKOUT_MINUTES * 60)
    return response


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = PAGE
    form_class = AccountPasswordChangeForm
    success_url = reverse_lazy("accounts:password_change_done")
    extra_context = _page("Change password", "password_change_form")

    def form_valid(self, form):
        response = super().form_valid(form)
        user_security_event_record(
            user=form.user,
            action="user.password_changed",
            summary="Changed their password.",
            ip=client_ip(self.request),
        )
        return response


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = PAGE
    extra_context = _page("Password changed", "password_change_done")


class PasswordResetView(auth_views.PasswordResetView):
    template_name = PAGE
    form_class = ThrottledPasswordResetForm
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")
    extra_context = _page("Reset your password", "password_reset_form")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = PAGE
    extra_context = _page("Check your email", "password_reset_done")

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "reset_link_minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
        }


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = PAGE
    form_class = AccountSetPasswordForm
    success_url = reverse_lazy("accounts:password_reset_complete")
    extra_context = _page("Choose a new password", "password_reset_confirm")

    def form_valid(self, form):
        response = super().form_valid(form)
        user = form.user
        # Whoever holds the mailbox has proved who they are: lift the lockout on their username so the new
        # password works at once (an address locked for trying many usernames stays locked).
        axes_reset(username=user.get_username())
        user_security_event_record(
            user=user,
            action="user.password_reset",
            summary="Set a new password through a reset link.",
            ip=client_ip(self.request),
        )
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = PAGE
    extra_context = _page("Password set", "password_reset_complete")
