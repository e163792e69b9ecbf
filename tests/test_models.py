"""Models and tokenizers: from-scratch presets of every family (Llama- and Qwen2-style too), the save_pretrained round trip
through `load_model` / `load_tokenizer`, embedding resizing, errors, checkpointing, dropout."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from toolkit.corpus import embedded_splits
from toolkit.data.collator import TrainCollator
from toolkit.data.features import FeatureBuilder
from toolkit.data.preprocess import find_tags, normalise
from toolkit.errors import ToolkitError
from toolkit.models.factory import build_tokenizer, family_of, load_model, load_tokenizer
from toolkit.models.families import resolve_family

ARCHITECTURES = ["bart", "kobart", "t5", "mt5", "gpt2", "kogpt2", "llama", "qwen2"]
MAX_SOURCE, MAX_TARGET = 64, 16
DROPOUT_ATTRIBUTES = {"bart": ["dropout"], "t5": ["dropout_rate"],
                      "gpt2": ["resid_pdrop", "embd_pdrop", "attn_pdrop"],
                      "llama": ["attention_dropout"], "qwen2": ["attention_dropout"]}


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return [{"id": r["fname"], "dialogue": normalise(r["dialogue"]),
             "references": [r["summary"]]} for r in embedded_splits(48, 4, seed=1)["train"]]


@pytest.fixture(scope="module")
def tokenizers(rows: list[dict]) -> dict[str, PreTrainedTokenizerBase]:
    texts = [r["dialogue"] for r in rows] + [r["references"][0] for r in rows]
    return {family: build_tokenizer(None, texts, find_tags(texts), 300, "bpe", family)
            for family in ("seq2seq", "causal")}


def scratch(architecture: str, tokenizer: PreTrainedTokenizerBase, **options) -> PreTrainedModel:
    torch.manual_seed(0)
    return load_model(architecture, None, "tiny", tokenizer, MAX_SOURCE + MAX_TARGET, **options)


def batch(architecture: str, tokenizer: PreTrainedTokenizerBase, rows: list[dict]
          ) -> dict[str, torch.Tensor]:
    builder = FeatureBuilder(tokenizer, family_of(architecture), MAX_SOURCE, MAX_TARGET,
                             add_bos=resolve_family(architecture).adds_bos)
    features = builder.build(rows[:4], None).to_list()
    return TrainCollator(tokenizer.pad_token_id)(features)


def checkpointing(model: PreTrainedModel) -> bool:
    """Whether any layer recomputes its activations (the flag transformers sets per layer)."""
    return any(getattr(m, "gradient_checkpointing", False) for m in model.modules())


def logits(model: PreTrainedModel, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(**inputs).logits


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_a_preset_trains_saves_and_loads_back_from_disk(architecture: str, tokenizers: dict,
                                                        rows: list[dict], tmp_path: Path) -> None:
    tokenizer = tokenizers[family_of(architecture)]
    model = scratch(architecture, tokenizer)
    assert model.get_input_embeddings().num_embeddings == len(tokenizer)
    inputs = batch(architecture, tokenizer, rows)
    model.train()
    loss = model(**inputs).loss
    assert torch.isfinite(loss) and 0 < loss.item() < 2 * torch.log(torch.tensor(len(tokenizer)))
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)

    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    reloaded_tokenizer = load_tokenizer(str(tmp_path))
    assert len(reloaded_tokenizer) == len(tokenizer)
    assert reloaded_tokenizer(rows[0]["dialogue"])["input_ids"] == tokenizer(
        rows[0]["dialogue"])["input_ids"]
    reloaded = load_model(architecture, str(tmp_path), "tiny", reloaded_tokenizer,
                          MAX_SOURCE + MAX_TARGET)
    assert torch.equal(logits(reloaded, inputs), logits(model, inputs))


@pytest.mark.parametrize("architecture", ["bart", "t5", "gpt2"])
def test_added_special_tokens_resize_the_embeddings(architecture: str, tokenizers: dict,
                                                    rows: list[dict], tmp_path: Path) -> None:
    family = family_of(architecture)
    tokenizer = tokenizers[family]
    scratch(architecture, tokenizer).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    same = build_tokenizer(str(tmp_path), [], ["#Person1#"], 0, "", family)
    assert len(same) == len(tokenizer)
    grown = build_tokenizer(str(tmp_path), [], ["#Person1#", "#Account#", "#Plate#"], 0, "",
                            family)
    assert len(grown) == len(tokenizer) + 2
    assert len(grown.tokenize("#Account#")) == 1
    model = load_model(architecture, str(tmp_path), "tiny", grown, MAX_SOURCE + MAX_TARGET)
    assert model.get_input_embeddings().num_embeddings == len(grown)
    assert logits(model, batch(architecture, grown, rows)).shape[-1] == len(grown)


def test_family_of_the_aliases() -> None:
    assert [family_of(a) for a in ARCHITECTURES] == ["seq2seq"] * 4 + ["causal"] * 4


def test_a_causal_tokenizer_pads_on_the_left_and_has_the_separator(tokenizers: dict) -> None:
    causal, seq2seq = tokenizers["causal"], tokenizers["seq2seq"]
    assert causal.padding_side == "left" and "<|summary|>" in causal.get_vocab()
    assert "<|summary|>" not in seq2seq.get_vocab()
    assert causal.pad_token_id is not None and causal.eos_token_id is not None


@pytest.mark.parametrize("load", [
    lambda path: load_model("bart", path, "tiny", None, 64), load_tokenizer],
    ids=["model", "tokenizer"])
def test_a_missing_checkpoint_dir_is_a_clear_error(tmp_path: Path, load) -> None:
    missing = str(tmp_path / "runs" / "best")
    with pytest.raises(ToolkitError) as caught:
        load(missing)
    message = str(caught.value)
    assert missing in message and "does not exist" in message


@pytest.mark.parametrize("load", [
    lambda path: load_model("bart", path, "tiny", None, 64), load_tokenizer],
    ids=["model", "tokenizer"])
def test_a_directory_without_a_model_is_a_clear_error(tmp_path: Path, load) -> None:
    with pytest.raises(ToolkitError, match="holds a save_pretrained model"):
        load(str(tmp_path))


@pytest.mark.parametrize("architecture", ["bart", "t5", "gpt2", "llama"])
def test_gradient_checkpointing(architecture: str, tokenizers: dict, rows: list[dict]) -> None:
    tokenizer = tokenizers[family_of(architecture)]
    assert not checkpointing(scratch(architecture, tokenizer))
    model = scratch(architecture, tokenizer, gradient_checkpointing=True)
    assert checkpointing(model) and model.config.use_cache is False
    model.train()
    model(**batch(architecture, tokenizer, rows)).loss.backward()
    assert model.get_input_embeddings().weight.grad is not None


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_the_dropout_override_reaches_the_config(architecture: str, tokenizers: dict,
                                                 tmp_path: Path) -> None:
    tokenizer = tokenizers[family_of(architecture)]
    base = architecture.removeprefix("ko").removeprefix("m")
    model = scratch(architecture, tokenizer, dropout=0.3)
    for name in DROPOUT_ATTRIBUTES[base]:
        assert getattr(model.config, name) == 0.3
    model.save_pretrained(tmp_path)
    reloaded = load_model(architecture, str(tmp_path), "tiny", tokenizer, 80, dropout=0.05)
    for name in DROPOUT_ATTRIBUTES[base]:
        assert getattr(reloaded.config, name) == 0.05
