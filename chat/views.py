"""Dashboard pages for customer-service chat: the inbox, a conversation (live thread, take over, reply, hand
back, resolve, rate and correct bot replies), the knowledge the bot answers from, the chat settings with the
embed snippet; and, for storefronts, the widget script and the demo store page.

Reads go through chat.selectors scoped to `request.merchant` (another merchant's ids answer 404); writes
through chat.services. Anyone in the merchant reads; acting on conversations takes a role that changes things
(editors, reviewers, owners), knowledge takes "edit" and settings "manage".

A conversation page stays live by polling `conversation_updates` every 2 s with a cursor: `after` is the last
message id before which everything is settled (complete or failed), `seen` the newest id on the page. The
answer appends new messages, replaces unsettled ones (a bot reply streaming in), and refreshes the side panel
and the composer when the conversation's state changed (a handoff, another staff member taking over)."""

import hashlib
from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.decorators import merchant_required
from accounts.models import Merchant
from accounts.services import Actor
from catalog.selectors import product_list
from chat.forms import (
    ChatSettingsForm,
    CorrectionForm,
    KnowledgeImportForm,
    KnowledgeItemForm,
    RatingForm,
    StaffReplyForm,
    add_service_errors,
)
from chat.models import DEFAULT_HANDOFF_TOPICS, ChatSettings, Conversation, KnowledgeItem, Message
from chat.selectors import (
    chat_settings_for_widget,
    chat_settings_get,
    conversation_get,
    conversation_list,
    inbox_counts,
    knowledge_item_get,
    knowledge_item_list,
    message_get,
    message_list,
)
from chat.services import (
    chat_settings_update,
    conversation_hand_back,
    conversation_resolve,
    conversation_take_over,
    knowledge_import,
    knowledge_item_create,
    knowledge_item_delete,
    knowledge_item_update,
    message_correct,
    message_rate,
    staff_reply,
    widget_token_rotate,
)

CONVERSATIONS_PER_PAGE = 25
KNOWLEDGE_PER_PAGE = 50
SEARCH_MAX_CHARS = 200
KNOWLEDGE_IMPORT_MAX_BYTES = 5 * 1024 * 1024
DEMO_STORE_PRODUCTS = 6
SETTLED = {Message.Status.COMPLETE, Message.Status.FAILED}
INBOX_TABS = [
    (Conversation.Status.OPEN, "Open"),
    (Conversation.Status.HANDED_OFF, "Handed off"),
    (Conversation.Status.RESOLVED, "Resolved"),
    ("all", "All"),
]
ACT_PERMISSIONS = ("edit", "review")


def _wants_partial(request) -> bool:
    # A history-restore request (back button after a cache miss) needs the whole page, not the fragment.
    return bool(request.htmx) and not request.htmx.history_restore_request


def _actor(request) -> Actor:
    return Actor.for_user(request.user)


def _can_act(request) -> bool:
    return any(request.membership.can(permission) for permission in ACT_PERMISSIONS)


def chat_staff_required(view):
    """Support work (taking over, replying, rating) is for editors, reviewers and owners; viewers only read."""

    @merchant_required()
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not _can_act(request):
            raise PermissionDenied(f"Your role ({request.membership.role}) cannot act on conversations.")
        return view(request, *args, **kwargs)

    return wrapped


def _int(value, default: int = 0) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return default


def _widget_snippet(request, chat_settings: ChatSettings) -> str:
    src = request.build_absolute_uri(reverse("chat_widget_script", args=[chat_settings.widget_token]))
    return f'<script src="{src}" async></script>'


# ---------- Inbox ----------


def _with_preview(conversations) -> list[Conversation]:
    """Each row shows the latest thing said (a page holds at most CONVERSATIONS_PER_PAGE rows); notices (system
    messages, the bot's canned handoff line) say less than the message before them."""
    rows = list(conversations)
    for conversation in rows:
        conversation.preview = (
            message_list(conversation=conversation)
            .exclude(role=Message.Role.SYSTEM)
            .exclude(handoff=True)
            .exclude(text="")
            .order_by("-id")
            .first()
        )
    return rows


