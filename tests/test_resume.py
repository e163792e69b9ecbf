"""Exact resume, atomic checkpoints, preemption and failures, with real processes and signals."""

from __future__ import annotations

import json
import signal
import sqlite3
from pathlib import Path

import pytest
from safetensors.torch import load_file

from tests.helpers import run_train, tiny_overrides
from toolkit.engine import checkpoint

pytestmark = pytest.mark.slow

# 96 examples / batch 8 = 12 micro-batches an epoch; 2 per optimizer step: 6 steps an epoch.
RUN = {"training.max_steps": 10, "training.gradient_accumulation_steps": 2,
       "training.save_steps": 2, "checkpoint.save_total_limit": 10}


def only_run(out: Path) -> Path:
    runs = [p for p in out.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def weights(run_dir: Path) -> dict:
    return load_file(str(run_dir / "final" / "model.safetensors"))


def losses(run_dir: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["train/loss"] for r in rows if "train/loss" in r}


def max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


def status_of(db: Path) -> list[str]:
    with sqlite3.connect(db) as connection:
        return [row[0] for row in connection.execute("SELECT status FROM experiments")]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, cache_dir) -> Path:
    """The uninterrupted run every resumed run must reproduce."""
    tmp = tmp_path_factory.mktemp("reference")
    result = run_train(tiny_overrides(tmp, cache_dir, **RUN))
    assert result.returncode == 0, result.stderr
    return only_run(tmp / "out")


def callbacks(entry: str) -> str:
    return f"[log_file, metrics_history, nan_guard, {entry}]"


@pytest.mark.parametrize("kill", [
    "{name: 'tests.helpers:KillAt', step: 5}",  # mid-epoch, between two checkpoints
    "{name: 'tests.helpers:KillAt', step: 7}",  # second epoch, just after a checkpoint
    "{name: 'tests.helpers:KillAt', step: 3, delay: 0.05}",  # inside the next window
])
def test_sigkill_then_resume_is_exact(tmp_path, cache_dir, reference, kill):
    args = tiny_overrides(tmp_path, cache_dir, **RUN)
    killed = run_train([*args, f"callbacks={callbacks(kill)}"])
    assert killed.returncode == -signal.SIGKILL
    run_dir = only_run(tmp_path / "out")
    assert not (run_dir / "final").exists()
    resumed = run_train([*args, "--resume", "auto"])
    assert resumed.returncode == 0, resumed.stderr
    assert only_run(tmp_path / "out") == run_dir  # the same run continues
    assert max_difference(weights(run_dir), weights(reference)) < 1e-6
    assert losses(run_dir) == pytest.approx(losses(reference), abs=1e-6)
    assert status_of(tmp_path / "toolkit.db") == ["completed"]


def test_sigterm_checkpoints_and_exits_then_resumes(tmp_path, cache_dir, reference):
    args = tiny_overrides(tmp_path, cache_dir, **RUN)
    stopped = run_train([*args, f"callbacks={callbacks('{name: tests.helpers:SignalAt, step: 3}')}"])
    assert stopped.returncode == 75, stopped.stderr  # EX_TEMPFAIL, as the README promises
    run_dir = only_run(tmp_path / "out")
    assert (run_dir / "checkpoints" / "step-3").is_dir()  # the step that was running
    assert status_of(tmp_path / "toolkit.db") == ["interrupted"]
    resumed = run_train([*args, "--resume", str(run_dir)])
    assert resumed.returncode == 0, resumed.stderr
    assert max_difference(weights(run_dir), weights(reference)) < 1e-6
    assert status_of(tmp_path / "toolkit.db") == ["completed"]


def test_second_signal_exits_at_once(tmp_path, cache_dir):
    args = tiny_overrides(tmp_path, cache_dir, **RUN)
    entry = "{name: tests.helpers:SignalAt, step: 3, times: 2}"
    result = run_train([*args, f"callbacks={callbacks(entry)}"])
    assert result.returncode == 128 + signal.SIGTERM
    assert not (only_run(tmp_path / "out") / "checkpoints" / "step-3").exists()


def test_changed_config_on_resume_is_refused(tmp_path, cache_dir):
    args = tiny_overrides(tmp_path, cache_dir, **RUN)
    assert run_train(args).returncode == 0
    changed = run_train([*args, "training.per_device_train_batch_size=4", "--resume", "auto"])
    assert changed.returncode == 2
    assert "training.per_device_train_batch_size: 8 -> 4" in changed.stderr
    assert "Traceback" not in changed.stderr


def test_resume_without_checkpoint_says_so(tmp_path, cache_dir):
    args = tiny_overrides(tmp_path, cache_dir, **RUN)
    result = run_train([*args, "--resume", "auto"])
    assert result.returncode == 2
    assert "found no complete checkpoint" in result.stderr


def test_corrupt_checkpoint_falls_back_and_names_the_file(tmp_path, cache_dir):
    args = tiny_overrides(tmp_path, cache_dir, **{**RUN, "training.max_steps": 6})
    assert run_train(args).returncode == 0
    run_dir = only_run(tmp_path / "out")
    newest = checkpoint.list_checkpoints(run_dir)[-1]
    weights_file = newest / "model.safetensors"
    weights_file.write_bytes(weights_file.read_bytes()[:100])
    direct = run_train([*args, "--resume", str(newest)])
    assert direct.returncode == 2
    assert str(weights_file) in direct.stderr and "corrupt" in direct.stderr
    assert checkpoint.newest_valid(run_dir) == checkpoint.list_checkpoints(run_dir)[-2]
    fallback = run_train([*args, "--resume", "auto"])
    assert fallback.returncode == 0, fallback.stderr
    assert f"Skipping checkpoint {newest.name}" in fallback.stderr


def test_rotation_keeps_newest_and_best(tmp_path, cache_dir):
    args = tiny_overrides(tmp_path, cache_dir, **{
        **RUN, "checkpoint.save_total_limit": 2, "training.max_steps": 10,
        "training.eval_strategy": "steps", "training.eval_steps": 2,
        "training.metric_for_best_model": "loss", "training.greater_is_better": "false"})
    assert run_train(args).returncode == 0
    run_dir = only_run(tmp_path / "out")
    steps = [checkpoint.step_of(c) for c in checkpoint.list_checkpoints(run_dir)]
    state = json.loads((run_dir / "checkpoints" / f"step-{steps[-1]}" /
                        checkpoint.STATE_FILE).read_text())
    assert steps[-1] == 10
    assert len(steps) <= 2 or state["best_step"] in steps
    assert state["best_step"] in steps
    assert not list((run_dir / "checkpoints").glob(".tmp-*"))


def test_failure_is_recorded_with_one_clear_line(tmp_path, cache_dir):
    args = tiny_overrides(tmp_path, cache_dir, **RUN)
    result = run_train([*args, f"callbacks={callbacks('{name: tests.helpers:FailAt, step: 2}')}"])
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "injected failure at step 2" in result.stderr
    run_dir = only_run(tmp_path / "out")
    log = (run_dir / "train.log").read_text()
    assert "Traceback" in log and "injected failure" in log
    assert status_of(tmp_path / "toolkit.db") == ["failed"]
