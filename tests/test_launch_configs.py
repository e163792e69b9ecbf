"""Launch configs users already have, through `accelerate launch`: DeepSpeed JSONs shaped like
the public ones (Transformers' ds_config_zero2/3 with auto optimizer and scheduler and CPU
offload, Accelerate's ZeRO template) and an `accelerate config` MULTI_CPU file.

DeepSpeed runs in one CPU process here; its ops (cpu_adam, the shm comm op) compile once and
are cached in ~/.cache/torch_extensions.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest
from transformers import AutoModelForSeq2SeqLM

from tests.helpers import ROOT, run_train, tiny_overrides
from toolkit.engine.optim import lr_lambda

pytestmark = pytest.mark.slow

FIXTURES = ROOT / "tests" / "fixtures" / "deepspeed"
STEPS, WARMUP, LR = 6, 3, 1e-3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accelerate_launch(config_file: Path) -> list[str]:
    return [sys.executable, "-m", "accelerate.commands.launch", "-q", "--config_file",
            str(config_file), "--main_process_port", str(free_port())]


def launcher(tmp: Path, ds: dict) -> list[str]:
    """One DeepSpeed process, with an accelerate config that points at `ds` (a JSON file)."""
    pytest.importorskip("deepspeed")
    json_path = tmp / "ds_config.json"
    json_path.write_text(json.dumps(ds), encoding="utf-8")
    accelerate_config = tmp / "accelerate.yaml"
    accelerate_config.write_text(
        "distributed_type: DEEPSPEED\ndeepspeed_config:\n"
        f"  deepspeed_config_file: {json_path}\n"
        "num_machines: 1\nnum_processes: 1\nmachine_rank: 0\ncompute_environment: LOCAL_MACHINE\n",
        encoding="utf-8")
    return [*accelerate_launch(accelerate_config), "--num_processes", "1"]


def refused(result) -> bool:
    """The toolkit exited 2 (torchrun, under accelerate launch, reports it and exits 1)."""
    return result.returncode != 0 and "exitcode  : 2" in result.stderr


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def train(tmp: Path, cache: Path, ds: dict, **extra: object):
    args = tiny_overrides(tmp, cache, **{"training.max_steps": STEPS,
                                         "training.warmup_steps": WARMUP,
                                         "training.learning_rate": LR, **extra})
    return run_train(args, launcher=launcher(tmp, ds), timeout=1200)


def history(tmp: Path) -> tuple[Path, list[dict]]:
    (run_dir,) = [p for p in (tmp / "out").iterdir() if p.is_dir()]
    lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return run_dir, [json.loads(line) for line in lines]


def learning_rates(rows: list[dict]) -> list[float]:
    return [row["train/learning_rate"] for row in rows if "train/learning_rate" in row]


def test_transformers_zero2_with_auto_optimizer_and_scheduler_trains(tmp_path, cache_dir):
    result = train(tmp_path, cache_dir, fixture("hf_ds_config_zero2.json"))
    assert result.returncode == 0, result.stderr[-3000:]
    _, rows = history(tmp_path)
    lrs = learning_rates(rows)
    # DeepSpeed's WarmupLR (log warmup) from 0 to training.learning_rate over warmup_steps,
    # read from the optimizer DeepSpeed steps, then flat
    assert len(lrs) == STEPS
    assert lrs[0] < lrs[1] < lrs[WARMUP - 1] == pytest.approx(LR)
    assert lrs[WARMUP:] == pytest.approx([LR] * (STEPS - WARMUP))
    losses = [row["train/loss"] for row in rows if "train/loss" in row]
    assert losses[-1] < losses[0]


def test_transformers_zero3_offload_trains_evaluates_and_consolidates(tmp_path, cache_dir):
    result = train(tmp_path, cache_dir, fixture("hf_ds_config_zero3.json"),
                   **{"training.eval_strategy": "steps", "training.eval_steps": STEPS})
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir, rows = history(tmp_path)
    assert any("eval/rouge_combined_f1" in row for row in rows)
    model = AutoModelForSeq2SeqLM.from_pretrained(run_dir / "best")  # no DeepSpeed needed
    assert model.num_parameters() > 0


def test_our_schedule_drives_the_optimizer_that_offload_swaps_in(tmp_path, cache_dir):
    """No optimizer/scheduler sections and ZeRO-Offload: accelerate replaces the torch AdamW
    with DeepSpeedCPUAdam, and the toolkit's linear schedule must move *that* one's rate."""
    ds = fixture("hf_ds_config_zero2.json")
    del ds["optimizer"], ds["scheduler"]
    result = train(tmp_path, cache_dir, ds)
    assert result.returncode == 0, result.stderr[-3000:]
    _, rows = history(tmp_path)
    schedule = lr_lambda("linear", WARMUP, STEPS)
    assert learning_rates(rows) == pytest.approx([LR * schedule(step)
                                                  for step in range(1, STEPS + 1)])


def test_accelerate_template_fp16_is_refused_on_cpu_before_any_data(tmp_path):
    fresh_cache = tmp_path / "cache"
    result = train(tmp_path, fresh_cache, fixture("accelerate_zero_stage2_config.json"))
    assert refused(result), result.stderr[-3000:]
    assert "fp16" in result.stderr and '"enabled": "auto"' in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()  # no orphan run directory
    assert not fresh_cache.exists()  # refused before any data was read or tokenizer trained


def test_an_explicit_value_that_disagrees_is_refused_with_the_fix(tmp_path):
    ds = fixture("accelerate_zero_stage2_config.json")
    ds["fp16"]["enabled"] = "auto"
    ds["train_micro_batch_size_per_gpu"] = 4
    result = train(tmp_path, tmp_path / "cache", ds)
    assert refused(result), result.stderr[-3000:]
    assert "train_micro_batch_size_per_gpu=4" in result.stderr
    assert "training.per_device_train_batch_size" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_multi_cpu_config_without_mpi_warns_that_it_runs_one_process(tmp_path, cache_dir):
    config = tmp_path / "multi_cpu.yaml"  # as `accelerate config` writes it for MULTI_CPU
    config.write_text("compute_environment: LOCAL_MACHINE\ndistributed_type: MULTI_CPU\n"
                      "mixed_precision: 'no'\nnum_machines: 1\nnum_processes: 2\n"
                      "machine_rank: 0\nuse_cpu: true\n", encoding="utf-8")
    args = tiny_overrides(tmp_path, cache_dir, **{"training.max_steps": 1,
                                                  "training.eval_strategy": "no"})
    result = run_train(args, launcher=accelerate_launch(config))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "this run trains in a single process" in result.stderr
    assert "launch/cpu_multiprocess.sh" in result.stderr
    assert "precision no, from" in result.stderr  # the precision rule is stated
