"""Dashboard action for the copy model: one click fine-tunes it on the merchant's catalog and approved pieces
(marketing.copy_training does the work; the job's page shows its progress and the gate's verdict)."""

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from accounts.decorators import merchant_required
from accounts.services import Actor
from marketing.copy_training import CopyFinetuneRefused, copy_finetune_start


@merchant_required("edit")
@require_POST
def copy_finetune_view(request):
    try:
        job = copy_finetune_start(
            merchant=request.merchant, actor=Actor.for_user(request.user), trigger="dashboard"
        )
    except CopyFinetuneRefused as exc:
        messages.error(request, f"The copy model was not fine-tuned: {exc.message}")
        return redirect("ml:model_list")
    messages.success(
        request,
        f"Fine-tuning the copy model on {job.params['catalog_pairs']} product description(s) and "
        f"{job.params['piece_pairs']} approved piece(s). It is promoted only if it writes better copy for "
        f"{len(job.params['eval_product_ids'])} held-out product(s).",
    )
    return redirect("ml:job_detail", job_id=job.pk)
