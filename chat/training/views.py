"""The Chat training page: import support dialogues (with the import's report: masked personal data, duplicates,
per-row errors, splits), see the training data by split and source, start a full or incremental chat
fine-tune, and compare the chat versions it made (held-out perplexity, regression-set loss, the gate's verdict).

The work is chat.training's; these views only collect the form input, call it and say what happened. The job
itself is followed on the Models area's job page (live progress and loss curves), which every start links to.
Anyone in the merchant reads; importing and training take "edit". The page refreshes its data, jobs and
versions panels over HTMX when an import or a start changed them (the `training-changed` event)."""

from pathlib import PurePath

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db.models import Count
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.decorators import merchant_required
from accounts.selectors import object_get_or_404
from accounts.services import Actor
from chat.models import Conversation, DialogueImport, SupportDialogue
from chat.training.dialogues import (
    DialogueImportError,
    DialogueImportTooLarge,
    dialogue_import,
    split_counts,
    support_dialogue_list,
)
from chat.training.services import (
    HYPERPARAMETER_DEFAULTS,
    FinetuneRefused,
    chat_finetune_start,
    chat_incremental_finetune_start,
)
from ml.models import Job, ModelVersion, Purpose
from ml.selectors import job_list, serving_version

RECENT_IMPORTS = 5
EXAMPLE_DIALOGUES = 3
RECENT_JOBS = 5
VERSIONS_SHOWN = 10
DIALOGUE_EXTENSIONS = (".csv", ".jsonl", ".ndjson", ".json")
FORMAT_CHOICES = [
    ("", "Detect from the file"),
    ("bitext", "Bitext CSV (instruction, response, intent)"),
    ("turns_csv", "Turns CSV (conversation_id, role, text)"),
    ("turns_jsonl", 'Turns JSON Lines ({"turns": [...]})'),
]
PII_LABELS = {
    "email": "Email addresses",
    "phone": "Phone numbers",
    "order_number": "Order numbers",
    "card_number": "Card numbers",
    "iban": "Bank accounts (IBAN)",
    "address": "Street addresses",
    "url_with_token": "Links with tokens",
    "id_number": "ID numbers",
    "secret": "Passwords and PINs",
}
PARTS = {
    "data": "chat/partials/_training_data.html",
    "jobs": "chat/partials/_training_jobs.html",
    "versions": "chat/partials/_training_versions.html",
}


class DialogueImportForm(forms.Form):
    file = forms.FileField(label="Dialogue file (CSV or JSON Lines)")
    format = forms.ChoiceField(label="Layout", choices=FORMAT_CHOICES, required=False)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(DIALOGUE_EXTENSIONS):
            raise forms.ValidationError("Upload a .csv, .jsonl or .json file.")
        limit = settings.CHAT_DIALOGUE_IMPORT_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {filesizeformat(upload.size)}; the limit is {filesizeformat(limit)}.",
                code="too_large",
            )
        return upload


class ChatFinetuneForm(forms.Form):
    """What to train on and the few settings worth changing; blank settings keep chat.training's defaults,
    and chat.training judges the values (its field errors are put back on these fields)."""

    mode = forms.ChoiceField(
        label="Train on",
        initial="full",
        widget=forms.RadioSelect,
        choices=[("full", "All training dialogues"), ("incremental", "New resolved conversations")],
    )
    name = forms.CharField(
        label="Version name",
        max_length=200,
        required=False,
        help_text="Optional; defaults to the purpose and the date.",
    )
    max_steps = forms.IntegerField(
        label="Max steps", required=False, help_text="Optional cap on optimizer steps."
    )
    epochs = forms.IntegerField(
        label="Epochs", required=False, help_text="Passes over the training examples."
    )
    learning_rate = forms.FloatField(label="Learning rate", required=False)
    method = forms.ChoiceField(
        label="Method",
        required=False,
        initial="lora",
        choices=[("lora", "LoRA adapter"), ("full", "Full fine-tune")],
        help_text="LoRA trains a small adapter, fast; a full fine-tune changes every weight.",
    )
    auto_promote = forms.BooleanField(
        label="Promote if it passes the gate",
        required=False,
        initial=True,
        help_text="Goes live only if it beats the serving version on held-out dialogues and is no worse on the "
        "regression set.",
    )
    HYPERPARAMETERS = ("method", "epochs", "max_steps", "learning_rate")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("epochs", "learning_rate"):
            self.fields[name].widget.attrs["placeholder"] = f"{HYPERPARAMETER_DEFAULTS[name]:g}"
        self.fields["max_steps"].widget.attrs["placeholder"] = "no cap"
        self.fields["learning_rate"].widget.attrs["step"] = "any"

    def hyperparameters(self) -> dict:
        return {
            name: self.cleaned_data[name]
            for name in self.HYPERPARAMETERS
            if self.cleaned_data.get(name) not in (None, "")
        }

    def add_refusal(self, exc: FinetuneRefused) -> None:
        for name, errors in exc.field_errors.items():
            if name in self.fields:
                self.add_error(name, errors)
            else:
                self.add_error(None, [f"{name}: {error}" for error in errors])


