"""Reads for the support chat. Every function takes the merchant (or an object already scoped to it) and
never returns another merchant's rows; lookups by id answer 404 for anything else."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, F, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from accounts.models import Merchant
from accounts.selectors import object_get_or_404 as _get
from catalog.models import Product
from chat.models import ChatSettings, Conversation, KnowledgeItem, Message

# --- settings ----------------------------------------------------------------------------------------------


def chat_settings_get(*, merchant: Merchant) -> ChatSettings:
    """The merchant's chat settings, created with safe defaults on first use."""
    chat_settings, _ = ChatSettings.objects.get_or_create(merchant=merchant)
    return chat_settings


def chat_settings_for_widget(*, token: str) -> ChatSettings:
    """The settings behind a public widget token (404 for an unknown one). Disabled widgets are returned too:
    the caller answers 403 for them, which tells the storefront's developer what is wrong."""
    chat_settings = None
    if token and len(token) <= 64:
        chat_settings = ChatSettings.objects.select_related("merchant").filter(widget_token=token).first()
    if chat_settings is None:
        raise Http404("No such widget.")
    return chat_settings


# --- conversations and messages ----------------------------------------------------------------------------


def conversation_list(*, merchant: Merchant, status: str | None = None, q: str | None = None) -> QuerySet:
    """Newest activity first. `q` matches the customer's external id or any message's text."""
    queryset = Conversation.objects.filter(merchant=merchant).select_related("assigned_to")
    if status:
        queryset = queryset.filter(status=status)
    if q:
        matching = Message.objects.filter(merchant=merchant, text__icontains=q).values("conversation_id")
        queryset = queryset.filter(Q(customer_external_id__icontains=q) | Q(pk__in=matching))
    return queryset.annotate(message_count=Count("messages")).order_by(
        F("last_message_at").desc(nulls_last=True), "-id"
    )


def conversation_get(*, merchant: Merchant, pk) -> Conversation:
    return _get(
        Conversation.objects.filter(merchant=merchant).select_related("assigned_to"), pk, "conversation"
    )


def widget_conversation_get(*, chat_settings: ChatSettings, pk) -> Conversation:
    """A widget conversation of this widget's merchant (404 otherwise); the caller checks the secret."""
    return _get(
        Conversation.objects.filter(merchant_id=chat_settings.merchant_id, source=Conversation.Source.WIDGET),
        pk,
        "conversation",
    )


def message_list(*, conversation: Conversation, after_id=None) -> QuerySet[Message]:
    """Oldest first; `after_id` returns only newer messages (for polling)."""
    queryset = Message.objects.filter(conversation=conversation).select_related("author")
    if after_id not in (None, ""):
        queryset = queryset.filter(pk__gt=after_id)
    return queryset.order_by("created_at", "id")


def message_get(*, conversation: Conversation, pk) -> Message:
    return _get(Message.objects.filter(conversation=conversation), pk, "message")


def message_get_for_merchant(*, merchant: Merchant, pk) -> Message:
    return _get(Message.objects.filter(merchant=merchant).select_related("conversation"), pk, "message")


def conversation_shopper_texts(*, conversation: Conversation) -> list[str]:
    """Everything the shopper wrote in this conversation (what a reply may repeat back to them)."""
    return list(
        Message.objects.filter(conversation=conversation, role=Message.Role.SHOPPER)
        .order_by("id")
        .values_list("text", flat=True)
    )


def conversation_history(*, conversation: Conversation, before_id: int, turns: int) -> list[dict]:
    """The last `turns` exchanges before a message, as the prompt builder takes them."""
    rows = list(
        Message.objects.filter(
            conversation=conversation,
            pk__lt=before_id,
            role__in=[Message.Role.SHOPPER, Message.Role.BOT, Message.Role.STAFF],
            status=Message.Status.COMPLETE,
        )
        .exclude(text="")
        .order_by("-id")
        .values("role", "text")[: max(turns, 1) * 2]
    )
    return [{"role": row["role"], "text": row["text"]} for row in reversed(rows)]


def inbox_counts(*, merchant: Merchant) -> dict[str, int]:
    """{status: number of conversations} with every status present."""
    counts = dict.fromkeys(Conversation.Status.values, 0)
    for row in Conversation.objects.filter(merchant=merchant).values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return counts


@dataclass(frozen=True)
class ConversationFigures:
    """Chat at a glance, for the Overview."""

    today: int  # started since local midnight
    last_7_days: int
    handed_off: int
    unassigned: int  # handed off and not yet taken over by anyone

    @property
    def any(self) -> bool:
        return bool(self.last_7_days or self.handed_off)


def conversation_figures(*, merchant: Merchant, now: datetime | None = None) -> ConversationFigures:
    """One aggregate query over the merchant's conversations."""
    now = now or timezone.now()
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    handed_off = Q(status=Conversation.Status.HANDED_OFF)
    row = Conversation.objects.filter(merchant=merchant).aggregate(
        today=Count("id", filter=Q(created_at__gte=midnight)),
        last_7_days=Count("id", filter=Q(created_at__gte=now - timedelta(days=7))),
        handed_off=Count("id", filter=handed_off),
        unassigned=Count("id", filter=handed_off & Q(assigned_to__isnull=True)),
    )
    return ConversationFigures(**row)


# --- knowledge ---------------------------------------------------------------------------------------------


def knowledge_item_list(
    *, merchant: Merchant, kind: str | None = None, q: str | None = None, include_internal: bool = True
) -> QuerySet[KnowledgeItem]:
    queryset = KnowledgeItem.objects.filter(merchant=merchant)
    if kind:
        queryset = queryset.filter(kind=kind)
    if not include_internal:
        queryset = queryset.filter(is_internal=False)
    if q:
        queryset = queryset.filter(Q(title__icontains=q) | Q(body__icontains=q))
    return queryset.order_by("kind", "title", "id")


def knowledge_item_get(*, merchant: Merchant, pk) -> KnowledgeItem:
    return _get(KnowledgeItem.objects.filter(merchant=merchant), pk, "knowledge item")


def internal_knowledge_texts(*, merchant: Merchant) -> list[str]:
    """Bodies of staff-only items: a shopper-facing reply must never repeat them."""
    return list(
        KnowledgeItem.objects.filter(merchant=merchant, is_internal=True).values_list("body", flat=True)
    )


def products_needing_embedding(*, merchant_id: int) -> QuerySet[Product]:
    """Active products with no chat vector, or changed since theirs was computed."""
    return Product.objects.filter(merchant_id=merchant_id, is_active=True).filter(
        Q(chat_embedding__isnull=True) | Q(updated_at__gt=F("chat_embedding__updated_at"))
    )
