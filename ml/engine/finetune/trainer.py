"""The supervised fine-tuning loop: LoRA (default) or full, with held-out evaluation, early stopping,
atomic checkpoints for resume after a crash or a cancel, and a final artifact written atomically."""

from __future__ import annotations

import json
import math
import resource
import shutil
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer

from ..devices import cpu_bf16_is_fast, resolve_device, tune_cpu_allocator
from ..errors import DatasetError, TrainingCancelled
from ..provision import validate_adapter_dir, validate_checkpoint_dir
from .checkpoint import (
    TrainState,
    checkpoint_fingerprint,
    load_checkpoint,
    save_artifact,
    save_checkpoint,
    trainable_state,
)
from .data import (
    MIN_EXAMPLES,
    TokenizedExample,
    coerce_examples,
    collate,
    length_grouped_batches,
    split_examples,
    tokenize_example,
)
from .kernels import TRAIN_ATTENTION, linear_cross_entropy, use_training_kernels
from .params import FinetuneParams

CHECKPOINT_DIR = "checkpoint"
ADAPTER_DIR = "adapter"
MODEL_DIR = "model"
RESULT_FILE = "finetune_result.json"


@dataclass(frozen=True)
class TrainingProgress:
    step: int
    total_steps: int
    loss: float
    eval_loss: float | None  # latest held-out loss
    eta_s: float


