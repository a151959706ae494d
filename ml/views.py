"""Dashboard pages for models: what serves each purpose, the registry with promotion through the evaluation
gate and rollback, starting fine-tuning runs, and jobs with live progress and loss curves. Reads go through
ml.selectors scoped to `request.merchant`; writes through ml.services."""

import math
from pathlib import PurePath

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.decorators import merchant_required
from accounts.services import Actor
from ml.api.serializers import MIN_RECORDS
from ml.forms import FinetuneForm
from ml.models import Job, ModelVersion, Purpose, TrainingDataset
from ml.selectors import (
    base_model_default,
    deployment_active,
    deployment_history,
    job_get,
    job_list,
    model_version_get,
    model_version_list,
    serving_version,
)
from ml.services import (
    PromotionRefused,
    finetune_start,
    job_cancel,
    promotion_gate,
    training_dataset_create,
    version_promote,
    version_rollback,
)

JOBS_PER_PAGE = 25
RECENT_JOBS = 5
HISTORY_SHOWN = 5
LOG_LINES_SHOWN = 40


def _wants_partial(request) -> bool:
    # A history-restore request (back button after a cache miss) needs the whole page, not the fragment.
    return bool(request.htmx) and not request.htmx.history_restore_request


# ---------- Models page ----------


@merchant_required()
def model_list_view(request):
    merchant = request.merchant
    versions = list(model_version_list(merchant=merchant))
    purposes = [_purpose_panel(merchant, value, label) for value, label in Purpose.choices]
    serving_ids = {panel["value"]: panel["version"].pk for panel in purposes if panel["version"]}
    # The merchant's own versions first; the shared base models they grow from after them.
    versions.sort(key=lambda v: v.merchant_id is None)
    context = {
        "section": "models",
        "purposes": purposes,
        "rows": [_registry_row(version, serving_ids) for version in versions],
        "has_finetuned": any(v.merchant_id for v in versions),
        "has_base": base_model_default() is not None,
        "jobs": [_with_display(job) for job in job_list(merchant=merchant)[:RECENT_JOBS]],
        "can_edit": request.membership.can("edit"),
        "can_publish": request.membership.can("publish"),
        "min_records": MIN_RECORDS,
    }
    return render(request, "ml/model_list.html", context)


def _purpose_panel(merchant, value: str, label: str) -> dict:
    deployment = deployment_active(merchant=merchant, purpose=value)
    history = list(deployment_history(merchant=merchant, purpose=value))
    restores = None
    if deployment is not None:
        # Mirrors version_rollback's choice so the button can say what it will restore; the service decides.
        restores = next(
            (
                d.version
                for d in history
                if not d.is_active and d.pk < deployment.pk and d.rolled_back_at is None
            ),
            None,
        )
    return {
        "value": value,
        "label": label,
        "version": serving_version(merchant=merchant, purpose=value),
        "deployment": deployment,
        "restores": restores,
        "history": history[:HISTORY_SHOWN],
        "history_more": max(0, len(history) - HISTORY_SHOWN),
    }


def _registry_row(version: ModelVersion, serving_ids: dict) -> dict:
    metrics = version.metrics if isinstance(version.metrics, dict) else {}
    eval_loss, parent_loss = _number(metrics.get("eval_loss")), _number(metrics.get("parent_eval_loss"))
    serves = [value for value, version_id in serving_ids.items() if version_id == version.pk]
    if version.status != ModelVersion.Status.READY:
        promote_to = []
    elif version.purpose:
        promote_to = [] if version.purpose in serves else [version.purpose]
    else:
        promote_to = [value for value in Purpose.values if value not in serves]
    return {
        "version": version,
        "eval_loss": eval_loss,
        "parent_eval_loss": parent_loss,
        "change_pct": (eval_loss - parent_loss) / parent_loss * 100
        if eval_loss is not None and parent_loss
        else None,
        "serves": [Purpose(value).label for value in serves],
        "promote_to": [(value, Purpose(value).label) for value in promote_to],
        "gate": promotion_gate(version) if promote_to else None,
    }


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


