"""The storefront widget's endpoints (/widget/<token>/...). Public by design: the widget token in the URL is
not a secret (it sits in the merchant's page) and only opens widget conversations. What protects them:
- CORS per merchant: a request carrying an `Origin` must come from one of the merchant's allowed origins (or
  Storyfront itself); the answer then echoes that origin in Access-Control-Allow-Origin. Any other origin gets
  403 and no CORS header, so a browser on another site can neither call nor read. Requests without an
  Origin (not from a browser page) pass the check; the session secret and rate limits still apply.
- a session secret per conversation, sent by the widget as `X-Widget-Session`: only the browser that started
  a conversation can read or post in it. A wrong secret, another widget's conversation and an id that does not
  exist all get the same 404, so the answers do not tell which conversation ids exist;
- rate limits in the shared cache: posts per conversation per minute (ChatSettings.rate_limit_per_minute)
  and new conversations per client address per minute (CHAT_WIDGET_STARTS_PER_MINUTE, the address from
  config.client_ip, which honours the trusted proxies); over it: 429 with Retry-After.
Answers are JSON; the widget script renders text with textContent (escaping is the browser's job there)."""

from __future__ import annotations

import hashlib
import secrets
import time

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.utils.cache import patch_vary_headers
from rest_framework import renderers, serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, Throttled
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from chat.api.streaming import EventStreamRenderer, reply_events, sse_response
from chat.conversations.services import conversation_start, message_post
from chat.models import ChatSettings, Conversation, Message
from chat.selectors import chat_settings_for_widget, message_get, message_list, widget_conversation_get
from chat.text import message_max_chars
from chat.widget.services import origin_normalize
from config.client_ip import client_ip

SESSION_HEADER = "X-Widget-Session"
ALLOWED_HEADERS = f"Content-Type, {SESSION_HEADER}"
MESSAGES_PER_POLL = 100


def widget_message(message: Message) -> dict:
    """A message as the shopper may see it: no prompt, model, errors or scores."""
    return {
        "id": message.pk,
        "role": message.role,
        "text": message.text,
        "status": message.status,
        "handoff": message.handoff,
        "sources": [
            {"type": s.get("type"), "title": s.get("title")}
            for s in (message.sources or [])
            if isinstance(s, dict)
        ],
        "created_at": message.created_at.isoformat() if message.created_at else None,
    }


def origin_allowed(origin: str, chat_settings: ChatSettings, request) -> bool:
    try:
        normalized = origin_normalize(origin)
    except ValueError:
        return False  # includes "null" (sandboxed frames, file: pages)
    if normalized in (chat_settings.allowed_origins or []):
        return True
    try:
        own = origin_normalize(f"{request.scheme}://{request.get_host()}")
    except ValueError:
        return False
    return normalized == own


