"""Checkpoints and artifacts of a fine-tuning run (``trainer.finetune``): the loop's resumable state, the
fingerprint that ties a checkpoint to its base model, data and settings (a checkpoint left by a run with other
ones is discarded), saving and loading the trainable weights with the optimizer, scheduler and RNG state, and
writing the final adapter or model. Every folder is written beside its target and swapped in with
``os.replace``, so a crash leaves either the old folder or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from .data import TokenizedExample
from .params import FinetuneParams


@dataclass
class TrainState:
    step: int = 0
    tokens: int = 0
    train_seconds: float = 0.0
    eval_before: float = math.nan
    best_eval: float = math.inf
    best_step: int = 0
    bad_evals: int = 0
    history: list = field(default_factory=list)
    eval_history: list = field(default_factory=list)


def trainable_state(model) -> dict[str, torch.Tensor]:
    return {name: p.detach().to("cpu", copy=True) for name, p in model.named_parameters() if p.requires_grad}


def checkpoint_fingerprint(
    base, parent, params: FinetuneParams, examples: Sequence[TokenizedExample], fixed_eval=None
) -> str:
    digest = hashlib.sha256(json.dumps([str(base), str(parent), asdict(params)], sort_keys=True).encode())
    for e in examples:
        digest.update(json.dumps([e.input_ids, e.labels]).encode())
    if fixed_eval is not None:
        digest.update(b"fixed-eval")
        for e in fixed_eval:
            digest.update(json.dumps([e.input_ids, e.labels]).encode())
    return digest.hexdigest()


def save_checkpoint(
    folder: Path, fingerprint: str, state: TrainState, model, optimizer, scheduler, best_weights
) -> None:
    staging = Path(tempfile.mkdtemp(prefix=".checkpoint-", dir=folder.parent))
    torch.save(
        {
            "fingerprint": fingerprint,
            "state": asdict(state),
            "weights": trainable_state(model),
            "best_weights": best_weights,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": torch.get_rng_state(),
        },
        staging / "state.pt",
    )
    _replace_dir(staging, folder)


def load_checkpoint(
    folder: Path, fingerprint: str, model, optimizer, scheduler
) -> tuple[TrainState, dict] | None:
    path = folder / "state.pt"
    if not path.is_file():
        return None
    saved = torch.load(path, map_location="cpu", weights_only=False)  # written by save_checkpoint only
    if saved.get("fingerprint") != fingerprint:
        shutil.rmtree(folder, ignore_errors=True)  # left by a run with other data or settings
        return None
    model.load_state_dict(saved["weights"], strict=False)
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    torch.set_rng_state(saved["rng"])
    state = TrainState(**saved["state"])
    state.history = [tuple(x) for x in state.history]
    state.eval_history = [tuple(x) for x in state.eval_history]
    return state, saved["best_weights"]


def save_artifact(model, tokenizer, method: str, target: Path) -> None:
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    model.save_pretrained(staging)
    if method == "full":
        tokenizer.save_pretrained(staging)
    _replace_dir(staging, target)


def _replace_dir(staging: Path, target: Path) -> None:
    os.chmod(staging, 0o755)
    if target.exists():
        retired = target.with_name(f".{target.name}-retired-{os.getpid()}")
        os.replace(target, retired)
        os.replace(staging, target)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(staging, target)
