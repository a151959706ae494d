"""Dashboard pages for the knowledge the bot answers from: list and search, create, edit, delete and import.
Reads go through chat.selectors scoped to `request.merchant`; anyone in the merchant reads, changes take
"edit"."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.decorators import merchant_required
from chat.forms import (
    KnowledgeImportForm,
    KnowledgeItemForm,
    add_service_errors,
)
from chat.knowledge.services import (
    knowledge_import,
    knowledge_item_create,
    knowledge_item_delete,
    knowledge_item_update,
)
from chat.models import KnowledgeItem
from chat.selectors import (
    knowledge_item_get,
    knowledge_item_list,
)
from chat.views_common import SEARCH_MAX_CHARS, _actor, _wants_partial

KNOWLEDGE_PER_PAGE = 50

KNOWLEDGE_IMPORT_MAX_BYTES = 5 * 1024 * 1024

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
