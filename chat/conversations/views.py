"""Dashboard pages for support conversations: the inbox and a conversation (live thread, take over, reply, hand
back, resolve, rate and correct bot replies).

Reads go through chat.selectors scoped to `request.merchant` (another merchant's ids answer 404); writes
through chat.conversations.services. Anyone in the merchant reads; acting on conversations takes a role that
changes things (editors, reviewers, owners).

A conversation page stays live by polling `conversation_updates` every 2 s with a cursor: `after` is the last
message id before which everything is settled (complete or failed), `seen` the newest id on the page. The
answer appends new messages, replaces unsettled ones (a bot reply streaming in), and refreshes the side panel
and the composer when the conversation's state changed (a handoff, another staff member taking over)."""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.decorators import merchant_required
from chat.conversations.services import (
    conversation_hand_back,
    conversation_resolve,
    conversation_take_over,
    message_correct,
    message_rate,
    staff_reply,
)
from chat.forms import (
    CorrectionForm,
    RatingForm,
    StaffReplyForm,
    add_service_errors,
)
from chat.models import Conversation, Message
from chat.selectors import (
    chat_settings_get,
    conversation_get,
    conversation_list,
    inbox_counts,
    message_get,
    message_list,
)
from chat.views_common import (
    SEARCH_MAX_CHARS,
    _actor,
    _can_act,
    _int,
    _wants_partial,
    _widget_snippet,
    chat_staff_required,
)

CONVERSATIONS_PER_PAGE = 25


SETTLED = {Message.Status.COMPLETE, Message.Status.FAILED}
INBOX_TABS = [
    (Conversation.Status.OPEN, "Open"),
    (Conversation.Status.HANDED_OFF, "Handed off"),
    (Conversation.Status.RESOLVED, "Resolved"),
    ("all", "All"),
]


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