@merchant_required("publish")
@require_POST
def version_promote_view(request, version_id: int):
    version = model_version_get(merchant=request.merchant, version_id=version_id)
    purpose = request.POST.get("purpose") or version.purpose
    if purpose not in Purpose.values:
        return HttpResponseBadRequest("Choose a purpose to promote the version for: copy or chat.")
    label = Purpose(purpose).label.lower()
    try:
        version_promote(
            merchant=request.merchant, version=version, purpose=purpose, actor=Actor.for_user(request.user)
        )
    except PromotionRefused as exc:
        messages.error(request, f"“{version.name}” was not promoted: {exc}")
    else:
        messages.success(request, f"“{version.name}” now serves {label}.")
    return redirect("ml:model_list")


@merchant_required("publish")
@require_POST
def rollback_view(request):
    purpose = request.POST.get("purpose", "")
    if purpose not in Purpose.values:
        return HttpResponseBadRequest("Choose a purpose to roll back: copy or chat.")
    label = Purpose(purpose).label.lower()
    try:
        restored = version_rollback(
            merchant=request.merchant, purpose=purpose, actor=Actor.for_user(request.user)
        )
    except PromotionRefused as exc:
        messages.error(request, str(exc))
    else:
        if restored is None:
            messages.success(request, f"Rolled back: the default base model serves {label} again.")
        else:
            messages.success(request, f"Rolled back: “{restored.version.name}” serves {label} again.")
    return redirect("ml:model_list")


# ---------- Fine-tuning ----------


@merchant_required("edit")
def finetune_view(request):
    merchant = request.merchant
    if request.method != "POST":
        # The serving cards link here with their purpose preselected.
        initial = {"purpose": request.GET["purpose"]} if request.GET.get("purpose") in Purpose.values else {}
        return _finetune_page(request, FinetuneForm(initial=initial, merchant=merchant))
    form = FinetuneForm(request.POST, request.FILES, merchant=merchant)
    if not form.is_valid():
        return _finetune_page(request, form, status=400)
    data = form.cleaned_data
    actor = Actor.for_user(request.user)
    with transaction.atomic():
        dataset = data["dataset"]
        if dataset is None:
            dataset = training_dataset_create(
                merchant=merchant,
                name=PurePath(data["dataset_file"].name).name[:200] or "Dashboard upload",
                purpose=data["purpose"],
                records=data["records"],
                source="upload",
            )
        job = finetune_start(
            merchant=merchant,
            actor=actor,
            purpose=data["purpose"],
            start_from=data["start_from"],
            dataset=dataset,
            hyperparameters=data["hyperparameters"],
            name=data["name"],
        )
    messages.success(
        request, f"Fine-tuning queued: {dataset.record_count:,} records from “{data['start_from'].name}”."
    )
    return redirect("ml:job_detail", job_id=job.pk)


def _finetune_page(request, form, status=200):
    merchant = request.merchant
    context = {
        "section": "models",
        "form": form,
        "serving": [
            (label, serving_version(merchant=merchant, purpose=value)) for value, label in Purpose.choices
        ],
        "has_base": base_model_default() is not None,
    }
    return render(request, "ml/finetune.html", context, status=status)


# ---------- Jobs ----------


@merchant_required()
def job_list_view(request):
    page = Paginator(job_list(merchant=request.merchant), JOBS_PER_PAGE).get_page(request.GET.get("page"))
    page.object_list = [_with_display(job) for job in page.object_list]
    return render(
        request,
        "ml/job_list.html",
        {"section": "models", "page": page, "can_edit": request.membership.can("edit")},
    )


@merchant_required()
@vary_on_headers("HX-Request")
def job_detail_view(request, job_id: int):
    job = _with_display(job_get(merchant=request.merchant, job_id=job_id))
    context = {"section": "models", **_job_live_context(request, job)}
    if _wants_partial(request):  # the polled block, plus the settings rows that change when the job ends
        return render(request, "ml/partials/_job_live.html", {**context, "oob": True})
    params = job.params if isinstance(job.params, dict) else {}
    dataset_id, hyperparameters = params.get("dataset_id"), params.get("hyperparameters")
    context.update(
        {
            "dataset": (
                TrainingDataset.objects.filter(merchant=request.merchant, pk=dataset_id)
                .defer("records")
                .first()
                if isinstance(dataset_id, int)
                else None
            ),
            "purpose_label": Purpose(params["purpose"]).label
            if params.get("purpose") in Purpose.values
            else "",
            "hyperparameters": sorted(hyperparameters.items()) if isinstance(hyperparameters, dict) else [],
        }
    )
    return render(request, "ml/job_detail.html", context)


