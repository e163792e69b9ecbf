"""Adversarial inputs: each is refused with exit 2 and one paragraph that names the problem,
never a traceback, and leaves existing runs, checkpoints and records as they were.

Commands run in-process (`toolkit.cli.main`) on one tiny trained run shared by the module; a
process is started only where the operating system is part of the case (a closed pipe).
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.helpers import ROOT, environment, tiny_overrides
from toolkit.cli import main
from toolkit.engine import checkpoint
from toolkit.errors import CheckpointError

pytestmark = pytest.mark.slow

BASE = str(ROOT / "config" / "base_config.yaml")
# 4 steps, a checkpoint and an evaluation (which chooses best/) every 2
RUN = {"training.max_steps": 4, "training.save_steps": 2, "training.eval_strategy": "steps",
       "training.eval_steps": 2, "callbacks": "[metrics_history, nan_guard]"}
ACCELERATE_FILES = ("custom_checkpoint_0.pkl", "random_states_0.pkl", "optimizer.bin",
                    "scheduler.bin", "scaler.pt", "sampler.bin",
                    "pytorch_model/mp_rank_00_model_states.pt",
                    "pytorch_model/zero_pp_rank_0_mp_rank_00_optim_states.pt")


class Planted:
    """Unpickling this creates the marker file: proof that a load ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def plant(path: Path, marker: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state": Planted(marker)}, path)


def cli(capsys, *argv: str) -> tuple[int, str]:
    """Run `toolkit ARGV` in-process; return the exit code and everything printed."""
    for handler in logging.getLogger("toolkit").handlers:  # the console handler writes to
        if getattr(handler, "_toolkit_console", False):   # the stderr captured now
            handler.stream = sys.stderr
    code = main(list(argv))
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "Traceback" not in text, text
    return code, text


def train(capsys, tmp: Path, cache: Path, *extra: str, **values: object) -> tuple[int, str]:
    return cli(capsys, "train", "--config", BASE, *tiny_overrides(tmp, cache, **{**RUN, **values}),
               *extra)


def snapshot(root: Path) -> dict:
    """Every file's digest under `root` and every row of the tracking database."""
    files = {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(root.rglob("*")) if p.is_file() and "toolkit.db" not in p.name}
    with sqlite3.connect(root / "toolkit.db") as connection:
        rows = {table: connection.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
                for table in ("experiments", "models", "metrics")}
    return {"files": files, "rows": rows}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, cache_dir) -> Path:
    """A completed tiny run (checkpoints step-2 and step-4, best/, a tracker record, a model)."""
    tmp = tmp_path_factory.mktemp("bad-inputs")
    code = main(["train", "--config", BASE, *tiny_overrides(tmp, cache_dir, **RUN)])
    assert code == 0
    return tmp


@pytest.fixture
def intact(trained):
    """The shared run, checked to be unchanged after the test."""
    before = snapshot(trained)
    yield trained
    assert snapshot(trained) == before


def run_dir_of(root: Path) -> Path:
    (run,) = [p for p in (root / "out").iterdir() if p.is_dir()]
    return run


def copy_run(trained: Path, tmp_path: Path) -> Path:
    """A private copy of the shared run's output and database, to damage freely."""
    shutil.copytree(trained / "out", tmp_path / "out")
    shutil.copy(trained / "toolkit.db", tmp_path / "toolkit.db")
    return run_dir_of(tmp_path)


