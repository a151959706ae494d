"""Chat API: conversations and their messages (the shopper's turn in, the bot's reply out) and the knowledge
base with its import. Views only translate HTTP to chat.conversations.services, chat.knowledge.services and
chat.selectors.

Scopes: reads need `read`; starting conversations, posting messages and changing knowledge need `write`."""

from django.conf import settings
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, renderers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from accounts.api.mixins import MerchantAPIMixin
from chat.api.serializers import (
    ConversationCreateSerializer,
    ConversationSerializer,
    KnowledgeImportReportSerializer,
    KnowledgeImportUploadSerializer,
    KnowledgeItemSerializer,
    MessageListQuerySerializer,
    MessagePostQuerySerializer,
    MessagePostResultSerializer,
    MessagePostSerializer,
    MessageSerializer,
)
from chat.api.streaming import EventStreamRenderer, reply_events, reply_wait, sse_response
from chat.conversations.services import conversation_start, message_post
from chat.knowledge.services import (
    knowledge_import,
    knowledge_item_create,
    knowledge_item_delete,
    knowledge_item_update,
)
from chat.models import Conversation, Message
from chat.selectors import (
    conversation_get,
    conversation_list,
    knowledge_item_get,
    knowledge_item_list,
    message_get,
    message_list,
)
from config.api_schema import AUTH_ERRORS, INVALID, NOT_FOUND, TOO_LARGE, ErrorSerializer
from config.api_uploads import CSVUploadParser, JSONUploadParser, upload_read

_POST_DESCRIPTION = """Stores the shopper's message and answers with the bot's reply, its sources (the knowledge
items and products it was grounded on) and whether the conversation was handed to a person.

The reply is written by a chat worker; this call waits for it (up to a configured time, 60 s by default) and
answers **201** with the complete reply, or **202** with the reply still pending and a `poll_url` to GET until
its status is `complete` or `failed`. A handoff (the shopper asked for a person, a sensitive topic, nothing
relevant in the knowledge base, repeated failed answers) comes back as a reply with `handoff: true`; while
staff are answering, `reply` is null.

With `?stream=1` or `Accept: text/event-stream` the answer is a stream of Server-Sent Events instead:
`accepted` (the stored shopper message and the reply's id), `delta` events with new text as it is written,
then `done` with the reply (replace any shown text with its text) or `timeout`."""


# One Server-Sent Event of the stream (OpenAPI 3.0 reads an event-stream schema as each event's).
_SSE_EVENT_SCHEMA = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["accepted", "delta", "replace", "done", "timeout"]},
        "data": {"type": "string", "description": "The event's JSON object, as text."},
    },
}


def _wants_stream(request) -> bool:
    query = MessagePostQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data["stream"] or "text/event-stream" in request.headers.get("Accept", "")


def _result_body(result, conversation: Conversation, reply: Message | None) -> dict:
    return {
        "shopper_message": MessageSerializer(result.shopper_message).data,
        "reply": MessageSerializer(reply).data if reply is not None else None,
        "handoff": result.handoff or bool(reply and reply.handoff),
        "conversation_status": conversation.status,
    }