@merchant_required()
@vary_on_headers("HX-Request")
def job_progress_view(request, job_id: int):
    job = job_get(merchant=request.merchant, job_id=job_id)
    if not _wants_partial(request):
        return redirect("ml:job_detail", job_id=job.pk)
    return render(request, "ml/partials/_job_progress.html", {"job": _with_display(job), "poll": True})


@merchant_required("edit")
@require_POST
def job_cancel_view(request, job_id: int):
    job = job_get(merchant=request.merchant, job_id=job_id)
    if not job.is_active:
        messages.info(
            request, f"Job #{job.pk} had already {job.get_status_display().lower()}; nothing to cancel."
        )
    elif job_cancel(job=job, actor=Actor.for_user(request.user)):
        if job.status == Job.Status.CANCELLED:
            messages.success(request, f"Job #{job.pk} was cancelled before it started.")
        else:
            messages.success(request, f"Cancelling job #{job.pk}: it stops after its current step.")
    else:
        messages.info(request, f"Job #{job.pk} finished before it could be cancelled.")
    return redirect("ml:job_detail", job_id=job.pk)


def _job_live_context(request, job: Job) -> dict:
    metrics = job.metrics if isinstance(job.metrics, dict) else {}
    lines = job.logs.splitlines()
    before, after = _number(metrics.get("eval_loss_before")), _number(metrics.get("eval_loss"))
    after_step = None
    if after is None:
        # While a run is going, the final figure is not there yet; its latest evaluation is.
        evaluations = _points(metrics.get("eval_history"), "eval_loss")
        if evaluations:
            after_step, after = evaluations[-1]
    return {
        "job": job,
        "can_edit": request.membership.can("edit"),
        "chart": loss_chart(metrics),
        "stats": {
            "eval_loss_before": before,
            "eval_loss": after,
            "eval_loss_step": after_step,
            "change_pct": (after - before) / before * 100 if after is not None and before else None,
            "perplexity": _number(metrics.get("perplexity")),
            "tokens_per_second": _number(metrics.get("tokens_per_second")),
            "truncated": _number(metrics.get("truncated")),
        },
        "log_lines": lines[-LOG_LINES_SHOWN:],
        "log_lines_hidden": max(0, len(lines) - LOG_LINES_SHOWN),
    }


def _with_display(job: Job) -> Job:
    params = job.params if isinstance(job.params, dict) else {}
    job.title = params.get("name") or f"{job.get_kind_display()} #{job.pk}"
    job.eta_text = _duration_text(job.eta_seconds) if job.status == Job.Status.RUNNING else ""
    return job


def _duration_text(seconds) -> str:
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return ""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


# ---------- Loss chart ----------
# The plot is an SVG stretched to its box (preserveAspectRatio="none", strokes that do not scale), and the tick
# labels are HTML positioned in percent around it, so text stays readable from a phone to a wide screen.

PLOT_W, PLOT_H = 1000, 400
MAX_DRAWN_POINTS = 400
DOTS_UP_TO = 60


