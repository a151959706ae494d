"""Checkpoint and adapter directory checks: standard library only, so the web side (registering a model,
the admin) can validate a path without importing the model libraries that ``provision`` converts with."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .errors import InvalidCheckpoint

_WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
_ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")


def validate_checkpoint_dir(path: str | os.PathLike) -> Path:
    """``path`` as a Path if it is a causal-LM checkpoint directory, else raise ``InvalidCheckpoint``."""
    folder = Path(path)
    if not folder.is_dir():
        raise InvalidCheckpoint(f"{folder} is not a directory")
    config = folder / "config.json"
    if not config.is_file():
        raise InvalidCheckpoint(f"{folder} has no config.json: not a Hugging Face checkpoint")
    try:
        model_type = json.loads(config.read_text()).get("model_type")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidCheckpoint(f"{config} is not valid JSON: {exc}") from exc
    if not model_type:
        raise InvalidCheckpoint(f"{config} names no model_type")
    if not any((folder / name).is_file() for name in _WEIGHT_FILES):
        raise InvalidCheckpoint(f"{folder} has no weights (expected one of {', '.join(_WEIGHT_FILES)})")
    if not (folder / "tokenizer.json").is_file() and not (folder / "tokenizer_config.json").is_file():
        raise InvalidCheckpoint(f"{folder} has no tokenizer files")
    return folder


def validate_adapter_dir(path: str | os.PathLike) -> Path:
    """Return ``path`` as a Path if it holds a PEFT adapter, else raise ``InvalidCheckpoint``."""
    folder = Path(path)
    if not (folder / "adapter_config.json").is_file():
        raise InvalidCheckpoint(f"{folder} has no adapter_config.json: not a PEFT adapter")
    if not any((folder / name).is_file() for name in _ADAPTER_WEIGHTS):
        raise InvalidCheckpoint(f"{folder} has no adapter weights")
    return folder
