from django import forms
from django.contrib.auth.forms import AuthenticationForm

from accounts.models import Scope


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
