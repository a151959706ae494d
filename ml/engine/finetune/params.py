"""Fine-tuning hyperparameters and their validation (the API layer turns the errors into a 400)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from ..errors import HyperparameterError

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")


@dataclass(frozen=True)
class FinetuneParams:
    method: str = "lora"  # "lora" or "full"
    epochs: int = 1
    max_steps: int | None = None  # optimizer steps; caps epochs when set
    learning_rate: float = 2e-4
    batch_size: int = 8
    grad_accum_steps: int = 1
    max_seq_len: int = 512
    warmup_steps: int = 0
    weight_decay: float = 0.0
    gradient_checkpointing: bool = False  # recompute activations in backward: far less memory, ~30% slower
    lora_r: int = 16
    lora_alpha: int = 32
    # 0 by default: on the CPU, dropout's random masks (one per LoRA module, per step) cost ~15% of a step and
    # the memory of the masks; raise it for a small dataset that overfits.
    lora_dropout: float = 0.0
    lora_targets: tuple[str, ...] = LORA_TARGETS
    eval_fraction: float = 0.1
    eval_every: int = 50  # optimizer steps; 0 evaluates only before and after training
    early_stopping_patience: int = 3  # evaluations without improvement; 0 disables
    checkpoint_every: int = 50  # optimizer steps; 0 disables periodic checkpoints
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "lora_targets", tuple(self.lora_targets))

    def field_errors(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}

        def check(name, ok, message):
            if not ok:
                errors.setdefault(name, []).append(message)

        check("method", self.method in ("lora", "full"), "must be 'lora' or 'full'")
        check("epochs", _int(self.epochs) and 1 <= self.epochs <= 100, "must be an integer between 1 and 100")
        check(
            "max_steps",
            self.max_steps is None or (_int(self.max_steps) and 1 <= self.max_steps <= 1_000_000),
            "must be empty or a positive integer",
        )
        check(
            "learning_rate",
            _num(self.learning_rate) and 0 < self.learning_rate <= 1e-2,
            "must be in (0, 0.01]",
        )
        check(
            "batch_size", _int(self.batch_size) and 1 <= self.batch_size <= 512, "must be between 1 and 512"
        )
        check(
            "grad_accum_steps",
            _int(self.grad_accum_steps) and 1 <= self.grad_accum_steps <= 256,
            "must be between 1 and 256",
        )
        check(
            "max_seq_len",
            _int(self.max_seq_len) and 16 <= self.max_seq_len <= 32768,
            "must be between 16 and 32768",
        )
        check(
            "warmup_steps",
            _int(self.warmup_steps) and self.warmup_steps >= 0,
            "must be a non-negative integer",
        )
        check("weight_decay", _num(self.weight_decay) and 0 <= self.weight_decay <= 1, "must be in [0, 1]")
        check(
            "gradient_checkpointing", isinstance(self.gradient_checkpointing, bool), "must be true or false"
        )
        check("lora_r", _int(self.lora_r) and 1 <= self.lora_r <= 256, "must be between 1 and 256")
        check(
            "lora_alpha", _int(self.lora_alpha) and 1 <= self.lora_alpha <= 1024, "must be between 1 and 1024"
        )
        check("lora_dropout", _num(self.lora_dropout) and 0 <= self.lora_dropout < 1, "must be in [0, 1)")
        check(
            "lora_targets",
            bool(self.lora_targets) and all(isinstance(t, str) and t for t in self.lora_targets),
            "must name at least one module",
        )
        check(
            "eval_fraction", _num(self.eval_fraction) and 0 < self.eval_fraction <= 0.5, "must be in (0, 0.5]"
        )
        check("eval_every", _int(self.eval_every) and self.eval_every >= 0, "must be a non-negative integer")
        check(
            "early_stopping_patience",
            _int(self.early_stopping_patience) and self.early_stopping_patience >= 0,
            "must be a non-negative integer",
        )
        check(
            "checkpoint_every",
            _int(self.checkpoint_every) and self.checkpoint_every >= 0,
            "must be a non-negative integer",
        )
        check("seed", _int(self.seed) and self.seed >= 0, "must be a non-negative integer")
        return errors

    def validated(self) -> FinetuneParams:
        errors = self.field_errors()
        if errors:
            raise HyperparameterError(errors)
        return self


def validate_finetune_params(data: dict) -> dict[str, list[str]]:
    """Field errors for raw API input (unknown fields too); empty when ``FinetuneParams(**data)`` is valid."""
    known = {f.name for f in fields(FinetuneParams)}
    errors = {name: ["unknown field"] for name in data if name not in known}
    if errors:
        return errors
    try:
        return FinetuneParams(**data).field_errors()
    except TypeError as exc:
        return {"non_field_errors": [str(exc)]}


def _int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _num(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