@merchant_required()
@vary_on_headers("HX-Request")
def inbox_view(request):
    merchant = request.merchant
    counts = inbox_counts(merchant=merchant)
    total = sum(counts.values())
    valid = [value for value, _ in INBOX_TABS]
    status = request.GET.get("status", "")
    if status not in valid:
        # Land where staff are needed: handed-off conversations wait for a person.
        status = (
            Conversation.Status.HANDED_OFF
            if counts.get(Conversation.Status.HANDED_OFF)
            else Conversation.Status.OPEN
        )
    query = request.GET.get("q", "").strip()[:SEARCH_MAX_CHARS]
    conversations = conversation_list(
        merchant=merchant, status=None if status == "all" else status, q=query or None
    )
    page = Paginator(conversations, CONVERSATIONS_PER_PAGE).get_page(request.GET.get("page"))

    def url(**params) -> str:
        params = {"status": status, "q": query, **params}
        return reverse("chat:inbox") + "?" + urlencode({k: v for k, v in params.items() if v})

    tabs = [
        {
            "value": value,
            "label": label,
            "current": value == status,
            "url": url(status=value),
            "count": total if value == "all" else counts.get(value, 0),
        }
        for value, label in INBOX_TABS
    ]
    page_urls = {
        "previous": url(page=page.previous_page_number()) if page.has_previous() else "",
        "next": url(page=page.next_page_number()) if page.has_next() else "",
    }
    context = {
        "section": "chat",
        "page": page,
        "conversations": _with_preview(page.object_list),
        "tabs": tabs,
        "page_urls": page_urls,
        # The list refreshes itself every few seconds; those polls do not announce the result count again.
        "poll_url": url(page=page.number if page.number > 1 else "", poll=1),
        "is_poll": bool(request.GET.get("poll")),
        "status": status,
        "query": query,
        "total": total,
        "can_act": _can_act(request),
    }
    if not total:
        chat_settings = chat_settings_get(merchant=merchant)
        context.update(chat_settings=chat_settings, snippet=_widget_snippet(request, chat_settings))
    if _wants_partial(request):
        return render(request, "chat/partials/_inbox_results.html", context)
    return render(request, "chat/inbox.html", context)


# ---------- One conversation ----------


def _cursor(after: int, items: list[Message]) -> int:
    """The newest id up to which every message is settled; the next poll asks for what comes after it."""
    for item in items:
        if item.status not in SETTLED:
            break
        after = item.pk
    return after


def _state(conversation: Conversation) -> str:
    return f"{conversation.status}:{conversation.assigned_to_id or ''}"


def _conversation_context(request, conversation: Conversation, **extra) -> dict:
    can_act = _can_act(request)
    return {
        "section": "chat",
        "conversation": conversation,
        "can_act": can_act,
        "assigned_to_me": conversation.assigned_to_id == request.user.pk,
        "state": _state(conversation),
        "reply_form": extra.pop("reply_form", None) or StaffReplyForm(),
        **extra,
    }


@merchant_required()
def conversation_view(request, conversation_id: int):
    conversation = conversation_get(merchant=request.merchant, pk=conversation_id)
    thread = list(message_list(conversation=conversation))
    context = _conversation_context(
        request,
        conversation,
        thread=thread,
        after=_cursor(0, thread),
        seen=thread[-1].pk if thread else 0,
    )
    return render(request, "chat/conversation.html", context)


@merchant_required()
@require_GET
@vary_on_headers("HX-Request")
def conversation_updates_view(request, conversation_id: int):
    conversation = conversation_get(merchant=request.merchant, pk=conversation_id)
    if not _wants_partial(request):
        return redirect("chat:conversation", conversation_id=conversation.pk)
    after = _int(request.GET.get("after"))
    seen = _int(request.GET.get("seen"))
    items = list(message_list(conversation=conversation, after_id=after))
    context = _conversation_context(
        request,
        conversation,
        new_messages=[item for item in items if item.pk > seen],
        changed_messages=[item for item in items if item.pk <= seen],
        after=_cursor(after, items),
        seen=max([seen] + [item.pk for item in items]),
        panel_changed=request.GET.get("state", "") != _state(conversation),
        composer_changed=request.GET.get("composer", "") != conversation.status,
    )
    return render(request, "chat/partials/_thread_updates.html", context)


def _after_action(
    request,
    conversation: Conversation,
    *,
    notice: str,
    reply_form=None,
    status: int = 200,
    include_composer: bool = True,
):
    """An HTMX action answers with the fresh side panel and composer and asks the thread to poll now (the
    system or staff message the action wrote arrives through the poll, like every other message). A plain
    form post is redirected back to the conversation."""
    if not _wants_partial(request):
        if status == 200:
            messages.success(request, notice)
        else:
            messages.error(request, notice)
        return redirect("chat:conversation", conversation_id=conversation.pk)
    context = _conversation_context(
        request,
        conversation,
        notice=notice,
        notice_ok=status == 200,
        reply_form=reply_form,
        include_composer=include_composer,
    )
    response = render(request, "chat/partials/_conversation_action.html", context, status=status)
    response["HX-Trigger"] = "chat-refresh"
    return response