@dataclass
class FinetuneResult:
    output_path: str  # adapter dir (lora: load on top of the base) or full checkpoint dir (full)
    method: str
    steps: int
    total_steps: int
    train_examples: int
    eval_examples: int
    truncated_examples: int  # longer than max_seq_len, cut to fit
    dropped_examples: int  # nothing of the reply left after truncation
    eval_loss_before: float
    eval_loss_after: float
    perplexity_before: float
    perplexity_after: float
    train_loss_history: list[tuple[int, float]] = field(default_factory=list)
    eval_loss_history: list[tuple[int, float]] = field(default_factory=list)
    tokens_trained: int = 0
    tokens_per_s: float = 0.0
    peak_memory_bytes: int = 0  # CUDA: max allocated; CPU: the process's peak RSS
    seconds: float = 0.0
    stopped_early: bool = False
    resumed_from_step: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def finetune(
    base_model_path,
    examples: Iterable,
    output_dir,
    params: FinetuneParams | None = None,
    *,
    parent_adapter_path=None,
    eval_examples: Iterable | None = None,
    device: str | None = None,
    progress: Callable[[TrainingProgress], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    resume: bool = True,
) -> FinetuneResult:
    """Fine-tune ``base_model_path`` on (prompt, response) examples into ``output_dir``.

    ``eval_examples`` is a fixed held-out set to evaluate (and stop early) on; without it
    ``params.eval_fraction`` of ``examples`` is held out. ``parent_adapter_path`` continues training an
    earlier LoRA adapter. With ``resume`` a checkpoint left in ``output_dir`` by a crashed or cancelled run
    of the same job is picked up. ``should_cancel`` is polled every optimizer step; cancelling saves a
    checkpoint and raises ``TrainingCancelled``.
    """
    started = time.perf_counter()
    params = (params or FinetuneParams()).validated()
    base = validate_checkpoint_dir(base_model_path)
    if parent_adapter_path is not None:
        if params.method != "lora":
            raise ValueError("a parent adapter can only be trained further with method='lora'")
        validate_adapter_dir(parent_adapter_path)
    records = coerce_examples(examples)
    dev = resolve_device(device)
    if dev.type == "cpu":
        tune_cpu_allocator()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)

    tokenizer = _load_tokenizer(base)
    tokenized = [tokenize_example(tokenizer, r, params.max_seq_len) for r in records]
    kept = [t for t in tokenized if t is not None]
    train, held_out = _train_and_held_out(tokenizer, kept, eval_examples, params)

    torch.manual_seed(params.seed)
    model = _build_model(base, params, parent_adapter_path, dev)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=params.learning_rate, weight_decay=params.weight_decay)
    batches_per_epoch = math.ceil(len(train) / params.batch_size)
    total = params.max_steps or params.epochs * math.ceil(batches_per_epoch / params.grad_accum_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(params.warmup_steps, total))
    autocast = _autocast(dev)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)

    fingerprint = checkpoint_fingerprint(
        base, parent_adapter_path, params, kept, held_out if eval_examples is not None else None
    )
    loaded = (
        load_checkpoint(out / CHECKPOINT_DIR, fingerprint, model, optimizer, scheduler) if resume else None
    )
    state, best_weights = loaded if loaded else (TrainState(), None)
    resumed_from = state.step if loaded else None
    if not loaded:
        state.eval_before = _mean_loss(
            model, held_out, tokenizer.pad_token_id, params.batch_size, dev, autocast
        )
    lengths = [len(e.input_ids) for e in train]
    step_started = time.perf_counter()
    stopped_early = False
    while state.step < total:
        if should_cancel is not None and should_cancel():
            save_checkpoint(
                out / CHECKPOINT_DIR, fingerprint, state, model, optimizer, scheduler, best_weights
            )
            raise TrainingCancelled(f"cancelled at step {state.step}/{total}; checkpoint kept for resume")
        group = _accumulation_group(train, lengths, params, state.step, batches_per_epoch)
        loss = _accumulate_gradients(model, group, tokenizer.pad_token_id, dev, autocast, state)
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        state.step += 1
        now = time.perf_counter()
        state.train_seconds += now - step_started
        state.history.append((state.step, loss))

        if _due(params.eval_every, state.step, total):
            eval_loss = _mean_loss(model, held_out, tokenizer.pad_token_id, params.batch_size, dev, autocast)
            best_weights, stopped_early = _track_eval(model, state, eval_loss, best_weights, params)
        if _due(params.checkpoint_every, state.step, total):
            save_checkpoint(
                out / CHECKPOINT_DIR, fingerprint, state, model, optimizer, scheduler, best_weights
            )
        if progress is not None:
            progress(_progress(state, total, loss, stopped_early))
        step_started = time.perf_counter()
        if stopped_early:
            break

    eval_after = _mean_loss(model, held_out, tokenizer.pad_token_id, params.batch_size, dev, autocast)
    state.eval_history.append((state.step, eval_after))
    if best_weights is not None and state.best_eval < eval_after:
        model.load_state_dict(best_weights, strict=False)  # early stopping keeps the best evaluated weights
        eval_after = state.best_eval

    artifact = out / (ADAPTER_DIR if params.method == "lora" else MODEL_DIR)
    save_artifact(model, tokenizer, params.method, artifact)
    shutil.rmtree(out / CHECKPOINT_DIR, ignore_errors=True)
    result = FinetuneResult(
        output_path=str(artifact),
        method=params.method,
        steps=state.step,
        total_steps=total,
        train_examples=len(train),
        eval_examples=len(held_out),
        truncated_examples=sum(1 for t in tokenized if t is None or t.truncated),
        dropped_examples=sum(1 for t in tokenized if t is None),
        eval_loss_before=state.eval_before,
        eval_loss_after=eval_after,
        perplexity_before=_perplexity(state.eval_before),
        perplexity_after=_perplexity(eval_after),
        train_loss_history=state.history,
        eval_loss_history=state.eval_history,
        tokens_trained=state.tokens,
        tokens_per_s=state.tokens / state.train_seconds if state.train_seconds else 0.0,
        peak_memory_bytes=_peak_memory(dev),
        seconds=time.perf_counter() - started,
        stopped_early=stopped_early,
        resumed_from_step=resumed_from,
    )
    (out / RESULT_FILE).write_text(json.dumps(result.to_dict(), indent=2))
    return result


def _load_tokenizer(base: Path):
    tokenizer = AutoTokenizer.from_pretrained(base)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _train_and_held_out(
    tokenizer, kept: list[TokenizedExample], eval_examples: Iterable | None, params: FinetuneParams
) -> tuple[list[TokenizedExample], list[TokenizedExample]]:
    """The training examples and the held-out ones: ``eval_examples`` when given, else a split of ``kept``."""
    if len(kept) < MIN_EXAMPLES:
        raise DatasetError(
            f"only {len(kept)} example(s) keep any reply after truncation to "
            f"{params.max_seq_len} tokens; at least {MIN_EXAMPLES} needed"
        )
    if eval_examples is None:
        return split_examples(kept, params.eval_fraction, params.seed)
    held_out = [
        t
        for r in coerce_examples(eval_examples, min_examples=1)
        if (t := tokenize_example(tokenizer, r, params.max_seq_len))
    ]
    if not held_out:
        raise DatasetError(
            f"no held-out example keeps any reply after truncation to {params.max_seq_len} tokens"
        )
    return kept, held_out


