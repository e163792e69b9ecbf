"""Every shipped config resolves and types; from-scratch presets build their model offline;
sweep specs, accelerate configs and DeepSpeed JSONs are well-formed."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
import yaml
from accelerate.utils import DistributedType

from tests.helpers import ROOT
from toolkit.config import loader
from toolkit.corpus import embedded_splits
from toolkit.data.preprocess import find_tags
from toolkit.models.factory import build_tokenizer, family_of, load_model

CONFIG = ROOT / "config"
SWEEP = CONFIG / "sweep"
# Add a new config here: the test fails until it does, so every file is checked.
EXPECTED_CONFIGS = [
    "base_config.yaml", "models/kobart_base.yaml", "models/kogpt2.yaml",
    "models/mt5_small.yaml", "models/qwen2_5_1_5b_lora.yaml", "models/scratch_bart_small.yaml",
    "models/scratch_gpt2_tiny.yaml", "models/scratch_t5_tiny.yaml", "models/t5_base.yaml",
]
EXPECTED_SWEEPS = ["kobart_sweep.yaml", "quick_cpu_sweep.yaml"]
SEED_SWEEP = CONFIG / "sweep_config.yaml"  # the seed guide's name, a sweep file beside the configs
FINETUNE = {"models/kobart_base.yaml": ("kobart", "gogamza/kobart-base-v2"),
            "models/kogpt2.yaml": ("kogpt2", "skt/kogpt2-base-v2"),
            "models/mt5_small.yaml": ("mt5", "google/mt5-small"),
            "models/t5_base.yaml": ("t5", "paust/pko-t5-base")}
SCRATCH = ["base_config.yaml", "models/scratch_bart_small.yaml", "models/scratch_gpt2_tiny.yaml",
           "models/scratch_t5_tiny.yaml"]
GPT2_POSITIONS = 1024  # skt/kogpt2-base-v2's n_positions
DS_AUTO = ("train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "gradient_clipping")


def shipped() -> list[str]:
    return sorted(str(p.relative_to(CONFIG)) for p in CONFIG.rglob("*.yaml")
                  if SWEEP not in p.parents and p != SEED_SWEEP)


def resolved(name: str) -> dict:
    return loader.resolve(CONFIG / name, environ={})[0]


def test_the_shipped_configs_are_the_expected_ones() -> None:
    assert shipped() == EXPECTED_CONFIGS
    assert sorted(p.name for p in SWEEP.glob("*.yaml")) == EXPECTED_SWEEPS


@pytest.mark.parametrize("name", EXPECTED_CONFIGS)
def test_each_config_resolves_and_types(name: str) -> None:
    config = resolved(name)
    typed = loader.to_typed(config)
    assert typed.model.architecture == config["model"]["architecture"]
    if family_of(typed.model.architecture) == "causal":
        t = typed.tokenizer
        assert t.max_source_length + t.max_target_length <= GPT2_POSITIONS


@pytest.mark.parametrize("name", [n for n in EXPECTED_CONFIGS if n.startswith("models/")])
def test_each_model_config_says_what_it_is_and_how_to_run_it(name: str) -> None:
    text = (CONFIG / name).read_text(encoding="utf-8")
    header = text.split("\n\n")[0]
    assert text.startswith("# ")
    assert f"--config config/{name}" in header
    assert yaml.safe_load(text)["inherit"] == "../base_config.yaml"


@pytest.mark.parametrize("name", sorted(FINETUNE))
def test_finetune_configs_use_the_checkpoint_and_the_competition_files(name: str) -> None:
    config = resolved(name)
    assert (config["model"]["architecture"], config["model"]["checkpoint"]) == FINETUNE[name]
    assert config["data"]["train_path"] == "data/train.csv"
    assert config["data"]["validation_path"] == "data/dev.csv"
    assert config["training"]["learning_rate"] <= 3e-4


@pytest.mark.parametrize("name", SCRATCH)
def test_scratch_presets_build_their_model_offline(name: str) -> None:
    config = loader.to_typed(resolved(name))
    m, t = config.model, config.tokenizer
    assert m.checkpoint is None and config.data.train_path == "embedded"
    family = family_of(m.architecture)
    rows = embedded_splits(32, 4, seed=0)["train"]
    texts = [r["dialogue"] for r in rows] + [r["summary"] for r in rows]
    tokenizer = build_tokenizer(None, texts, find_tags(texts), 200, t.algorithm, family)
    model = load_model(m.architecture, None, m.preset, tokenizer,
                       t.max_source_length + t.max_target_length, m.gradient_checkpointing,
                       m.dropout)
    assert model.get_input_embeddings().num_embeddings == len(tokenizer)
    ids = torch.tensor([tokenizer(rows[0]["dialogue"], add_special_tokens=False)["input_ids"]
                        [:32]])
    with torch.no_grad():
        loss = model(input_ids=ids, labels=ids).loss
    assert torch.isfinite(loss)


@pytest.mark.parametrize("path", [*(SWEEP / name for name in EXPECTED_SWEEPS), SEED_SWEEP],
                         ids=lambda path: path.name)
def test_sweep_specs_are_valid(path: Path) -> None:
    if importlib.util.find_spec("toolkit.sweep.spec") is None:
        pytest.skip("toolkit.sweep.spec does not exist yet: sweep specs are not checked")
    from toolkit.sweep.spec import resolve_sweep

    spec, _, base = resolve_sweep(path, None, [])
    assert spec.parameters and spec.program == "toolkit/train.py"
    assert Path(base) == CONFIG / "base_config.yaml"


ACCELERATE = sorted((ROOT / "accelerate_configs").glob("*.yaml"))
DEEPSPEED = sorted((ROOT / "accelerate_configs" / "deepspeed").glob("*.json"))


def test_there_are_accelerate_and_deepspeed_configs() -> None:
    assert len(ACCELERATE) >= 5 and len(DEEPSPEED) >= 3


@pytest.mark.parametrize("path", ACCELERATE, ids=lambda p: p.name)
def test_accelerate_configs(path: Path) -> None:
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(config, dict)
    assert config["distributed_type"] in {d.value for d in DistributedType}
    assert config.get("mixed_precision", "no") == "no"  # precision is training.mixed_precision
    if config["distributed_type"] == "DEEPSPEED":
        assert (ROOT / config["deepspeed_config"]["deepspeed_config_file"]).is_file()


@pytest.mark.parametrize("path", DEEPSPEED, ids=lambda p: p.name)
def test_deepspeed_configs_leave_hyperparameters_to_the_toolkit(path: Path) -> None:
    config = json.loads(path.read_text(encoding="utf-8"))
    for key in DS_AUTO:
        assert config[key] == "auto", key
    assert "optimizer" not in config and "scheduler" not in config