def _conversation_action(service, success: str):
    @chat_staff_required
    @require_POST
    def view(request, conversation_id: int):
        conversation = conversation_get(merchant=request.merchant, pk=conversation_id)
        before = conversation.status
        try:
            service(conversation=conversation, actor=_actor(request))
        except ValidationError as exc:
            conversation = conversation_get(merchant=request.merchant, pk=conversation_id)
            return _after_action(
                request,
                conversation,
                notice=" ".join(exc.messages),
                status=409,
                include_composer=before != conversation.status,
            )
        conversation = conversation_get(merchant=request.merchant, pk=conversation_id)
        # The composer is replaced only when it has to change, so a reply being typed survives a take-over.
        return _after_action(
            request, conversation, notice=success, include_composer=before != conversation.status
        )

    return view


take_over_view = _conversation_action(
    conversation_take_over, "You have taken over. The bot stays quiet until you hand the conversation back."
)
hand_back_view = _conversation_action(
    conversation_hand_back, "Handed back: the bot answers the next message."
)
resolve_view = _conversation_action(conversation_resolve, "Resolved.")


@chat_staff_required
@require_POST
def reply_view(request, conversation_id: int):
    conversation = conversation_get(merchant=request.merchant, pk=conversation_id)
    form = StaffReplyForm(request.POST)
    if not form.is_valid():
        return _after_action(
            request, conversation, notice="Write a reply first.", reply_form=form, status=422
        )
    try:
        staff_reply(conversation=conversation, text=form.cleaned_data["text"], actor=_actor(request))
    except ValidationError as exc:
        add_service_errors(form, exc)
        conversation = conversation_get(merchant=request.merchant, pk=conversation_id)
        return _after_action(
            request, conversation, notice=" ".join(exc.messages), reply_form=form, status=409
        )
    conversation = conversation_get(merchant=request.merchant, pk=conversation_id)
    return _after_action(request, conversation, notice="Reply sent.")


def _bot_message_get(request, conversation_id: int, message_id: int) -> Message:
    """A bot reply in one of the current merchant's conversations (the conversation lookup is owner-checked)."""
    conversation = conversation_get(merchant=request.merchant, pk=conversation_id)
    message = message_get(conversation=conversation, pk=message_id)
    if message.role != Message.Role.BOT:
        raise Http404("No such reply.")
    message.conversation = conversation
    return message


def _message_answer(request, message: Message, *, correction_form=None, status: int = 200):
    if not _wants_partial(request):
        return redirect(
            reverse("chat:conversation", args=[message.conversation_id]) + f"#message-{message.pk}"
        )
    context = {
        "message": message,
        "can_act": _can_act(request),
        "correction_form": correction_form,
        "conversation": message.conversation,
    }
    return render(request, "chat/partials/_message.html", context, status=status)


@chat_staff_required
@require_POST
def message_rate_view(request, conversation_id: int, message_id: int):
    message = _bot_message_get(request, conversation_id, message_id)
    form = RatingForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Rating must be 1 or -1.", status=400)
    rating = form.cleaned_data["rating"]
    if message.rating == rating:  # pressing the pressed thumb again takes the rating back
        rating = None
    try:
        message = message_rate(message=message, rating=rating, actor=_actor(request)) or message
    except ValidationError as exc:
        return HttpResponse(" ".join(exc.messages), status=409)
    message = _bot_message_get(request, conversation_id, message_id)
    return _message_answer(request, message)


