"""Password page forms: Django's own, with the autofill hints people expect and a cap on reset mails."""

import hashlib

from django.conf import settings
from django.contrib.auth.forms import PasswordChangeForm, PasswordResetForm, SetPasswordForm
from django.core.cache import cache

RESET_MAIL_WINDOW_SECONDS = 60 * 60


# Django's help text is an HTML list; the field partial shows help as one line of text.
NEW_PASSWORD_HELP = (
    "At least 8 characters; not only digits, not a common password and not close to your email. "
    "A few unrelated words make a strong one."
)


def _new_password_fields(form) -> None:
    form.fields["new_password1"].help_text = NEW_PASSWORD_HELP
    form.fields["new_password2"].help_text = ""
    for name in ("new_password1", "new_password2"):
        form.fields[name].widget.attrs.update({"autocomplete": "new-password"})


class AccountPasswordChangeForm(PasswordChangeForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["old_password"].label = "Current password"
        _new_password_fields(self)


class AccountSetPasswordForm(SetPasswordForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _new_password_fields(self)


class ThrottledPasswordResetForm(PasswordResetForm):
    """Sends at most PASSWORD_RESET_EMAILS_PER_HOUR reset mails to one address per hour, so the public form
    cannot flood someone's inbox. The page answers the same either way: it never says whether an account
    exists or whether a mail went out."""

    @staticmethod
    def mail_count_cache_key(email: str) -> str:
        return f"password-reset-mails:{hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]}"

    def get_users(self, email):
        key = self.mail_count_cache_key(email)
        cache.add(key, 0, timeout=RESET_MAIL_WINDOW_SECONDS)
        try:
            sent = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=RESET_MAIL_WINDOW_SECONDS)
            sent = 1
        if sent > settings.PASSWORD_RESET_EMAILS_PER_HOUR:
            return iter(())
        return super().get_users(email)