def _accumulation_group(train, lengths, params: FinetuneParams, step: int, batches_per_epoch: int) -> list:
    """The micro-batches of one optimizer step (fewer, or none, once the last epoch runs out)."""
    return [
        train_batch
        for m in range(params.grad_accum_steps)
        if (
            train_batch := _micro_batch(
                train, lengths, params, step * params.grad_accum_steps + m, batches_per_epoch
            )
        )
        is not None
    ]


def _accumulate_gradients(model, group: list, pad_id: int, dev, autocast, state: TrainState) -> float:
    """Backward over each micro-batch of ``group``, scaled so the gradients are of the mean reply-token loss;
    returns that loss."""
    label_tokens = sum(sum(lbl != -100 for lbl in e.labels[1:]) for b in group for e in b)
    model.train()
    loss_total = 0.0
    for micro in group:
        batch = {k: v.to(dev) for k, v in collate(micro, pad_id).items()}
        with autocast:
            loss_sum, _ = _loss_sum(model, batch)
        (loss_sum / max(label_tokens, 1)).backward()
        loss_total += loss_sum.item()
        state.tokens += int(batch["attention_mask"].sum())
    return loss_total / max(label_tokens, 1)


def _due(every: int | None, step: int, total: int) -> bool:
    """Whether a periodic evaluation or checkpoint falls on ``step`` (never the last: the end does its own)."""
    return bool(every and step % every == 0 and step < total)


def _track_eval(model, state: TrainState, eval_loss: float, best_weights, params: FinetuneParams):
    """Record a held-out loss; returns the best weights so far and whether to stop early."""
    state.eval_history.append((state.step, eval_loss))
    if eval_loss < state.best_eval - 1e-4:
        state.best_eval, state.best_step, state.bad_evals = eval_loss, state.step, 0
        return trainable_state(model), False
    state.bad_evals += 1
    stop = bool(params.early_stopping_patience) and state.bad_evals >= params.early_stopping_patience
    return best_weights, stop


def _progress(state: TrainState, total: int, loss: float, stopped_early: bool) -> TrainingProgress:
    eta = state.train_seconds / state.step * (total - state.step)
    latest_eval = state.eval_history[-1][1] if state.eval_history else None
    return TrainingProgress(state.step, total, loss, latest_eval, 0.0 if stopped_early else eta)


def evaluate_loss(
    model_path,
    examples: Iterable,
    *,
    adapter_path=None,
    max_seq_len: int = 512,
    batch_size: int = 8,
    device: str | None = None,
) -> tuple[float, float]:
    """Mean reply-token loss and perplexity of a model (plus optional adapter) on held-out examples."""
    base = validate_checkpoint_dir(model_path)
    dev = resolve_device(device)
    tokenizer = _load_tokenizer(base)
    tokenized = [
        t
        for r in coerce_examples(examples, min_examples=1)
        if (t := tokenize_example(tokenizer, r, max_seq_len))
    ]
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    _use_cpu_kernels(model, dev)
    if adapter_path is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, validate_adapter_dir(adapter_path))
    model.to(dev)
    loss = _mean_loss(model, tokenized, tokenizer.pad_token_id, batch_size, dev, _autocast(dev))
    return loss, _perplexity(loss)