@chat_staff_required
@require_POST
def message_correct_view(request, conversation_id: int, message_id: int):
    message = _bot_message_get(request, conversation_id, message_id)
    form = CorrectionForm(request.POST)
    if form.is_valid():
        try:
            message_correct(
                message=message, correction=form.cleaned_data["correction"], actor=_actor(request)
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return _message_answer(request, _bot_message_get(request, conversation_id, message_id))
    if not _wants_partial(request):
        messages.error(
            request,
            "The correction was not saved: "
            + " ".join(error for errors in form.errors.values() for error in errors),
        )
    return _message_answer(request, message, correction_form=form, status=422)


# ---------- Knowledge ----------


KNOWLEDGE_KINDS = [("", "All kinds")] + list(KnowledgeItem.Kind.choices)


def _knowledge_filters(request) -> dict:
    kind = request.GET.get("kind", "")
    if kind not in KnowledgeItem.Kind.values:
        kind = ""
    return {"kind": kind, "q": request.GET.get("q", "").strip()[:SEARCH_MAX_CHARS]}


def _knowledge_context(request, **extra) -> dict:
    merchant = request.merchant
    filters = _knowledge_filters(request)
    items = knowledge_item_list(merchant=merchant, kind=filters["kind"] or None, q=filters["q"] or None)
    page = Paginator(items, KNOWLEDGE_PER_PAGE).get_page(request.GET.get("page"))
    return {
        "section": "chat",
        "page": page,
        "items": page.object_list,
        "filters": filters,
        "filtered": bool(filters["kind"] or filters["q"]),
        "kinds": KNOWLEDGE_KINDS,
        "has_any": filters["kind"]
        or filters["q"]
        or page.paginator.count
        or knowledge_item_list(merchant=merchant).exists(),
        "can_edit": request.membership.can("edit"),
        **extra,
    }


@merchant_required()
@vary_on_headers("HX-Request")
def knowledge_list_view(request):
    if _wants_partial(request):
        return render(request, "chat/partials/_knowledge_results.html", _knowledge_context(request))
    context = _knowledge_context(request, create_form=KnowledgeItemForm(), import_form=KnowledgeImportForm())
    return render(request, "chat/knowledge.html", context)


def _knowledge_changed(response):
    response["HX-Trigger"] = "knowledge-changed"
    return response


@merchant_required("edit")
@require_POST
def knowledge_create_view(request):
    merchant = request.merchant
    form = KnowledgeItemForm(request.POST)
    if form.is_valid():
        try:
            item = knowledge_item_create(merchant=merchant, actor=_actor(request), **form.service_kwargs())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if not _wants_partial(request):
                messages.success(request, f"Added “{item.title}”.")
                return redirect("chat:knowledge")
            context = {"create_form": KnowledgeItemForm(), "created": item}
            return _knowledge_changed(render(request, "chat/partials/_knowledge_create.html", context))
    if _wants_partial(request):
        return render(request, "chat/partials/_knowledge_create.html", {"create_form": form}, status=422)
    context = _knowledge_context(request, create_form=form, import_form=KnowledgeImportForm())
    return render(request, "chat/knowledge.html", context, status=422)


def _knowledge_item_get(request, item_id: int) -> KnowledgeItem:
    return knowledge_item_get(merchant=request.merchant, pk=item_id)


@merchant_required()
@require_GET
def knowledge_item_view(request, item_id: int):
    """One item's row (htmx: after Cancel), or the list scrolled to it."""
    item = _knowledge_item_get(request, item_id)
    if not _wants_partial(request):
        return redirect(reverse("chat:knowledge") + f"#knowledge-{item.pk}")
    return render(
        request,
        "chat/partials/_knowledge_item.html",
        {"item": item, "can_edit": request.membership.can("edit")},
    )


@merchant_required("edit")
def knowledge_edit_view(request, item_id: int):
    item = _knowledge_item_get(request, item_id)
    if request.method != "POST":
        form = KnowledgeItemForm(instance=item)
        template = (
            "chat/partials/_knowledge_edit.html" if _wants_partial(request) else "chat/knowledge_edit.html"
        )
        return render(request, template, {"section": "chat", "item": item, "form": form})
    form = KnowledgeItemForm(request.POST, instance=item)
    if form.is_valid():
        try:
            item = knowledge_item_update(
                merchant=request.merchant,
                actor=_actor(request),
                item=_knowledge_item_get(request, item_id),
                **form.service_kwargs(),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if not _wants_partial(request):
                messages.success(request, f"Saved “{item.title}”.")
                return redirect(reverse("chat:knowledge") + f"#knowledge-{item.pk}")
            item = _knowledge_item_get(request, item_id)
            return render(
                request, "chat/partials/_knowledge_item.html", {"item": item, "can_edit": True, "saved": True}
            )
    item = _knowledge_item_get(request, item_id)
    template = "chat/partials/_knowledge_edit.html" if _wants_partial(request) else "chat/knowledge_edit.html"
    return render(request, template, {"section": "chat", "item": item, "form": form}, status=422)


@merchant_required("edit")
@require_POST
def knowledge_delete_view(request, item_id: int):
    item = _knowledge_item_get(request, item_id)
    title = item.title
    knowledge_item_delete(merchant=request.merchant, actor=_actor(request), item=item)
    if not _wants_partial(request):
        messages.success(request, f"Deleted “{title}”.")
        return redirect("chat:knowledge")
    return _knowledge_changed(HttpResponse(""))


@merchant_required("edit")
@require_POST
def knowledge_import_view(request):
    merchant = request.merchant
    form = KnowledgeImportForm(request.POST, request.FILES)
    report = None
    status = 200
    if form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > KNOWLEDGE_IMPORT_MAX_BYTES:
            form.add_error(
                "file", f"The file is larger than {KNOWLEDGE_IMPORT_MAX_BYTES // (1024 * 1024)} MiB."
            )
            status = 413
        else:
            try:
                report = knowledge_import(
                    merchant=merchant, actor=_actor(request), data=upload.read(), filename=upload.name
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
                status = 422
    else:
        status = 422
    context = {
        "import_form": KnowledgeImportForm() if report and report["applied"] else form,
        "report": report,
    }
    if _wants_partial(request):
        response = render(request, "chat/partials/_knowledge_import.html", context, status=status)
        return _knowledge_changed(response) if report and report["applied"] else response
    context = _knowledge_context(request, create_form=KnowledgeItemForm(), **context)
    return render(request, "chat/knowledge.html", context, status=status)


# ---------- Settings ----------


@merchant_required()
def settings_view(request):
    merchant = request.merchant
    chat_settings = chat_settings_get(merchant=merchant)
    can_manage = request.membership.can("manage")
    status = 200
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied(f"Your role ({request.membership.role}) cannot change chat settings.")
        # The form validates a copy: a refused change must not leak into the snippet shown beside it.
        form = ChatSettingsForm(request.POST, instance=chat_settings_get(merchant=merchant))
        if form.is_valid():
            try:
                chat_settings_update(merchant=merchant, actor=_actor(request), **form.service_kwargs())
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, "Chat settings saved.")
                return redirect("chat:settings")
        status = 422
    else:
        form = ChatSettingsForm(instance=chat_settings)
    if not can_manage:
        for field in form.fields.values():
            field.disabled = True
    context = {
        "section": "chat",
        "form": form,
        "chat_settings": chat_settings,
        "snippet": _widget_snippet(request, chat_settings),
        "can_manage": can_manage,
        "default_topics": DEFAULT_HANDOFF_TOPICS,
        "demo_store": settings.DEBUG,
    }
    return render(request, "chat/settings.html", context, status=status)


@merchant_required("manage")
@require_POST
def rotate_token_view(request):
    widget_token_rotate(merchant=request.merchant, actor=_actor(request))
    messages.success(
        request,
        "New widget token issued. Paste the new snippet into your storefront; the old one no longer works.",
    )
    return redirect("chat:settings")


# ---------- Storefront side: widget script and demo store ----------


def _widget_source() -> bytes:
    path = finders.find("chat/widget.js")
    if path is None:
        raise Http404("The widget script is missing.")
    with open(path, "rb") as handle:
        return handle.read()


@require_GET
@cache_control(public=True, max_age=300)
def widget_script_view(request, token: str):
    """The widget for storefront pages. Public: it holds nothing secret, and learns its token and the
    Storyfront origin from its own URL. Unknown tokens and switched-off widgets answer 404, so a storefront
    shows no bubble at all instead of one that cannot talk."""
    chat_settings = chat_settings_for_widget(token=token)
    if not (chat_settings.widget_enabled and chat_settings.merchant.is_active):
        raise Http404("No such widget.")
    source = _widget_source()
    etag = '"' + hashlib.sha256(source).hexdigest()[:32] + '"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(source, content_type="text/javascript; charset=utf-8")
    response["ETag"] = etag
    response["X-Content-Type-Options"] = "nosniff"
    # Any storefront may load the script; what it can do is limited by the origin checks of the endpoints.
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


def _one_per_category(products) -> list:
    """A shop window: the first product of each category, up to DEMO_STORE_PRODUCTS."""
    chosen, seen = [], set()
    for product in products[: DEMO_STORE_PRODUCTS * 20]:
        if product.category_id not in seen:
            seen.add(product.category_id)
            chosen.append(product)
            if len(chosen) == DEMO_STORE_PRODUCTS:
                break
    return chosen


@require_GET
def demo_store_view(request):
    """A pretend storefront with the demo merchant's widget, for `make demo`. Only in DEBUG (local) runs."""
    if not settings.DEBUG:
        raise Http404("The demo store is only served in local development.")
    merchant = Merchant.objects.filter(slug=request.GET.get("merchant", "demo"), is_active=True).first()
    if merchant is None:
        raise Http404("No demo merchant; run `manage.py demo_setup` and `manage.py demo_chat` first.")
    chat_settings = chat_settings_get(merchant=merchant)
    context = {
        "merchant": merchant,
        "products": _one_per_category(product_list(merchant=merchant, is_active=True).order_by("id")),
        "widget_src": request.build_absolute_uri(
            reverse("chat_widget_script", args=[chat_settings.widget_token])
        ),
        "widget_enabled": chat_settings.widget_enabled,
    }
    return render(request, "chat/demo_store.html", context)