def _rate_limit(key: str, limit: int) -> None:
    """A fixed one-minute window in the cache; over the limit raises 429 with the seconds left."""
    window = int(time.time() // 60)
    full_key = f"chat:rl:{key}:{window}"
    cache.add(full_key, 0, timeout=70)
    try:
        count = cache.incr(full_key)
    except ValueError:  # expired between add and incr
        cache.set(full_key, 1, timeout=70)
        count = 1
    if count > limit:
        raise Throttled(wait=max(1, 60 - int(time.time()) % 60))


class WidgetView(APIView):
    """Base: resolves the token, enforces the merchant's origins and the widget switch, adds CORS headers."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser]
    renderer_classes = [renderers.JSONRenderer]
    schema = None  # the widget's own contract, not part of the merchant API's schema
    methods = "GET, OPTIONS"

    def initial(self, request, *args, **kwargs):
        self.cors_origin = None
        super().initial(request, *args, **kwargs)
        self.chat_settings = chat_settings_for_widget(token=kwargs.get("token", ""))
        origin = request.headers.get("Origin")
        if origin:
            if not origin_allowed(origin, self.chat_settings, request):
                raise PermissionDenied("This website is not allowed to use this chat widget.")
            self.cors_origin = origin
        if not (self.chat_settings.widget_enabled and self.chat_settings.merchant.is_active):
            raise PermissionDenied("This chat widget is switched off.")

    def options(self, request, *args, **kwargs):
        response = HttpResponse(status=status.HTTP_204_NO_CONTENT)
        response["Access-Control-Allow-Methods"] = self.methods
        response["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response["Access-Control-Max-Age"] = "600"
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if getattr(self, "cors_origin", None):
            response["Access-Control-Allow-Origin"] = self.cors_origin
            response["Access-Control-Expose-Headers"] = "Retry-After"
        patch_vary_headers(response, ["Origin"])
        response["Cache-Control"] = response.get("Cache-Control") or "no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response

    # --- helpers for conversation endpoints ---

    def conversation(self, request, pk) -> Conversation:
        not_found = NotFound("No such conversation.")
        try:
            conversation = widget_conversation_get(chat_settings=self.chat_settings, pk=pk)
        except Http404:
            raise not_found from None
        given = request.headers.get(SESSION_HEADER, "")
        if (
            not given
            or not conversation.session_secret
            or not secrets.compare_digest(given.encode(), conversation.session_secret.encode())
        ):
            raise not_found
        return conversation


class WidgetConfigView(WidgetView):
    def get(self, request, token):
        return Response(
            {
                "bot_name": self.chat_settings.bot_name,
                "greeting": self.chat_settings.greeting,
                "merchant_name": self.chat_settings.merchant.name,
                "max_message_chars": message_max_chars(),
            }
        )


class WidgetStartSerializer(serializers.Serializer):
    customer_external_id = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class WidgetConversationsView(WidgetView):
    methods = "POST, OPTIONS"

    def post(self, request, token):
        body = WidgetStartSerializer(data=request.data if isinstance(request.data, dict) else {})
        body.is_valid(raise_exception=True)
        client = hashlib.sha256(client_ip(request).encode()).hexdigest()[:16]
        _rate_limit(
            f"start:{self.chat_settings.widget_token}:{client}",
            getattr(settings, "CHAT_WIDGET_STARTS_PER_MINUTE", 10),
        )
        conversation = conversation_start(
            merchant=self.chat_settings.merchant,
            source=Conversation.Source.WIDGET,
            customer_external_id=body.validated_data["customer_external_id"],
            origin=self.cors_origin or "",
        )
        return Response(
            {
                "id": conversation.pk,
                "session_secret": conversation.session_secret,
                "status": conversation.status,
                "greeting": self.chat_settings.greeting,
                "bot_name": self.chat_settings.bot_name,
            },
            status=status.HTTP_201_CREATED,
        )


class WidgetMessageSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=message_max_chars())


class WidgetMessagesView(WidgetView):
    methods = "GET, POST, OPTIONS"

    def get(self, request, token, conversation_id):
        conversation = self.conversation(request, conversation_id)
        after = request.query_params.get("after") or None
        if after is not None and not after.isdigit():
            raise serializers.ValidationError({"after": ["Must be a message id."]})
        # A reply the bot dropped (staff took over first) has nothing to show.
        rows = message_list(conversation=conversation, after_id=after).exclude(
            status=Message.Status.FAILED, text=""
        )[:MESSAGES_PER_POLL]
        return Response(
            {"conversation_status": conversation.status, "messages": [widget_message(m) for m in rows]}
        )

    def post(self, request, token, conversation_id):
        conversation = self.conversation(request, conversation_id)
        _rate_limit(
            f"post:{conversation.pk}:{hashlib.sha256(conversation.session_secret.encode()).hexdigest()[:16]}",
            self.chat_settings.rate_limit_per_minute,
        )
        body = WidgetMessageSerializer(data=request.data if isinstance(request.data, dict) else {})
        body.is_valid(raise_exception=True)
        result = message_post(conversation=conversation, text=body.validated_data["text"], stream=True)
        conversation.refresh_from_db()
        reply = result.reply_message
        return Response(
            {
                "shopper_message": widget_message(result.shopper_message),
                "reply": widget_message(reply) if reply is not None else None,
                "handoff": result.handoff,
                "conversation_status": conversation.status,
            },
            status=status.HTTP_201_CREATED,
        )


class WidgetStreamView(WidgetView):
    """Server-Sent Events of one bot reply: `delta` {"id", "text"} parts, then `done` with the message
    (replace what was shown with its text) or `timeout`."""

    renderer_classes = [renderers.JSONRenderer, EventStreamRenderer]

    def get(self, request, token, conversation_id):
        conversation = self.conversation(request, conversation_id)
        message_id = request.query_params.get("message", "")
        if not message_id.isdigit():
            raise serializers.ValidationError({"message": ["Must be a message id."]})
        message = message_get(conversation=conversation, pk=message_id)
        if message.role != Message.Role.BOT:
            raise NotFound("No such reply.")

        def final(done: Message) -> dict:
            return {**widget_message(done), "conversation_status": done.conversation.status}

        return sse_response(reply_events(message.pk, final=final))
