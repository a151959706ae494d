"""Supervised fine-tuning on (prompt, response) pairs: LoRA by default, full fine-tuning as an option.

Names are imported on first use (PEP 562) so that ``ml.engine.finetune.params`` (hyperparameter validation)
stays importable in the web process without pulling in torch."""

import importlib

_EXPORTS = {
    "IGNORE_INDEX": "data",
    "MIN_EXAMPLES": "data",
    "Example": "data",
    "coerce_examples": "data",
    "tokenize_example": "data",
    "FinetuneParams": "params",
    "validate_finetune_params": "params",
    "FinetuneResult": "trainer",
    "TrainingProgress": "trainer",
    "evaluate_loss": "trainer",
    "finetune": "trainer",
}

__all__ = sorted(_EXPORTS)  # noqa: PLE0605 (the lazily imported names)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
