"""bench/cuda_check.py is run on a lent GPU machine only now and then, with minutes of device time: it is run
here on the CPU with a tiny model so that it does not rot between those sessions."""

import importlib.util
import json

from .conftest import REPO_ROOT


def _load_script():
    spec = importlib.util.spec_from_file_location("cuda_check", REPO_ROOT / "bench" / "cuda_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _kit(folder, count=24, examples=True):
    prompts = [
        [
            {"role": "system", "content": "You write product copy."},
            {"role": "user", "content": f"Item {i}: cotton shirt"},
        ]
        for i in range(count)
    ]
    examples = (
        [
            {"prompt": p, "response": "A soft cotton shirt in navy blue with a classic collar."}
            for p in prompts
        ]
        if examples
        else []
    )
    folder.mkdir()
    (folder / "data.json").write_text(json.dumps({"prompts": prompts, "examples": examples}))
    return folder


def test_cuda_check_runs_end_to_end_on_the_cpu(tiny_checkpoint, tmp_path):
    script = _load_script()
    out = tmp_path / "out"
    code = script.main(
        [
            "--device", "cpu", "--tiny", "--kit", str(_kit(tmp_path / "kit")), "--arch", str(tiny_checkpoint),
            "--steps", "6", "--naive-prompts", "2", "--out", str(out),
        ]
    )  # fmt: skip
    report = json.loads((out / "cuda_check.json").read_text())
    assert code == 0, report["checks"]
    checks = report["checks"]
    assert checks.pop("generation ran in bf16 on CUDA") is None  # CUDA-only checks say nothing here
    assert checks.pop("LoRA peak memory below full fine-tuning's") is None
    assert all(checks.values()), checks
    assert report["environment"]["device"] == "cpu"
    assert [run["batch"] for run in report["throughput"]["engine"]] == [64, 256]
    assert report["throughput"]["naive_fp32"]["prompts"] == 2
    assert report["greedy_batched_vs_single"]["identical"] == 8  # exact on the CPU in fp32
    lora = report["finetuning"]["lora"]
    assert lora["steps"] == 6 and lora["eval_loss_after"] < lora["eval_loss_before"]


def test_checks_fail_when_training_does_not_help():
    script = _load_script()
    report = {
        "environment": {"device": "cuda:0"},
        "greedy_batched_vs_single": {"prompts": 8, "identical": 8},
        "throughput": {"engine": [{"batch": 64, "fewest_tokens_in_a_row": 48, "dtype": "torch.float32"}]},
        "finetuning": {
            "lora": {"eval_loss_before": 2.0, "eval_loss_after": 2.5},
            "lora_reloaded_eval_loss": 2.5,
            "peak_memory_lora_vs_full": 0.4,
        },
    }
    checks = script.checks(report)
    assert not checks["LoRA lowered the held-out loss"]
    assert checks["generation ran in bf16 on CUDA"] is False
    assert checks["LoRA peak memory below full fine-tuning's"] is True
    assert checks["generation gave every row tokens"]


def test_a_part_that_raised_fails_without_hiding_the_others():
    script = _load_script()
    report = {
        "environment": {"device": "cuda:0"},
        "greedy_batched_vs_single": {"error": "Traceback ..."},
        "throughput": {"engine": [{"batch": 64, "fewest_tokens_in_a_row": 48, "dtype": "torch.bfloat16"}]},
        "finetuning": {"error": "Traceback ..."},
    }
    checks = script.checks(report)
    assert checks["greedy batched vs single ran"] is False
    assert checks["fine-tuning ran"] is False
    assert checks["generation ran in bf16 on CUDA"] is True
    assert "LoRA lowered the held-out loss" not in checks


def test_a_failing_part_is_reported_and_the_rest_still_runs(tiny_checkpoint, tmp_path):
    script = _load_script()
    out = tmp_path / "out"
    kit = _kit(tmp_path / "kit", count=4, examples=False)  # no training data: fine-tuning raises
    code = script.main(
        ["--device", "cpu", "--tiny", "--kit", str(kit), "--arch", str(tiny_checkpoint), "--out", str(out),
         "--naive-prompts", "1"]
    )  # fmt: skip
    report = json.loads((out / "cuda_check.json").read_text())
    assert code == 1
    assert "Traceback" in report["finetuning"]["error"]
    assert report["checks"]["fine-tuning ran"] is False
    assert report["checks"]["generation gave every row tokens"] is True
