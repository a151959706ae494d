"""Forms of the Chat dashboard: staff replies and corrections, knowledge items and their import, and the chat
settings (where one-per-line text boxes become the lists the service stores and checks)."""

from typing import ClassVar

from django import forms
from django.core.exceptions import ValidationError

from chat.models import ChatSettings, KnowledgeItem

MAX_REPLY_CHARS = 4000
MAX_RATE_LIMIT = 600
KNOWLEDGE_IMPORT_EXTENSIONS = (".csv", ".json")


class StaffReplyForm(forms.Form):
    text = forms.CharField(
        label="Reply",
        max_length=MAX_REPLY_CHARS,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Write to the shopper…"}),
    )


class CorrectionForm(forms.Form):
    # Blank clears an earlier correction.
    correction = forms.CharField(
        label="Corrected reply",
        max_length=MAX_REPLY_CHARS,
        strip=True,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What the bot should have said. Corrections are preferred over the bot's reply in fine-tuning.",
    )


class RatingForm(forms.Form):
    rating = forms.TypedChoiceField(choices=[("1", "Good"), ("-1", "Bad")], coerce=int)


class KnowledgeItemForm(forms.ModelForm):
    class Meta:
        model = KnowledgeItem
        fields = ("kind", "title", "body", "is_internal", "is_active")
        labels: ClassVar[dict] = {
            "title": "Question or policy name",
            "body": "Answer or policy text",
            "is_internal": "Internal (staff-only)",
            "is_active": "Active",
        }
        help_texts: ClassVar[dict] = {
            "is_internal": "Never shown to shoppers nor put in the bot's prompt; staff see it in the inbox.",
            "is_active": "Inactive items are kept but not used for answers.",
        }
        widgets: ClassVar[dict] = {"body": forms.Textarea(attrs={"rows": 5})}

    def service_kwargs(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class KnowledgeImportForm(forms.Form):
    file = forms.FileField(
        label="CSV or JSON file",
        help_text="Columns (or keys): kind (faq or policy), title, body, and optionally is_internal and is_active.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(KNOWLEDGE_IMPORT_EXTENSIONS):
            raise ValidationError("Upload a .csv or .json file.")
        return upload


def _lines(value: str) -> list[str]:
    seen, result = set(), []
    for line in value.splitlines():
        item = line.strip()
        if item and item.lower() not in seen:
            seen.add(item.lower())
            result.append(item)
    return result


class ChatSettingsForm(forms.ModelForm):
    allowed_origins = forms.CharField(
        label="Allowed storefront origins",
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "https://shop.example", "spellcheck": "false"}
        ),
        help_text="One per line, like https://shop.example. The widget only works on pages from these origins.",
    )
    handoff_topics = forms.CharField(
        label="Handoff topics",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One phrase per line. A shopper message that mentions one goes straight to a person.",
    )

    class Meta:
        model = ChatSettings
        fields = (
            "widget_enabled",
            "bot_name",
            "greeting",
            "allowed_origins",
            "handoff_topics",
            "min_relevance",
            "max_failed_answers",
            "history_turns",
            "rate_limit_per_minute",
        )
        labels: ClassVar[dict] = {
            "widget_enabled": "Widget on",
            "bot_name": "Bot name",
            "min_relevance": "Minimum relevance",
            "max_failed_answers": "Failed answers before handoff",
            "history_turns": "Conversation turns the bot remembers",
            "rate_limit_per_minute": "Messages per minute per shopper",
        }
        help_texts: ClassVar[dict] = {
            "widget_enabled": "Off: the widget script answers 404 and storefronts show no chat bubble.",
            "bot_name": "Shown in the widget's header.",
            "greeting": "The first message a shopper sees.",
            "min_relevance": "0 to 1. Below this retrieval score the bot hands off instead of guessing.",
            "max_failed_answers": "After this many answers without good sources, a person takes over.",
            "rate_limit_per_minute": "Protects the bot from floods; extra messages are refused for a minute.",
        }
        widgets: ClassVar[dict] = {
            "min_relevance": forms.NumberInput(attrs={"step": "0.05", "min": "0", "max": "1"}),
            "max_failed_answers": forms.NumberInput(attrs={"min": "1", "max": "20"}),
            "history_turns": forms.NumberInput(attrs={"min": "1", "max": "20"}),
            "rate_limit_per_minute": forms.NumberInput(attrs={"min": "1", "max": str(MAX_RATE_LIMIT)}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["allowed_origins"] = "\n".join(self.instance.allowed_origins or [])
            self.initial["handoff_topics"] = "\n".join(self.instance.handoff_topics or [])

    # Split here; chat_settings_update checks and normalises each origin and topic and names the bad ones.
    def clean_allowed_origins(self):
        return _lines(self.cleaned_data["allowed_origins"])

    def clean_handoff_topics(self):
        return _lines(self.cleaned_data["handoff_topics"])

    def clean_rate_limit_per_minute(self):
        value = self.cleaned_data["rate_limit_per_minute"]
        if value > MAX_RATE_LIMIT:
            raise ValidationError(f"At most {MAX_RATE_LIMIT} messages per minute.")
        return value

    def clean_max_failed_answers(self):
        value = self.cleaned_data["max_failed_answers"]
        if value > 20:
            raise ValidationError("At most 20.")
        return value

    def service_kwargs(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Puts a service's ValidationError on the form: per field where it names fields the form has."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)