# ------------------------------------------------------------------ configuration
@pytest.mark.parametrize("content, message", [
    ("training: [unclosed", "is not valid YAML at line"),
    ("training: !!python/object/apply:os.system ['touch MARKER']", "is not valid YAML"),
    ("- just\n- a list", "must hold a mapping of sections"),
])
def test_broken_config_files(intact, tmp_path, capsys, content, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(content, encoding="utf-8")
    code, text = cli(capsys, "config", "show", "--config", str(bad))
    assert code == 2 and message in text and str(bad) in text
    assert not (ROOT / "MARKER").exists() and not (tmp_path / "MARKER").exists()


def test_inherit_cycle(intact, tmp_path, capsys):
    (tmp_path / "a.yaml").write_text("inherit: b.yaml\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("inherit: a.yaml\n", encoding="utf-8")
    code, text = cli(capsys, "config", "show", "--config", str(tmp_path / "a.yaml"))
    assert code == 2 and "`inherit` forms a cycle" in text


@pytest.mark.parametrize("variable, value, message", [
    ("NUM_EPOCHS", "1e400", "training.num_train_epochs must be a finite number; got inf"),
    ("NUM_EPOCHS", ".nan", "training.num_train_epochs must be a finite number; got nan"),
    ("TOOLKIT_TRAINING__WARMUP_RATIO", "-.inf", "training.warmup_ratio must be a finite number"),
    ("NUM_EPOCHS", "many", "training.num_train_epochs expects float; got 'many'"),
    ("TOOLKIT_TRAINING__NO_SUCH_KEY", "1", "unknown key `training.no_such_key`"),
])
def test_garbage_environment_overrides(intact, tmp_path, capsys, monkeypatch, cache_dir,
                                       variable, value, message):
    monkeypatch.setenv(variable, value)
    code, text = train(capsys, tmp_path, cache_dir)
    assert code == 2 and message in text
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="accelerate accepts this FSDP setting on GPUs")
def test_a_launch_setting_accelerate_refuses(intact, tmp_path, capsys, monkeypatch, cache_dir):
    """What `accelerate launch --config_file fsdp_llama.yaml` sets, on a machine without GPUs."""
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    monkeypatch.setenv("FSDP_SYNC_MODULE_STATES", "true")
    code, text = train(capsys, tmp_path, cache_dir)
    assert code == 2 and "accelerate cannot start this run" in text
    assert "sync_module_states" in text and "FSDP on GPUs only" in text


def test_infinite_number_in_a_config_file(intact, tmp_path, capsys):
    config = tmp_path / "inf.yaml"
    config.write_text(f"inherit: {BASE}\ntraining:\n  learning_rate: .inf\n", encoding="utf-8")
    code, text = cli(capsys, "config", "show", "--config", str(config))
    assert code == 2 and "training.learning_rate must be a finite number; got inf" in text


# --------------------------------------------------------------------------- data
@pytest.mark.parametrize("content, message", [
    ("", "empty"),
    ("fname,dialogue,summary\n", "no rows"),
    ("fname,text\nt1,hello\n", "dialogue"),
])
def test_bad_training_files(intact, tmp_path, capsys, cache_dir, content, message):
    data = tmp_path / "train.csv"
    data.write_text(content, encoding="utf-8")
    code, text = train(capsys, tmp_path, cache_dir, f"data.train_path={data}")
    assert code == 2 and str(data) in text and message in text.lower()


# -------------------------------------------------------------------- checkpoints
@pytest.fixture
def resumable(trained):
    """Live objects built as the trainer builds them, from the shared run's own config."""
    from accelerate.state import AcceleratorState
    from transformers import AutoModelForSeq2SeqLM

    from toolkit.config import loader
    from toolkit.engine.setup import build_accelerator, prepare

    run_dir = run_dir_of(trained)
    cfg = loader.to_typed(loader.resolve(run_dir / "config.yaml")[0])
    AcceleratorState._reset_state()
    accelerator = build_accelerator(cfg)
    model = AutoModelForSeq2SeqLM.from_pretrained(run_dir / "final")
    prepared = prepare(cfg, accelerator, model, batches_per_epoch=12)
    return accelerator, checkpoint.Resumable(prepared.model, prepared.optimizer,
                                             prepared.scheduler, torch.Generator())


def checkpoint_copy(trained: Path, tmp_path: Path) -> Path:
    source = run_dir_of(trained) / "checkpoints" / "step-4"
    return Path(shutil.copytree(source, tmp_path / "checkpoints" / "step-4"))


def test_an_untouched_checkpoint_loads(intact, tmp_path, resumable):
    accelerator, parts = resumable
    state = checkpoint.load(accelerator, checkpoint_copy(intact, tmp_path), parts)
    assert state.global_step == 4 and parts.scheduler.last_epoch == 4


def checkpoint_files(trained: Path) -> list[str]:
    directory = run_dir_of(trained) / "checkpoints" / "step-4"
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


def test_every_file_a_checkpoint_holds_is_covered(trained):
    assert checkpoint_files(trained) == sorted([
        checkpoint.MANIFEST, checkpoint.STATE_FILE, checkpoint.WEIGHTS_FILE,
        checkpoint.OPTIMIZER_FILE, checkpoint.SCHEDULER_FILE, "rng_state_0.json"])


@pytest.mark.parametrize("name", [
    checkpoint.WEIGHTS_FILE, checkpoint.OPTIMIZER_FILE, checkpoint.SCHEDULER_FILE,
    checkpoint.STATE_FILE, "rng_state_0.json", *ACCELERATE_FILES])
def test_a_planted_pickle_never_runs(intact, tmp_path, resumable, name):
    """With the manifest rewritten to match, loading itself must be safe; without, the changed
    file is refused by name before anything is loaded."""
    accelerator, parts = resumable
    marker = tmp_path / "MARKER"
    directory = checkpoint_copy(intact, tmp_path)
    plant(directory / name, marker)
    with pytest.raises(CheckpointError, match=re.escape(str(directory / name))):
        checkpoint.load(accelerator, directory, parts)  # the manifest no longer matches
    checkpoint.write_manifest(directory)
    try:
        checkpoint.load(accelerator, directory, parts)  # files it does not read are ignored
    except Exception as error:  # noqa: BLE001 - any refusal will do; running code will not
        assert "MARKER" not in str(error)
    assert not marker.exists()


def test_a_planted_manifest_never_runs(intact, tmp_path, resumable):
    accelerator, parts = resumable
    marker = tmp_path / "MARKER"
    directory = checkpoint_copy(intact, tmp_path)
    plant(directory / checkpoint.MANIFEST, marker)
    with pytest.raises(CheckpointError, match="manifest.json is corrupt"):
        checkpoint.load(accelerator, directory, parts)
    assert not marker.exists()


def test_deepspeed_loads_are_weights_only(tmp_path):
    pytest.importorskip("deepspeed")
    from deepspeed.runtime.checkpoint_engine import TorchCheckpointEngine

    marker = tmp_path / "MARKER"
    plant(tmp_path / "zero_pp_rank_0_mp_rank_00_optim_states.pt", marker)
    engine = checkpoint._WeightsOnlyLoads(TorchCheckpointEngine())
    with pytest.raises(Exception, match="Weights only load failed"):
        engine.load(str(tmp_path / "zero_pp_rank_0_mp_rank_00_optim_states.pt"))
    assert not marker.exists()
    torch.save({"tensor": torch.ones(2)}, tmp_path / "plain.pt")
    assert engine.load(str(tmp_path / "plain.pt"))["tensor"].sum() == 2


def test_resuming_a_planted_checkpoint_is_refused_by_name(trained, tmp_path, capsys, cache_dir):
    run_dir = copy_run(trained, tmp_path)
    newest = run_dir / "checkpoints" / "step-4"
    plant(newest / "custom_checkpoint_0.pkl", tmp_path / "MARKER")  # the accelerate exploit
    code, text = train(capsys, tmp_path, cache_dir, "--resume", str(newest))
    assert code == 2 and str(newest / "custom_checkpoint_0.pkl") in text
    assert "not in the manifest" in text and not (tmp_path / "MARKER").exists()


def test_a_changed_file_falls_back_to_the_previous_checkpoint(trained, tmp_path, capsys,
                                                               cache_dir):
    run_dir = copy_run(trained, tmp_path)
    newest = run_dir / "checkpoints" / "step-4"
    weights = newest / checkpoint.WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # same size, other bytes: only the checksum sees it
    weights.write_bytes(bytes(data))
    code, text = train(capsys, tmp_path, cache_dir, "--resume", str(newest))
    assert code == 2 and str(weights) in text and "SHA-256" in text
    assert checkpoint.newest_valid(run_dir) == run_dir / "checkpoints" / "step-2"
    code, text = train(capsys, tmp_path, cache_dir, "--resume", "auto")
    assert code == 0
    assert checkpoint.newest_valid(run_dir) == newest  # step 4 written again, from step 2


def test_a_truncated_checkpoint_file_is_named(trained, tmp_path, capsys, cache_dir):
    run_dir = copy_run(trained, tmp_path)
    state = run_dir / "checkpoints" / "step-4" / checkpoint.STATE_FILE
    state.write_text(state.read_text()[:10], encoding="utf-8")
    code, text = train(capsys, tmp_path, cache_dir, "--resume", str(state.parent))
    assert code == 2 and str(state) in text and "corrupt" in text


# ------------------------------------------------------------------- model files
def damaged_model(trained: Path, tmp_path: Path, how: str) -> Path:
    model = Path(shutil.copytree(run_dir_of(trained) / "best", tmp_path / "model"))
    weights = model / "model.safetensors"
    if how == "truncated":
        weights.write_bytes(weights.read_bytes()[:64])
    elif how == "garbage":
        weights.write_bytes(b"not safetensors at all " * 100)
    else:  # a pickle pytorch_model.bin that runs code
        weights.unlink()
        plant(model / "pytorch_model.bin", tmp_path / "MARKER")
    return model


MODEL_MESSAGES = {"truncated": "not a readable safetensors file",
                  "garbage": "not a readable safetensors file",
                  "pickle": "refused for safety"}


@pytest.mark.parametrize("how", list(MODEL_MESSAGES))
def test_damaged_model_for_predict(intact, tmp_path, capsys, how):
    model = damaged_model(intact, tmp_path, how)
    source = tmp_path / "test.csv"
    source.write_text("fname,dialogue\nt1,#Person1#: 안녕하세요\n", encoding="utf-8")
    code, text = cli(capsys, "predict", "--model", str(model), "--input", str(source),
                     "--output", str(tmp_path / "out.csv"))
    assert code == 2 and MODEL_MESSAGES[how] in text and str(model) in text
    assert not (tmp_path / "MARKER").exists() and not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("how", ["truncated", "pickle"])
def test_damaged_model_to_train_from(intact, tmp_path, capsys, cache_dir, how):
    model = damaged_model(intact, tmp_path, how)
    code, text = train(capsys, tmp_path, cache_dir, f"model.checkpoint={model}",
                       f"tokenizer.path={run_dir_of(intact) / 'best'}")
    assert code == 2 and MODEL_MESSAGES[how] in text
    assert "convert it once to safetensors" in text or how != "pickle"
    assert not (tmp_path / "MARKER").exists()


# ----------------------------------------------------------------------- outputs
def test_output_dir_that_is_a_file(intact, tmp_path, capsys, cache_dir):
    blocker = tmp_path / "out"
    blocker.write_text("a file, not a directory", encoding="utf-8")
    code, text = train(capsys, tmp_path, cache_dir)
    assert code == 2 and "cannot create the run directory" in text
    assert "general.output_dir" in text and blocker.read_text() == "a file, not a directory"


def test_output_dir_that_cannot_be_written(intact, tmp_path, capsys, cache_dir):
    code, text = train(capsys, tmp_path, cache_dir, "general.output_dir=/sys/toolkit-runs")
    assert code == 2 and "cannot create the run directory /sys/toolkit-runs" in text


@pytest.fixture
def predict_input(tmp_path) -> Path:
    source = tmp_path / "test.csv"
    source.write_text("fname,dialogue\nt1,#Person1#: 안녕하세요 #Person2#: 네\n", encoding="utf-8")
    return source


@pytest.mark.parametrize("where, message", [
    ("directory", "is a directory"),
    ("under_file", "which is a file"),
    ("input", "is the input file"),
    ("existing", "already exists; pass --overwrite"),
])
def test_predict_output_is_checked_before_generation(intact, tmp_path, capsys, predict_input,
                                                     where, message):
    (tmp_path / "directory").mkdir()
    (tmp_path / "a_file").write_text("x", encoding="utf-8")
    (tmp_path / "existing.csv").write_text("keep me", encoding="utf-8")
    output = {"directory": tmp_path / "directory", "under_file": tmp_path / "a_file" / "o.csv",
              "input": predict_input, "existing": tmp_path / "existing.csv"}[where]
    before = predict_input.read_bytes()
    code, text = cli(capsys, "predict", "--model", str(run_dir_of(intact) / "best"),
                     "--input", str(predict_input), "--output", str(output))
    assert code == 2 and message in text and "Predicting" not in text
    assert predict_input.read_bytes() == before
    assert (tmp_path / "existing.csv").read_text() == "keep me"


def test_predict_overwrite_replaces_but_never_the_input(intact, tmp_path, capsys, predict_input):
    output = tmp_path / "sub.csv"
    output.write_text("old", encoding="utf-8")
    args = ["predict", "--model", str(run_dir_of(intact) / "best"), "--input",
            str(predict_input), "--num-beams", "1", "--max-new-tokens", "4", "--overwrite"]
    code, _ = cli(capsys, *args, "--output", str(output))
    assert code == 0 and output.read_text(encoding="utf-8").startswith("fname,summary")
    code, text = cli(capsys, *args, "--output", str(predict_input))
    assert code == 2 and "is the input file" in text


# --------------------------------------------------------------------- records
INJECTIONS = ["x' OR '1'='1", "'; DROP TABLE experiments; --", "%\" OR 1=1 --"]


@pytest.mark.parametrize("text", INJECTIONS)
def test_sql_shaped_strings_are_only_strings(intact, capsys, text):
    db = str(intact / "toolkit.db")
    code, out = cli(capsys, "runs", "list", "--db", db, "--name", text, "--json")
    assert code == 0 and out.strip() == "[]"
    for command in ("runs", "models"):
        code, out = cli(capsys, command, "show", text, "--db", db)
        assert code == 2 and text in out


def write_experiments(db: str, count: int) -> None:
    from toolkit.tracking.tracker import ExperimentTracker

    tracker = ExperimentTracker(db)
    for i in range(count):
        experiment = tracker.start_experiment(name=f"writer-{os.getpid()}-{i}", config={})
        tracker.log_metrics({"train/loss": float(i)}, i, experiment)


def test_concurrent_writers_lose_nothing(intact, tmp_path):
    db = str(tmp_path / "shared.db")
    write_experiments(db, 1)  # the schema exists before the race
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=write_experiments, args=(db, 25)) for _ in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=300)
        assert writer.exitcode == 0
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT COUNT(*) FROM experiments").fetchone() == (101,)
        assert connection.execute("SELECT COUNT(*) FROM metrics").fetchone() == (101,)