def _actor(request) -> Actor:
    return Actor.for_user(request.user)


def _wants_partial(request) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


def _changed(response):
    response["HX-Trigger"] = "training-changed"
    return response


# ---------- Reads for the page ----------


def _source_counts(merchant) -> list[dict]:
    """Each split's dialogues by where they came from (imported files, resolved conversations)."""
    rows = SupportDialogue.objects.filter(merchant=merchant).values("split", "source").annotate(n=Count("id"))
    by_split = {(row["split"], row["source"]): row["n"] for row in rows}
    totals = split_counts(merchant=merchant)
    return [
        {
            "value": split,
            "label": label,
            "total": totals.get(split, 0),
            "imported": by_split.get((split, SupportDialogue.Source.IMPORT), 0),
            "conversations": by_split.get((split, SupportDialogue.Source.CONVERSATION), 0),
        }
        for split, label in SupportDialogue.Split.choices
    ]


def _report(batch: DialogueImport) -> dict:
    errors = batch.errors if isinstance(batch.errors, list) else []
    masked = batch.masked_counts if isinstance(batch.masked_counts, dict) else {}
    splits = {row["split"]: row["n"] for row in batch.dialogues.values("split").annotate(n=Count("id"))}
    return {
        "batch": batch,
        "errors": errors,
        "duplicates": max(0, batch.rows_total - len(errors) - batch.rows_imported),
        "masked": [
            {"kind": kind, "label": PII_LABELS.get(kind, kind.replace("_", " ").capitalize()), "count": count}
            for kind, count in masked.items()
        ],
        "masked_total": sum(masked.values()),
        "splits": [(label, splits.get(value, 0)) for value, label in SupportDialogue.Split.choices],
    }


def _data_context(merchant) -> dict:
    splits = _source_counts(merchant)
    return {
        "splits": splits,
        "total_dialogues": sum(row["total"] for row in splits),
        "waiting_conversations": Conversation.objects.filter(
            merchant=merchant, status=Conversation.Status.RESOLVED, trained_in__isnull=True
        ).count(),
        "imports": [
            _report(batch) for batch in DialogueImport.objects.filter(merchant=merchant)[:RECENT_IMPORTS]
        ],
        "examples": list(support_dialogue_list(merchant=merchant)[:EXAMPLE_DIALOGUES]),
        "min_dialogues": settings.CHAT_FINETUNE_MIN_DIALOGUES,
    }


def _chat_jobs(merchant):
    return job_list(merchant=merchant, kind=Job.Kind.FINETUNE).filter(params__purpose=Purpose.CHAT)


def _jobs_context(merchant) -> dict:
    jobs = list(_chat_jobs(merchant)[:RECENT_JOBS])
    return {"jobs": jobs, "running_job": next((job for job in jobs if job.is_active), None)}


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _version_row(version: ModelVersion, serving: ModelVersion | None) -> dict:
    metrics = version.metrics if isinstance(version.metrics, dict) else {}
    reduction = _number(metrics.get("perplexity_reduction"))
    promotion = metrics.get("promotion") if isinstance(metrics.get("promotion"), dict) else {}
    return {
        "version": version,
        "serving": serving is not None and serving.pk == version.pk,
        "base_perplexity": _number(metrics.get("base_heldout_perplexity")),
        "tuned_perplexity": _number(metrics.get("tuned_heldout_perplexity")),
        "reduction_pct": reduction * 100 if reduction is not None else None,
        "heldout_examples": metrics.get("heldout_examples"),
        "regression_before": _number(metrics.get("parent_regression_loss")),
        "regression_after": _number(metrics.get("regression_loss")),
        "promoted": promotion.get("promoted"),
        "verdict": promotion.get("reason", ""),
        "job": next(iter(version.produced_by.all()), None),
    }