@extend_schema_view(
    list=extend_schema(
        summary="List conversations",
        responses={200: ConversationSerializer(many=True), **INVALID, **AUTH_ERRORS},
    ),
    retrieve=extend_schema(
        summary="Get a conversation", responses={200: ConversationSerializer, **AUTH_ERRORS, **NOT_FOUND}
    ),
    create=extend_schema(
        summary="Start a conversation",
        request=ConversationCreateSerializer,
        responses={201: ConversationSerializer, **INVALID, **AUTH_ERRORS},
    ),
)
class ConversationViewSet(
    MerchantAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Support conversations with the merchant's bot (and, after a handoff, its staff)."""

    serializer_class = ConversationSerializer
    filterset_fields = ["status", "source", "customer_external_id"]
    ordering_fields = ["created_at", "last_message_at"]

    def get_queryset(self):
        return conversation_list(merchant=self.merchant)

    def get_object(self):
        return conversation_get(merchant=self.merchant, pk=self.kwargs["pk"])

    def get_renderers(self):
        if getattr(self, "action", None) == "messages":
            return [renderers.JSONRenderer(), EventStreamRenderer()]
        return super().get_renderers()

    def create(self, request, *args, **kwargs):
        body = ConversationCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        conversation = conversation_start(
            merchant=self.merchant, source=Conversation.Source.API, **body.validated_data
        )
        return Response(ConversationSerializer(conversation).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["GET"],
        summary="List a conversation's messages (oldest first)",
        parameters=[MessageListQuerySerializer],
        responses={200: MessageSerializer(many=True), **INVALID, **AUTH_ERRORS, **NOT_FOUND},
    )
    @extend_schema(
        methods=["POST"],
        summary="Post a shopper message and get the bot's reply",
        description=_POST_DESCRIPTION,
        parameters=[MessagePostQuerySerializer],
        request=MessagePostSerializer,
        responses={
            (201, "application/json"): MessagePostResultSerializer,
            (202, "application/json"): MessagePostResultSerializer,
            (200, "text/event-stream"): _SSE_EVENT_SCHEMA,
            **INVALID,
            **AUTH_ERRORS,
            **NOT_FOUND,
        },
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def messages(self, request, pk=None):
        conversation = self.get_object()
        if request.method == "GET":
            query = MessageListQuerySerializer(data=request.query_params)
            query.is_valid(raise_exception=True)
            rows = message_list(conversation=conversation, after_id=query.validated_data.get("after_id"))
            page = self.paginate_queryset(rows)
            return self.get_paginated_response(MessageSerializer(page, many=True).data)

        stream = _wants_stream(request)
        body = MessagePostSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = message_post(
            conversation=conversation, text=body.validated_data["text"], actor=self.actor, stream=stream
        )
        reply = result.reply_message
        poll_url = (
            reverse(
                "chat-conversation-message-detail", kwargs={"pk": conversation.pk, "message_id": reply.pk}
            )
            if reply is not None
            else None
        )
        if (
            stream
            and reply is not None
            and reply.status not in (Message.Status.COMPLETE, Message.Status.FAILED)
        ):
            first = _result_body(result, conversation, reply)
            first["conversation_status"] = Conversation.objects.get(pk=conversation.pk).status

            def final(message: Message) -> dict:
                return {
                    "reply": MessageSerializer(message).data,
                    "handoff": message.handoff
                    or message.conversation.status == Conversation.Status.HANDED_OFF,
                    "conversation_status": message.conversation.status,
                }

            return sse_response(
                reply_events(
                    reply.pk, first=("accepted", first), final=final, timeout_data={"poll_url": poll_url}
                )
            )
        if reply is not None and reply.status in (Message.Status.PENDING, Message.Status.STREAMING):
            reply = reply_wait(reply.pk)
        conversation.refresh_from_db()
        payload = _result_body(result, conversation, reply)
        if reply is not None and reply.status in (Message.Status.PENDING, Message.Status.STREAMING):
            payload["poll_url"] = poll_url
            return Response(payload, status=status.HTTP_202_ACCEPTED)
        payload["handoff"] = payload["handoff"] or conversation.status == Conversation.Status.HANDED_OFF
        return Response(payload, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Get one message (poll a pending reply here)",
        responses={200: MessageSerializer, **AUTH_ERRORS, **NOT_FOUND},
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"messages/(?P<message_id>[0-9]+)",
        url_name="message-detail",
        filter_backends=[],
        pagination_class=None,
    )
    def message_detail(self, request, pk=None, message_id=None):
        conversation = self.get_object()
        return Response(MessageSerializer(message_get(conversation=conversation, pk=message_id)).data)


# --- knowledge ---------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List knowledge items",
        responses={200: KnowledgeItemSerializer(many=True), **INVALID, **AUTH_ERRORS},
    ),
    retrieve=extend_schema(
        summary="Get a knowledge item", responses={200: KnowledgeItemSerializer, **AUTH_ERRORS, **NOT_FOUND}
    ),
    create=extend_schema(
        summary="Add a knowledge item (FAQ or policy)",
        description="`is_internal` items are staff-only: they never reach a shopper-facing prompt, and replies "
        "that repeat them are blocked. The item's vector is computed shortly after, in a worker.",
        responses={201: KnowledgeItemSerializer, **INVALID, **AUTH_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Change a knowledge item",
        responses={200: KnowledgeItemSerializer, **INVALID, **AUTH_ERRORS, **NOT_FOUND},
    ),
    destroy=extend_schema(
        summary="Delete a knowledge item", responses={204: None, **AUTH_ERRORS, **NOT_FOUND}
    ),
)
class KnowledgeItemViewSet(MerchantAPIMixin, viewsets.ModelViewSet):
    """What the bot answers from: FAQs (question + answer) and policies (shipping, returns, warranty...)."""

    serializer_class = KnowledgeItemSerializer
    filterset_fields = ["kind", "is_internal", "is_active"]
    search_fields = ["title", "body"]
    ordering_fields = ["title", "created_at", "updated_at"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return knowledge_item_list(merchant=self.merchant)

    def get_object(self):
        return knowledge_item_get(merchant=self.merchant, pk=self.kwargs["pk"])

    def perform_create(self, serializer):
        serializer.instance = knowledge_item_create(
            merchant=self.merchant, actor=self.actor, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = knowledge_item_update(
            merchant=self.merchant, actor=self.actor, item=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        knowledge_item_delete(merchant=self.merchant, actor=self.actor, item=instance)

    @extend_schema(
        summary="Import knowledge items from CSV or JSON",
        description="Upsert by (kind, title) from a CSV with columns `kind,title,body,is_internal` or a JSON "
        "list of objects with those keys; send the file as `multipart/form-data` (`file`) or as the raw body "
        "(`text/csv`, `application/json`). All or nothing: if any row is bad, nothing is written and the "
        "answer is 400 with every bad row in `report.errors`.",
        request={
            "multipart/form-data": KnowledgeImportUploadSerializer,
            "text/csv": OpenApiTypes.STR,
            "application/json": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
        },
        responses={
            200: KnowledgeImportReportSerializer,
            400: OpenApiResponse(
                ErrorSerializer,
                description="The file cannot be read, or some rows are bad (then `report` lists them).",
            ),
            **TOO_LARGE,
            **AUTH_ERRORS,
        },
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        filter_backends=[],
        pagination_class=None,
        parser_classes=[MultiPartParser, CSVUploadParser, JSONUploadParser],
    )
    def import_file(self, request):
        limit = settings.CHAT_KNOWLEDGE_IMPORT_MAX_BYTES
        upload = upload_read(
            request,
            limit,
            KnowledgeImportUploadSerializer,
            lambda size: f"The upload is larger than the {limit // 1024} KB limit.",
        )
        data, filename = upload.data, upload.filename
        if not upload.multipart:
            filename = "upload.json" if request.content_type.startswith("application/json") else "upload.csv"
        report = knowledge_import(merchant=self.merchant, actor=self.actor, data=data, filename=filename)
        if not report["applied"]:
            lines = [f"line {row['line']}: {_row_message(row['errors'])}" for row in report["errors"]]
            return Response(
                {
                    "message": f"{len(report['errors'])} row(s) have errors; nothing was imported.",
                    "code": "invalid_rows",
                    "field_errors": {"rows": lines},
                    "report": KnowledgeImportReportSerializer(report).data,
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(KnowledgeImportReportSerializer(report).data)


def _row_message(errors: dict) -> str:
    return "; ".join(f"{name}: {' '.join(messages)}" for name, messages in errors.items())
