"""Supervised fine-tuning on (prompt, response) pairs: LoRA by default, full fine-tuning as an option."""

from .data import IGNORE_INDEX, MIN_EXAMPLES, Example, coerce_examples, tokenize_example
from .params import FinetuneParams, validate_finetune_params
from .trainer import FinetuneResult, TrainingProgress, evaluate_loss, finetune

__all__ = [
    "IGNORE_INDEX",
    "MIN_EXAMPLES",
    "Example",
    "FinetuneParams",
    "FinetuneResult",
    "TrainingProgress",
    "coerce_examples",
    "evaluate_loss",
    "finetune",
    "tokenize_example",
    "validate_finetune_params",
]
