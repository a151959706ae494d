"""Resident memory of an ML worker process holding the base model: after importing the engine, after
loading SmolLM2-135M-Instruct, after generating batches of 16 and 64 replies, and at peak. Each configuration runs
in a fresh subprocess.

    .venv/bin/python bench/worker_memory_bench.py [CSV]

Writes bench/results/worker_memory.json and prints a markdown table.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# name -> (dtype, quantization); "default" is what the engine's probe picks (bf16 on AVX512-BF16/AMX CPUs)
CONFIGS = {"default": (None, None), "fp32": ("float32", None), "int8": (None, "int8")}


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def worker(name: str, csv_path: str) -> dict:
    sys.path.insert(0, str(ROOT / "bench"))
    from generation_bench import load_products, messages_for

    from ml.engine import GenerationRequest, LocalHFGenerator, provision_base_models

    checkpoint = provision_base_models(ROOT / "var" / "models")["smollm2-135m-instruct"]
    after_import = rss_mb()
    dtype, quantization = CONFIGS[name]
    generator = LocalHFGenerator(checkpoint, dtype=dtype, quantization=quantization)
    loaded = generator.loaded
    after_load = rss_mb()
    conversations = [messages_for(p) for p in load_products(Path(csv_path), 64)]
    figures = {
        "dtype": str(loaded.dtype),
        "after_import_mb": round(after_import),
        "after_load_mb": round(after_load),
    }
    for batch in (16, 64):  # a chat worker's typical batch, then the copy studio's largest
        generator.generate(
            [
                GenerationRequest.chat(c, max_new_tokens=64, seed=i)
                for i, c in enumerate(conversations[:batch])
            ]
        )
        figures[f"after_batch_{batch}_mb"] = round(rss_mb())
        figures[f"peak_by_batch_{batch}_mb"] = round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        )
    return figures


def main() -> None:
    from generation_bench import DEFAULT_CSV

    args = [a for a in sys.argv[1:] if not a.startswith("--") and a not in CONFIGS]
    csv_path = args[0] if args else str(DEFAULT_CSV)
    if "--worker" in sys.argv:
        print(json.dumps(worker(sys.argv[sys.argv.index("--worker") + 1], csv_path)))
        return
    report = {}
    for name in CONFIGS:
        out = subprocess.run(
            [sys.executable, __file__, csv_path, "--worker", name], capture_output=True, text=True, check=True
        )
        report[name] = json.loads(out.stdout.strip().splitlines()[-1])
        print(name, report[name], flush=True)
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "worker_memory.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "bench"))
    main()