def _versions_context(merchant) -> dict:
    serving = serving_version(merchant=merchant, purpose=Purpose.CHAT)
    versions = (
        ModelVersion.objects.filter(merchant=merchant, purpose=Purpose.CHAT)
        .select_related("parent")
        .prefetch_related("produced_by")
        .order_by("-created_at", "-id")[:VERSIONS_SHOWN]
    )
    return {"serving": serving, "versions": [_version_row(v, serving) for v in versions]}


def _page_context(request, **extra) -> dict:
    merchant = request.merchant
    can_edit = request.membership.can("edit")
    context = {
        "section": "chat",
        "can_edit": can_edit,
        **_data_context(merchant),
        **_jobs_context(merchant),
        **_versions_context(merchant),
    }
    if can_edit:
        context.setdefault("import_form", DialogueImportForm())
        context.setdefault("finetune_form", ChatFinetuneForm())
    context.update(extra)
    return context


# ---------- Views ----------


@merchant_required()
@require_GET
@vary_on_headers("HX-Request")
def training_view(request):
    part = request.GET.get("part", "")
    if _wants_partial(request) and part in PARTS:
        merchant = request.merchant
        loaders = {"data": _data_context, "jobs": _jobs_context, "versions": _versions_context}
        context = {"can_edit": request.membership.can("edit"), **loaders[part](merchant)}
        return render(request, PARTS[part], context)
    return render(request, "chat/training.html", _page_context(request))


@merchant_required("edit")
@require_POST
def training_import_view(request):
    form = DialogueImportForm(request.POST, request.FILES)
    report, failure, status = None, None, 200
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            batch = dialogue_import(
                merchant=request.merchant,
                actor=_actor(request),
                data=upload.read(),
                filename=PurePath(upload.name).name,
                format=form.cleaned_data["format"] or None,
            )
        except DialogueImportTooLarge as exc:
            form.add_error("file", exc.message)
            status = 422
        except DialogueImportError as exc:
            # Said once, above the form, with the refused rows under it.
            failure = {"message": exc.message, "errors": exc.errors}
            status = 422
        else:
            report = _report(batch)
    else:
        status = 422
    context = {
        "import_form": DialogueImportForm() if report else form,
        "report": report,
        "failure": failure,
        "can_edit": True,
    }
    if _wants_partial(request):
        response = render(request, "chat/partials/_training_import.html", context, status=status)
        return _changed(response) if report else response
    if report:
        messages.success(request, f"Imported {report['batch'].rows_imported} new dialogue(s).")
        return redirect("chat:training_import", import_id=report["batch"].pk)
    return render(request, "chat/training.html", _page_context(request, **context), status=status)


@merchant_required()
@require_GET
def training_import_detail_view(request, import_id: int):
    batch = object_get_or_404(DialogueImport.objects.filter(merchant=request.merchant), import_id, "import")
    return render(request, "chat/training_import.html", {"section": "chat", "report": _report(batch)})


@merchant_required("edit")
@require_POST
def training_start_view(request):
    form = ChatFinetuneForm(request.POST)
    job, refusal, status = None, None, 200
    if form.is_valid():
        data = form.cleaned_data
        start = chat_incremental_finetune_start if data["mode"] == "incremental" else chat_finetune_start
        try:
            job = start(
                merchant=request.merchant,
                actor=_actor(request),
                hyperparameters=form.hyperparameters(),
                name=data["name"],
                auto_promote=data["auto_promote"],
            )
        except FinetuneRefused as exc:
            if exc.field_errors:
                form.add_refusal(exc)
                status = 422
            else:
                refusal = {"code": exc.code, "message": exc.message, "conflict": exc.conflict}
                status = 409 if exc.conflict else 422
    else:
        status = 422
    running = (
        _jobs_context(request.merchant)["running_job"]
        if refusal and refusal["code"] == "already_running"
        else None
    )
    context = {
        "finetune_form": ChatFinetuneForm() if job else form,
        "started": job,
        "refusal": refusal,
        "refused_running": running,
        "can_edit": True,
    }
    if _wants_partial(request):
        response = render(request, "chat/partials/_training_finetune.html", context, status=status)
        return _changed(response) if job else response
    if job:
        messages.success(request, f"Fine-tuning job #{job.pk} is queued; follow it on its page.")
        return redirect("chat:training")
    return render(request, "chat/training.html", _page_context(request, **context), status=status)
