"""Device and dtype choice: CUDA in bf16 when present, else CPU in bf16 only where bf16 is actually fast.

Many x86 CPUs (AVX2 without AVX512-BF16/AMX) emulate bf16 matmuls and run them ~100x slower than fp32, so
the CPU choice is made by timing a small matmul of the model's shape once per process.
"""

from __future__ import annotations

import functools
import time

import torch

_PROBE_SHAPE = (64, 576, 1536)


def resolve_device(device: str | None = None) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(device: torch.device, dtype: str | torch.dtype | None = None) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in (None, "auto"):
        return {
            "float32": torch.float32,
            "fp32": torch.float32,
            "bfloat16": torch.bfloat16,
            "bf16": torch.bfloat16,
            "float16": torch.float16,
            "fp16": torch.float16,
        }[dtype]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_bf16_is_fast() else torch.float32


@functools.cache
def cpu_bf16_is_fast() -> bool:
    """True when a bf16 matmul on this CPU is at least 20% faster than the same one in fp32."""
    return _matmul_seconds(torch.bfloat16) < 0.8 * _matmul_seconds(torch.float32)


def _matmul_seconds(dtype: torch.dtype) -> float:
    m, k, n = _PROBE_SHAPE
    a = torch.randn(m, k).to(dtype)
    b = torch.randn(k, n).to(dtype)
    a @ b
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return best


# glibc mallopt parameters
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024  # glibc's upper bound for this setting on 64-bit
TRIM_THRESHOLD_BYTES = 256 * 1024 * 1024


@functools.cache
def tune_cpu_allocator() -> bool:
    """Keep freed tensor memory in the process heap instead of handing it back to the kernel at every free.

    CPU tensors come straight from malloc. With glibc's defaults, a decode step's large temporaries (the
    (batch, vocabulary) logits, the growing KV cache, MLP activations: several MB each) are returned to the
    kernel when freed and faulted back in page by page at the next step: on the 2-core benchmark machine that
    page-fault churn cost a fifth of batched generation time. Serving ~1 GB models, a worker keeping up to
    256 MB of freed heap for reuse is the better trade. This is what PyTorch's CPU performance guide gets
    from preloading jemalloc/tcmalloc, done in-process. Once per process; glibc only (a no-op elsewhere);
    ``STORYFRONT_TUNE_MALLOC=0`` turns it off.
    """
    import ctypes
    import os

    if os.environ.get("STORYFRONT_TUNE_MALLOC", "1") == "0":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
