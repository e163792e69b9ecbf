"""LoRA end to end on a tiny Llama-style checkpoint loaded through `model.checkpoint: DIR`:
training (loss falls, only adapters change, the base stays bit-identical), adapter-only
checkpoints and exact resume after SIGKILL, export --merge, predict from an adapter directory,
and LoRA under DeepSpeed ZeRO-3 (one CPU process)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from tests.helpers import ROOT, run_train, tiny_overrides
from tests.llm_helpers import save_base
from toolkit.cli import main
from toolkit.engine.trainer import create_trainer
from toolkit.models.loading import load_saved
from toolkit.tracking.registry import ModelRegistry
from toolkit.tracking.subscribers import PARAMETER_KEYS
from toolkit.tracking.tracker import ExperimentTracker

pytestmark = pytest.mark.slow

LORA = {"model.architecture": "auto", "peft.method": "lora", "peft.r": 8,
        "training.learning_rate": 5e-3, "data.system_prompt": "Be brief."}


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return save_base(tmp_path_factory.mktemp("base") / "llama", "llama")


def lora_args(tmp: Path, cache: Path, base: Path, **extra: object) -> list[str]:
    return tiny_overrides(tmp, cache, **{**LORA, "model.checkpoint": base, **extra})


def only_run(out: Path) -> Path:
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


def losses(run_dir: Path) -> list[float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["train/loss"] for r in rows if "train/loss" in r]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, cache_dir, base):
    """One in-process LoRA run (12 steps, evaluated at 6 and 12) and its trainer."""
    tmp = tmp_path_factory.mktemp("lora")
    trainer = create_trainer(ROOT / "config" / "base_config.yaml", overrides=lora_args(
        tmp, cache_dir, base, **{"training.max_steps": 12, "training.save_steps": 6,
                                 "training.eval_strategy": "steps", "training.eval_steps": 6}))
    result = trainer.train(trainer.prepare_data())
    return trainer, result, tmp


def test_lora_trains_only_the_adapters(trained, base):
    trainer, result, tmp = trained
    run_dir = Path(result.run_dir)
    curve = losses(run_dir)
    assert sum(curve[-3:]) / 3 < sum(curve[:3]) / 3 - 0.3, curve
    original = load_file(str(base / "model.safetensors"))
    model = trainer.model
    changed = 0
    for name, param in model.named_parameters():
        if "lora_" in name:
            changed += "lora_B" in name and bool(param.abs().max() > 0)  # B starts at zero
            continue
        key = name.removeprefix("base_model.model.").replace(".base_layer", "")
        assert torch.equal(param.detach(), original[key]), name  # the base is untouched
        assert not param.requires_grad
    assert changed > 0
    # best/ and final/: the adapter and the tokenizer, no base weights
    for directory in (run_dir / "best", run_dir / "final"):
        names = {p.name for p in directory.iterdir()}
        assert {"adapter_model.safetensors", "adapter_config.json", "tokenizer.json",
                "prompt_format.json", "generation_config.json"} <= names
        assert "model.safetensors" not in names
    # checkpoints: the trainable tensors only
    step = run_dir / "checkpoints" / "step-12"
    assert all("lora_" in key for key in load_file(str(step / "model.safetensors")))
    # the registry records the parameter counts and adapter settings
    (model_row,) = ModelRegistry(str(tmp / "toolkit.db")).search_models()
    info = model_row["training_info"]
    assert 0 < info["trainable_parameters"] < info["num_parameters"] / 5
    assert info["adapter"]["method"] == "lora" and info["adapter"]["r"] == 8
    # and so does the experiment, whether or not the model was registered
    experiment = ExperimentTracker(str(tmp / "toolkit.db")).get_experiment(result.experiment_id)
    assert {key: experiment["model_info"][key] for key in PARAMETER_KEYS} == {
        key: info[key] for key in PARAMETER_KEYS}


def test_export_merge_gives_a_plain_model_with_the_same_logits(trained, tmp_path):
    _, result, _ = trained
    best = Path(result.run_dir) / "best"
    assert main(["export", "--model", str(best), "--output", str(tmp_path / "x")]) == 2
    assert main(["export", "--model", str(best), "--merge", "--output",
                 str(tmp_path / "merged")]) == 0
    assert not (tmp_path / "merged" / "adapter_config.json").exists()
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged").eval()  # no peft
    adapted = load_saved(best).model.eval()
    ids = torch.tensor([[5, 17, 42, 99, 7, 3, 250, 11]])
    with torch.no_grad():
        difference = (merged(ids).logits - adapted(ids).logits).abs().max()
    assert difference < 1e-4


def test_predict_and_evaluate_accept_an_adapter_directory(trained, tmp_path):
    _, result, _ = trained
    final = Path(result.run_dir) / "final"
    data = tmp_path / "test.csv"
    data.write_text("fname,dialogue,summary\nt1,\"#Person1#: 안녕하세요. 예약하려고요.\n"
                    "#Person2#: 네, 몇 분이세요?\",#Person1#이 예약한다.\n", encoding="utf-8")
    output = tmp_path / "submission.csv"
    assert main(["predict", "--model", str(final), "--input", str(data), "--output",
                 str(output), "--max-new-tokens", "6"]) == 0
    assert output.read_text(encoding="utf-8").splitlines()[0] == "fname,summary"
    assert main(["evaluate", "--model", str(final), "--data", str(data),
                 "--max-new-tokens", "6"]) == 0


def test_sigkill_then_resume_restores_the_same_adapter(tmp_path, cache_dir, base):
    run = {"training.max_steps": 6, "training.gradient_accumulation_steps": 2,
           "training.save_steps": 2, "checkpoint.save_total_limit": 10}
    reference = run_train(lora_args(tmp_path / "ref", cache_dir, base, **run))
    assert reference.returncode == 0, reference.stderr[-3000:]
    args = lora_args(tmp_path / "kill", cache_dir, base, **run)
    kill = "[log_file, metrics_history, {name: 'tests.helpers:KillAt', step: 3}]"
    killed = run_train([*args, f"callbacks={kill}"])
    assert killed.returncode != 0
    resumed = run_train([*args, "--resume", "auto"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from" in resumed.stderr
    expected = load_file(str(only_run(tmp_path / "ref" / "out") / "final" /
                             "adapter_model.safetensors"))
    got = load_file(str(only_run(tmp_path / "kill" / "out") / "final" /
                        "adapter_model.safetensors"))
    assert expected.keys() == got.keys()
    assert max(float((expected[k] - got[k]).abs().max()) for k in expected) < 1e-6
    other = run_train([*args, "peft.r=4", "--resume", "auto"])  # another adapter shape
    assert other.returncode == 2 and "peft.r: 8 -> 4" in other.stderr


def test_lora_under_deepspeed_zero3_consolidates_the_adapter(tmp_path, cache_dir, base):
    pytest.importorskip("deepspeed")
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
                str(ROOT / "accelerate_configs" / "deepspeed_zero3.yaml"), "--num_processes", "1"]
    result = run_train(lora_args(tmp_path, cache_dir, base, **{"training.max_steps": 3}),
                       launcher=launcher, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    final = only_run(tmp_path / "out") / "final"
    adapter = load_file(str(final / "adapter_model.safetensors"))
    assert adapter and all("lora_" in key for key in adapter)
    assert all(t.numel() > 0 for t in adapter.values())  # gathered, not ZeRO-3 placeholders
    assert any(float(t.abs().max()) > 0 for k, t in adapter.items() if "lora_B" in k)
    load_saved(final)  # base + adapter load back without DeepSpeed
