"""The CUDA-only LLM paths: QLoRA (4-bit NF4 base via bitsandbytes), 8-bit AdamW and bf16, on a
tiny Llama-style checkpoint. Skipped without a CUDA GPU and bitsandbytes (CI has neither); run
on a GPU machine with `pytest tests/test_llm_gpu.py`."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.helpers import ROOT, tiny_overrides
from tests.llm_helpers import save_base
from toolkit.engine.trainer import create_trainer
from toolkit.models.loading import load_saved

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def test_qlora_with_8bit_adamw_and_bf16_trains_and_saves_an_adapter(tmp_path: Path,
                                                                    cache_dir: Path) -> None:
    pytest.importorskip("bitsandbytes")
    base = save_base(tmp_path / "base", "llama")
    trainer = create_trainer(ROOT / "config" / "base_config.yaml", overrides=tiny_overrides(
        tmp_path, cache_dir, **{"model.architecture": "auto", "model.checkpoint": base,
                                "model.torch_dtype": "bfloat16", "peft.method": "qlora",
                                "training.optim": "adamw_8bit", "training.mixed_precision": "bf16",
                                "model.gradient_checkpointing": True, "training.max_steps": 4}))
    result = trainer.train(trainer.prepare_data())
    assert any("Linear4bit" in type(m).__name__ for m in trainer.model.modules())
    assert result.final_metrics["loss"] == result.final_metrics["loss"]  # not NaN
    final = Path(result.run_dir) / "final"
    assert (final / "adapter_model.safetensors").is_file()
    assert load_saved(final).model is not None
