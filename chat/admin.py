import json

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.html import format_html

from accounts.services import Actor, audit_record
from chat.models import ChatSettings, Conversation, KnowledgeItem, Message, SupportDialogue
from chat.widget.services import _origins_validate, _topics_validate


def _pretty_json(value) -> str:
    # format_html escapes the JSON, so model-written text stays inert.
    return format_html("<pre class='pre-wrap'>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


class ChatSettingsForm(forms.ModelForm):
    class Meta:
        model = ChatSettings
        fields = "__all__"

    def _service_clean(self, name, validate):
        try:
            return validate(self.cleaned_data.get(name) or [])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict[name]) from None

    def clean_allowed_origins(self):
        return self._service_clean("allowed_origins", _origins_validate)

    def clean_handoff_topics(self):
        return self._service_clean("handoff_topics", _topics_validate)


@admin.register(ChatSettings)
class ChatSettingsAdmin(admin.ModelAdmin):
    form = ChatSettingsForm
    list_display = [
        "merchant",
        "bot_name",
        "widget_enabled",
        "min_relevance",
        "max_failed_answers",
        "updated_at",
    ]
    list_filter = ["widget_enabled"]
    list_select_related = ["merchant"]
    search_fields = ["merchant__name", "merchant__slug", "bot_name", "widget_token"]
    raw_id_fields = ["merchant"]
    readonly_fields = ["widget_token", "updated_at"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit_record(
            merchant=obj.merchant,
            actor=Actor.for_user(request.user),
            action="chat_settings.update",
            obj=obj,
            changes={name: form.cleaned_data.get(name) for name in form.changed_data},
        )


@admin.register(KnowledgeItem)
class KnowledgeItemAdmin(admin.ModelAdmin):
    """Edits here are audited and re-embedded like dashboard edits."""

    list_display = ["title", "merchant", "kind", "is_internal", "is_active", "has_embedding", "updated_at"]
    list_editable = ["is_active"]
    list_filter = ["kind", "is_internal", "is_active", "merchant"]
    list_select_related = ["merchant"]
    search_fields = ["title", "body", "merchant__name", "merchant__slug"]
    raw_id_fields = ["merchant"]
    readonly_fields = ["embedding_model", "embedded_text_hash", "created_at", "updated_at"]

    @admin.display(boolean=True, description="Embedded")
    def has_embedding(self, item) -> bool:
        return item.embedding is not None

    def save_model(self, request, obj, form, change):
        from chat.tasks import embed_knowledge_task

        super().save_model(request, obj, form, change)
        audit_record(
            merchant=obj.merchant,
            actor=Actor.for_user(request.user),
            action="knowledge.update" if change else "knowledge.create",
            obj=obj,
            changes={name: str(form.cleaned_data.get(name))[:200] for name in form.changed_data},
        )
        merchant_id = obj.merchant_id
        transaction.on_commit(lambda: embed_knowledge_task.apply_async(args=[merchant_id], queue="ml"))

    def delete_model(self, request, obj):
        audit_record(
            merchant=obj.merchant, actor=Actor.for_user(request.user), action="knowledge.delete", obj=obj
        )
        super().delete_model(request, obj)


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ["created_at", "role", "status", "text", "handoff", "sources", "rating", "correction", "error"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True
    ordering = ["created_at", "id"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    """Read-only record: conversations change through the inbox (take over, reply, hand back, resolve)."""

    list_display = [
        "id",
        "merchant",
        "source",
        "status",
        "handoff_reason",
        "assigned_to",
        "failed_answers",
        "last_message_at",
    ]
    list_filter = ["status", "source", "handoff_reason", "merchant"]
    list_select_related = ["merchant", "assigned_to"]
    search_fields = ["customer_external_id", "merchant__name", "merchant__slug", "messages__text"]
    date_hierarchy = "created_at"
    exclude = ["session_secret"]
    inlines = [MessageInline]

    def get_search_results(self, request, queryset, search_term):
        queryset, _ = super().get_search_results(request, queryset, search_term)
        return queryset.distinct(), False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Each reply with what made it: model, parameters, prompt, sources and the output checks' findings."""

    list_display = ["id", "conversation", "role", "status", "handoff", "latency_ms", "created_at"]
    list_filter = ["role", "status", "handoff", "merchant"]
    list_select_related = ["conversation", "merchant"]
    search_fields = ["text", "correction", "conversation__customer_external_id"]
    date_hierarchy = "created_at"
    exclude = ["sources", "params", "safety"]
    readonly_fields = ["sources_pretty", "params_pretty", "safety_pretty"]

    @admin.display(description="Sources")
    def sources_pretty(self, message):
        return _pretty_json(message.sources)

    @admin.display(description="Parameters")
    def params_pretty(self, message):
        return _pretty_json(message.params)

    @admin.display(description="Safety")
    def safety_pretty(self, message):
        return _pretty_json(message.safety)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SupportDialogue)
class SupportDialogueAdmin(admin.ModelAdmin):
    list_display = ["id", "merchant", "source", "split", "intent", "created_at"]
    list_filter = ["source", "split", "merchant"]
    list_select_related = ["merchant"]
    search_fields = ["intent", "merchant__name", "merchant__slug"]
    exclude = ["turns"]
    readonly_fields = ["turns_pretty"]

    @admin.display(description="Turns (masked)")
    def turns_pretty(self, dialogue):
        return _pretty_json(dialogue.turns)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