def loss_chart(metrics: dict) -> dict:
    """Geometry and a text summary for the train/eval loss curves in a job's metrics; missing or malformed
    entries are skipped, and `has_data` is false when nothing is left to draw."""
    train = _points(metrics.get("loss_history"), "loss")
    evals = _points(metrics.get("eval_history"), "eval_loss")
    baseline = _number(metrics.get("eval_loss_before"))
    if not train and not evals:
        return {"has_data": False}
    every = [p for series in (train, evals) for p in series]
    x_ticks, x0, x1 = _ticks(min(p[0] for p in every), max(p[0] for p in every), whole=True)
    values = [p[1] for p in every] + ([baseline] if baseline is not None else [])
    y_ticks, y0, y1 = _ticks(min(values), max(values), pad=0.06)

    def x_pos(x):
        return (x - x0) / (x1 - x0) * 100

    def y_pos(y):
        return (y1 - y) / (y1 - y0) * 100

    series = []
    for key, label, points in (("train", "Training loss", train), ("eval", "Held-out loss", evals)):
        if not points:
            continue
        drawn = _thin(points, MAX_DRAWN_POINTS)
        coords = [(x_pos(x) * PLOT_W / 100, y_pos(y) * PLOT_H / 100) for x, y in drawn]
        series.append(
            {
                "key": key,
                "label": label,
                "count": len(drawn),
                "total": len(points),
                "points": " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords),
                # Zero-length segments with round caps draw as dots that stay round when the plot stretches.
                "dots": " ".join(f"M{cx:.1f} {cy:.1f}h0" for cx, cy in coords)
                if len(drawn) <= DOTS_UP_TO
                else "",
            }
        )
    return {
        "has_data": True,
        "series": series,
        "baseline": (
            {"y": round(y_pos(baseline) * PLOT_H / 100, 1), "label": _loss_text(baseline)}
            if baseline is not None
            else None
        ),
        "x_ticks": [
            {"label": f"{v:,.0f}", "pos": round(x_pos(v), 2), "x": round(x_pos(v) * PLOT_W / 100, 1)}
            for v in x_ticks
        ],
        "y_ticks": [
            {
                "label": _tick_text(v, y_ticks),
                "pos": round(y_pos(v), 2),
                "y": round(y_pos(v) * PLOT_H / 100, 1),
            }
            for v in y_ticks
        ],
        "width": PLOT_W,
        "height": PLOT_H,
        "summary": _chart_summary(train, evals, baseline),
    }


def _points(items, value_key: str) -> list[tuple[float, float]]:
    points = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        step, value = _number(item.get("step")), _number(item.get(value_key))
        if step is not None and value is not None:
            points.append((step, value))
    return sorted(points)


def _thin(points: list, limit: int) -> list:
    """At most `limit` points, evenly spread, always keeping the first and the last."""
    if len(points) <= limit:
        return points
    indexes = sorted({round(i * (len(points) - 1) / (limit - 1)) for i in range(limit)})
    return [points[i] for i in indexes]


def _ticks(low: float, high: float, *, whole: bool = False, pad: float = 0.0, count: int = 5):
    """The axis range (the data's, widened by `pad` of it on each side) and round tick values inside it."""
    if high - low < 1e-9:
        spread = 1.0 if whole else max(abs(low) * 0.1, 0.1)
        low, high = low - spread, high + spread
    elif pad:
        spread = (high - low) * pad
        low, high = low - spread, high + spread
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    if whole:
        step = max(1.0, math.ceil(step))
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    while first + len(ticks) * step <= high + step * 1e-9:
        ticks.append(first + len(ticks) * step)
    return ticks, low, high


def _tick_text(value: float, ticks: list[float]) -> str:
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    decimals = 0
    while decimals < 6 and abs(round(step, decimals) - step) > step * 1e-6:
        decimals += 1
    return f"{value:.{decimals}f}"


def _loss_text(value: float) -> str:
    return f"{value:.3f}" if abs(value) < 100 else f"{value:,.0f}"


def _chart_summary(train: list, evals: list, baseline: float | None) -> str:
    parts = []
    for label, points in (("Training loss", train), ("Held-out loss", evals)):
        if not points:
            continue
        (first_step, first), (last_step, last) = points[0], points[-1]
        best_step, best = min(points, key=lambda p: p[1])
        text = (
            f"{label} went from {_loss_text(first)} at step {first_step:,.0f} to {_loss_text(last)} at step "
            f"{last_step:,.0f}"
        )
        if len(points) > 2 and best < last:
            text += f", lowest {_loss_text(best)} at step {best_step:,.0f}"
        parts.append(f"{text} ({len(points):,} point{'s' if len(points) != 1 else ''}).")
    if baseline is not None:
        parts.append(f"Before training, held-out loss was {_loss_text(baseline)}.")
    return " ".join(parts)
