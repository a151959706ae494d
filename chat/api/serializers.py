from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chat.knowledge.services import KNOWLEDGE_LIMITS
from chat.models import Conversation, KnowledgeItem, Message
from chat.text import message_max_chars


class SourceSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["knowledge", "product"])
    id = serializers.IntegerField()
    title = serializers.CharField()
    score = serializers.FloatField(help_text="Fused retrieval score in [0, 1].")


class ConversationSerializer(serializers.ModelSerializer):
    assigned_to = serializers.SerializerMethodField(
        help_text="Username of the staff member answering, if any."
    )

    class Meta:
        model = Conversation
        fields = [
            "id",
            "source",
            "customer_external_id",
            "status",
            "handoff_reason",
            "handed_off_at",
            "assigned_to",
            "failed_answers",
            "created_at",
            "last_message_at",
            "resolved_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_assigned_to(self, conversation) -> str | None:
        return conversation.assigned_to.get_username() if conversation.assigned_to_id else None


class ConversationCreateSerializer(serializers.Serializer):
    customer_external_id = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=200,
        help_text="Your id of the shopper (as in /customers/), if known.",
    )


class MessageSerializer(serializers.ModelSerializer):
    sources = SourceSerializer(many=True, read_only=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "role",
            "text",
            "status",
            "sources",
            "handoff",
            "model_version",
            "ttft_ms",
            "latency_ms",
            "tokens",
            "rating",
            "correction",
            "created_at",
            "completed_at",
        ]
        read_only_fields = fields


class MessagePostSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=message_max_chars(), help_text="The shopper's message.")


class MessageListQuerySerializer(serializers.Serializer):
    after_id = serializers.IntegerField(
        required=False, min_value=0, help_text="Only messages newer than this id."
    )


class MessagePostQuerySerializer(serializers.Serializer):
    stream = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Answer with Server-Sent Events (as with `Accept: text/event-stream`): `accepted`, then "
        "`delta` events carrying new text, then `done` with the whole reply (replace what was shown with it), "
        "or `timeout`.",
    )


class MessagePostResultSerializer(serializers.Serializer):
    shopper_message = MessageSerializer()
    reply = MessageSerializer(
        allow_null=True,
        help_text="The bot's reply: complete (201) or still pending (202). Null when staff are answering.",
    )
    handoff = serializers.BooleanField(help_text="The conversation is (now) with a person.")
    conversation_status = serializers.ChoiceField(choices=Conversation.Status.choices)
    poll_url = serializers.CharField(
        required=False, help_text="Only on 202: GET it until the reply's status is complete or failed."
    )


class KnowledgeItemSerializer(serializers.ModelSerializer):
    title = serializers.CharField(max_length=KNOWLEDGE_LIMITS["title"])
    body = serializers.CharField(max_length=KNOWLEDGE_LIMITS["body"])
    has_embedding = serializers.SerializerMethodField()

    class Meta:
        model = KnowledgeItem
        fields = [
            "id",
            "kind",
            "title",
            "body",
            "is_internal",
            "is_active",
            "has_embedding",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "has_embedding", "created_at", "updated_at"]

    def get_has_embedding(self, item) -> bool:
        return item.embedding is not None

    def get_validators(self):
        return []  # uniqueness of (kind, title) is checked by the service, with a clear message


class KnowledgeImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="CSV (kind,title,body,is_internal) or a JSON list of such objects."
    )


class KnowledgeImportRowErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField(
        help_text="CSV: the row as a spreadsheet numbers it (header = 1). JSON: 1-based position."
    )
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class KnowledgeImportReportSerializer(serializers.Serializer):
    filename = serializers.CharField()
    format = serializers.CharField(help_text="csv or json")
    total = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    errors = KnowledgeImportRowErrorSerializer(many=True)
    applied = serializers.BooleanField(help_text="False when any row was bad: then nothing was written.")
