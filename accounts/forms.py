from django import forms
from django.contrib.auth.forms import AuthenticationForm, SetPasswordForm

from accounts.models import Role, Scope


class LoginForm(AuthenticationForm):
    """Django's login form with the labels and autofill hints a person expects (usernames are emails)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Email"
        self.fields["username"].widget.attrs.update(
            {
                "autocomplete": "username",
                "autocapitalize": "none",
                "spellcheck": "false",
                "inputmode": "email",
            }
        )
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})


class APIKeyCreateForm(forms.Form):
    name = forms.CharField(
        max_length=50,
        help_text="Say where the key is used, e.g. “Storefront sync”.",
        widget=forms.TextInput(attrs={"placeholder": "Storefront sync", "autocomplete": "off"}),
    )
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        initial=[Scope.READ],
        widget=forms.CheckboxSelectMultiple,
        help_text="Read lists and fetches; write creates, updates and imports; publish releases approved copy.",
        error_messages={"required": "Choose at least one scope."},
    )


class MemberInviteForm(forms.Form):
    email = forms.EmailField(
        help_text="We email a link that works once and expires.",
        widget=forms.EmailInput(
            attrs={
                "placeholder": "teammate@example.com",
                "autocomplete": "off",
                "autocapitalize": "none",
                "spellcheck": "false",
            }
        ),
    )
    role = forms.ChoiceField(
        choices=Role.choices,
        initial=Role.VIEWER,
        help_text="Owners manage members and keys; editors change data; reviewers approve and publish; viewers read.",
    )


class MembershipRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class InvitationPasswordForm(SetPasswordForm):
    """Sets the new account's password; Django's validators run against the invited email (set as the user)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].label = "Choose a password"
        self.fields[
            "new_password1"
        ].help_text = "At least 8 characters, not all digits, not a common password and not like your email."
        self.fields["new_password2"].label = "Confirm the password"