def _build_model(base: Path, params: FinetuneParams, parent_adapter_path, dev: torch.device):
    # LoRA keeps the frozen base in bf16 where bf16 is fast (CUDA, AVX512-BF16/AMX CPUs): half the weight memory,
    # and autocast has no fp32 weights to cast at every forward. Trained weights (adapters, or the whole model
    # in a full fine-tune) stay fp32.
    bf16_base = dev.type == "cuda" or (dev.type == "cpu" and cpu_bf16_is_fast())
    dtype = torch.bfloat16 if bf16_base and params.method == "lora" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype)
    model.config.use_cache = False
    _use_cpu_kernels(model, dev)
    if params.gradient_checkpointing:
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    if params.method == "full":
        return model.to(dev)
    from peft import LoraConfig, PeftModel, get_peft_model

    if parent_adapter_path is not None:
        model = PeftModel.from_pretrained(model, parent_adapter_path, is_trainable=True)
    else:
        model = get_peft_model(
            model,
            LoraConfig(
                r=params.lora_r,
                lora_alpha=params.lora_alpha,
                lora_dropout=params.lora_dropout,
                target_modules=list(params.lora_targets),
                task_type="CAUSAL_LM",
            ),
        )
    for p in model.parameters():
        if p.requires_grad:
            p.data = p.data.float()
    if dtype != torch.float32:
        # PEFT casts each LoRA module's input to the adapter's dtype (fp32) and autocast casts it back to bf16
        # for the matmul, which then keeps that copy for backward: four copies of a layer's activations (q, k,
        # v, o), ~150 MB at batch 8 x 128 tokens. Under autocast the bf16 input can go in as it is.
        from peft.tuners.lora import LoraLayer

        for module in model.modules():
            if isinstance(module, LoraLayer):
                module.cast_input_dtype_enabled = False
    return model.to(dev)


def _loss_sum(model, batch) -> tuple[torch.Tensor, int]:
    """Summed cross-entropy over reply tokens; the LM head runs only where there is a label to predict."""
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder = getattr(causal_lm, causal_lm.base_model_prefix)
    hidden = decoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    targets = batch["labels"][:, 1:]
    mask = targets != -100
    head = causal_lm.get_output_embeddings()
    config = causal_lm.config
    if (
        type(head) is torch.nn.Linear
        and head.bias is None
        and not (head.weight.requires_grad and torch.is_grad_enabled())
        and not getattr(config, "final_logit_softcapping", None)
        and not getattr(config, "logit_scale", None)
    ):  # head not trained (LoRA, evaluation): head and loss in chunks, no whole logits (kernels.py)
        return linear_cross_entropy(hidden[:, :-1][mask], head.weight, targets[mask]), int(mask.sum())
    logits = head(hidden[:, :-1][mask]).float()
    return F.cross_entropy(logits, targets[mask], reduction="sum"), int(mask.sum())


def _use_cpu_kernels(model, dev: torch.device) -> None:
    """The CPU training kernels (kernels.py): the attention where the model takes it from transformers'
    interface, and the RMSNorm/SwiGLU functions on the model classes they are written for. CUDA keeps SDPA and
    the stock modules."""
    if dev.type != "cpu":
        return
    use_training_kernels(model)
    try:
        model.set_attn_implementation(TRAIN_ATTENTION)
    except (AttributeError, ValueError, NotImplementedError) as exc:
        warnings.warn(f"keeping the model's attention implementation: {exc}", stacklevel=2)


def _mean_loss(
    model, examples: Sequence[TokenizedExample], pad_id: int, batch_size: int, dev, autocast
) -> float:
    model.eval()
    total, count = 0.0, 0
    order = sorted(range(len(examples)), key=lambda i: len(examples[i].input_ids))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            micro = [examples[i] for i in order[start : start + batch_size]]
            batch = {k: v.to(dev) for k, v in collate(micro, pad_id).items()}
            with autocast:
                loss_sum, n = _loss_sum(model, batch)
            total += loss_sum.item()
            count += n
    return total / max(count, 1)


def _micro_batch(train, lengths, params: FinetuneParams, index: int, batches_per_epoch: int):
    epoch, position = divmod(index, batches_per_epoch)
    if params.max_steps is None and epoch >= params.epochs:
        return None
    order = length_grouped_batches(lengths, params.batch_size, params.seed + epoch)
    return [train[i] for i in order[position]]


def _schedule(warmup: int, total: int):
    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        return max(0.1, 1 - 0.9 * (step - warmup) / max(total - warmup, 1))

    return factor


def _autocast(dev: torch.device):
    if dev.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if cpu_bf16_is_fast():
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return nullcontext()


def _perplexity(loss: float) -> float:
    return math.exp(min(loss, 50.0))


def _peak_memory(dev: torch.device) -> int:
    if dev.type == "cuda":
        return int(torch.cuda.max_memory_allocated(dev))
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
