"""Several real processes (gloo on CPU) and DeepSpeed through the shipped accelerate configs."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from transformers import AutoModelForSeq2SeqLM

from tests.helpers import ROOT, TRAIN, environment, run_train, tiny_overrides, torchrun
from toolkit.engine import checkpoint
from toolkit.errors import EXIT_INTERRUPTED

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_env() -> dict[str, str]:
    return {**environment(), "ACCELERATE_USE_CPU": "true"}


def run_cpu_processes(nproc: int, args: list[str]) -> subprocess.CompletedProcess:
    command = [*torchrun(nproc, free_port()), TRAIN, "--config",
               str(ROOT / "config" / "base_config.yaml"), *args]
    return subprocess.run(command, cwd=ROOT, env=cpu_env(), capture_output=True, text=True,
                          timeout=900)


def history(out: Path) -> list[dict]:
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def statuses(db: Path) -> list[str]:
    with sqlite3.connect(db) as connection:
        return [r[0] for r in connection.execute("SELECT status FROM experiments")]


# dropout off: two ranks draw other masks than one process does, which is noise, not math
EVAL = {"training.max_steps": 6, "data.embedded_eval_size": 15, "training.eval_strategy": "steps",
        "training.eval_steps": 6, "model.dropout": 0.0}


def test_two_processes_match_one_with_the_same_global_batch(tmp_path, cache_dir):
    one = run_train(tiny_overrides(tmp_path / "one", cache_dir, **EVAL,
                                   **{"training.per_device_train_batch_size": 16}))
    assert one.returncode == 0, one.stderr
    two = run_cpu_processes(2, tiny_overrides(tmp_path / "two", cache_dir, **EVAL,
                                              **{"training.per_device_train_batch_size": 8}))
    assert two.returncode == 0, two.stderr[-3000:]
    single, double = history(tmp_path / "one" / "out"), history(tmp_path / "two" / "out")
    loss_one = [r["train/loss"] for r in single if "train/loss" in r]
    loss_two = [r["train/loss"] for r in double if "train/loss" in r]
    assert len(loss_one) == len(loss_two) == 6
    for a, b in zip(loss_one, loss_two):
        assert abs(a - b) / a < 0.01
    # an eval set of 15 over 2 processes: every example counted once, the same ROUGE
    eval_one = next(r for r in single if "eval/rouge_combined_f1" in r)
    eval_two = next(r for r in double if "eval/rouge_combined_f1" in r)
    for key in ("eval/rouge1_f1", "eval/rouge2_f1", "eval/rougeL_f1", "eval/rouge_combined_f1"):
        assert eval_two[key] == pytest.approx(eval_one[key], abs=1e-6)
    assert eval_two["eval/loss"] == pytest.approx(eval_one["eval/loss"], rel=1e-3)
    assert statuses(tmp_path / "two" / "toolkit.db") == ["completed"]  # one record, from rank 0


def test_sigterm_under_torchrun_saves_on_all_ranks_and_resumes(tmp_path, cache_dir):
    args = tiny_overrides(tmp_path, cache_dir, **{"training.max_steps": 40})
    command = [*torchrun(2, free_port()), TRAIN, "--config",
               str(ROOT / "config" / "base_config.yaml"), *args]
    process = subprocess.Popen(command, cwd=ROOT, env=cpu_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    out = tmp_path / "out"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # wait for a few steps to be logged
        runs = list(out.glob("*/metrics.jsonl")) if out.exists() else []
        if runs and len(runs[0].read_text().splitlines()) >= 3:
            break
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGTERM)  # what a scheduler does to the job's processes
    output, _ = process.communicate(timeout=300)
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    saved = checkpoint.newest_valid(run_dir)
    assert saved is not None, output[-3000:]
    assert "saving a checkpoint after this step" in output
    assert f"exitcode  : {EXIT_INTERRUPTED}" in output or process.returncode != 0
    resumed = run_cpu_processes(2, [*args, "--resume", "auto"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    steps = [r["step"] for r in history(out) if "train/loss" in r]
    assert steps == list(range(1, 41))
    assert statuses(tmp_path / "toolkit.db") == ["completed"]


def test_torchrun_without_a_distributed_accelerate_setup_is_refused(tmp_path, cache_dir):
    """torchrun on CPUs without ACCELERATE_USE_CPU: accelerate sets each rank up alone."""
    command = [*torchrun(2, free_port()), TRAIN, "--config",
               str(ROOT / "config" / "base_config.yaml"), *tiny_overrides(tmp_path, cache_dir)]
    env = {k: v for k, v in environment().items() if k != "ACCELERATE_USE_CPU"}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode != 0
    assert "error: the launcher started 2 processes (WORLD_SIZE=2)" in result.stderr
    assert "ACCELERATE_USE_CPU=true" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_failing_rank_stops_every_rank(tmp_path, cache_dir):
    entry = "{name: tests.helpers:FailAt, step: 2, rank: 1}"
    args = tiny_overrides(tmp_path, cache_dir, **{"training.max_steps": 30})
    result = run_cpu_processes(2, [*args, f"callbacks=[log_file, metrics_history, {entry}]"])
    assert result.returncode != 0
    assert "injected failure at step 2 on rank 1" in result.stdout + result.stderr
    assert statuses(tmp_path / "toolkit.db") in (["failed"], ["interrupted"])


@pytest.mark.parametrize("stage", ["zero2", "zero3"])
def test_deepspeed_trains_saves_resumes_and_consolidates(tmp_path, cache_dir, stage):
    pytest.importorskip("deepspeed")
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
                str(ROOT / "accelerate_configs" / f"deepspeed_{stage}.yaml"),
                "--num_processes", "1"]
    args = tiny_overrides(tmp_path, cache_dir, **{
        "training.max_steps": 4, "training.save_steps": 2, "training.eval_strategy": "steps",
        "training.eval_steps": 2})
    first = run_train([*args, "training.max_steps=2"], launcher=launcher, timeout=1200)
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = run_train([*args, "--resume", "auto"], launcher=launcher, timeout=1200)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from" in resumed.stderr
    (run_dir,) = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]
    model = AutoModelForSeq2SeqLM.from_pretrained(run_dir / "best")  # no DeepSpeed needed
    assert model.num_parameters() > 0
    assert (run_dir / "final" / "model.safetensors").is_file()