def test_runs_list_into_a_closed_pipe(intact):
    process = subprocess.Popen(
        [sys.executable, "-m", "toolkit.cli", "runs", "list", "--db", str(intact / "toolkit.db")],
        cwd=ROOT, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # `| head` that has already exited
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert b"Traceback" not in stderr and b"BrokenPipeError" not in stderr


def test_a_run_failing_in_setup_is_recorded_failed(tmp_path):
    from toolkit.events import RunContext
    from toolkit.state import TrainState
    from toolkit.tracking import TrackerCallback
    from toolkit.tracking.tracker import ExperimentTracker

    tracker = TrackerCallback(tmp_path / "toolkit.db")
    run = RunContext(run_dir=tmp_path / "run", experiment_name="setup-fails", config={},
                     config_hash="abc")
    tracker.on_exception(TrainState(), RuntimeError("out of memory while preparing"), run=run)
    (experiment,) = ExperimentTracker(tmp_path / "toolkit.db").list_experiments()
    assert experiment["name"] == "setup-fails" and experiment["status"] == "failed"
    assert "RuntimeError: out of memory while preparing" in experiment["notes"]


def test_resuming_a_finished_run_registers_no_new_version(tmp_path, capsys, cache_dir):
    values = {"training.max_steps": 2}
    assert train(capsys, tmp_path, cache_dir, **values)[0] == 0
    code, _ = train(capsys, tmp_path, cache_dir, "--resume", "auto", **values)
    assert code == 0
    with sqlite3.connect(tmp_path / "toolkit.db") as connection:
        assert connection.execute("SELECT COUNT(*) FROM models").fetchone() == (1,)
        assert connection.execute("SELECT status FROM experiments").fetchall() == [("completed",)]
