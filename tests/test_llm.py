"""Decoder-only LLMs: family resolution, prompt/chat formatting and its loss mask, left-padded
generation, generation settings, LoRA wrapping, loading options, label smoothing, optimizers.
Tiny Llama- and Qwen2-style checkpoints are built from a config and saved (tests/llm_helpers)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
import yaml
from accelerate.utils.dataclasses import get_module_class_from_name
from transformers import AutoModelForCausalLM

from tests.helpers import ROOT
from tests.llm_helpers import rows, save_base
from toolkit.config import loader
from toolkit.data.collator import TrainCollator, target_tokens
from toolkit.data.features import IGNORE_INDEX, SEPARATOR, FeatureBuilder
from toolkit.engine.loss import token_loss_sum
from toolkit.engine.optim import build_optimizer
from toolkit.errors import ConfigError
from toolkit.evaluation.generate import decode, generate_batches, generation_kwargs
from toolkit.models.adapters import model_info, parameter_counts
from toolkit.models.factory import build_tokenizer, load_model, load_tokenizer
from toolkit.models.families import needs_bos, resolve_family
from toolkit.models.loading import build_model
from toolkit.models.prompts import PromptFormat, prompt_format, stop_token_ids

MAX_SOURCE, MAX_TARGET = 128, 32


@pytest.fixture(scope="module")
def bases(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bases")
    return {kind: save_base(root / kind, kind) for kind in ("llama", "qwen2")}


@pytest.fixture(scope="module")
def examples() -> list[dict]:
    return rows(8)


def config(**overrides: object):
    return loader.to_typed(loader.defaults_merged(
        {section: dict(values) for section, values in _nest(overrides).items()}))


def _nest(overrides: dict[str, object]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for key, value in overrides.items():
        section, name = key.split("__")
        out.setdefault(section, {})[name] = value
    return out


def chat_features(base: Path, examples: list[dict], max_source: int = MAX_SOURCE,
                  **prompt_keys):
    tokenizer = load_tokenizer(str(base))
    family = resolve_family("auto", str(base))
    prompt = prompt_format(family, tokenizer, **prompt_keys)
    builder = FeatureBuilder(tokenizer, "causal", max_source, MAX_TARGET, prompt=prompt)
    return tokenizer, prompt, builder.build(examples, None).to_list()


# ------------------------------------------------------------------------------ families
def test_auto_reads_the_checkpoint_and_names_are_checked(bases):
    assert resolve_family("auto", str(bases["llama"])).model_type == "llama"
    qwen = resolve_family("auto", str(bases["qwen2"]))
    assert (qwen.model_type, qwen.kind) == ("qwen2", "causal")
    assert resolve_family("kobart").kind == "seq2seq"
    assert resolve_family("kogpt2").model_type == "gpt2"
    assert resolve_family("auto").model_type == "bart"  # from scratch: the old default
    for name in ("gemma", "mistral", "exaone", "qwen2", "mt5"):
        resolve_family(name)
    assert not needs_bos("t5") and needs_bos("llama") and needs_bos("bart")
    with pytest.raises(ConfigError, match="model.architecture `resnet`"):
        resolve_family("resnet")


# ----------------------------------------------------------------------- prompt formats
@pytest.mark.parametrize("kind", ["llama", "qwen2"])
def test_chat_template_puts_the_loss_on_the_answer_only(bases, examples, kind):
    tokenizer, prompt, features = chat_features(
        bases[kind], examples, system_prompt="Be brief.", instruction="Summarize.")
    for row, feature in zip(examples, features):
        cut = feature["prompt_length"]
        labels, ids = feature["labels"], feature["input_ids"]
        assert labels[:cut] == [IGNORE_INDEX] * cut
        assert labels[cut:] == ids[cut:] and IGNORE_INDEX not in labels[cut:]
        shown = tokenizer.decode(ids[:cut])
        assert shown.startswith("<s><|im_start|>system" if kind == "llama" else
                                "<|im_start|>system\nBe brief.")
        assert "<|im_start|>user\nSummarize.\n\n#Person1#" in shown
        assert shown.endswith("<|im_end|>\n<|im_start|>assistant\n")
        answer = tokenizer.decode(ids[cut:])
        end = "<|im_end|>\n</s>" if kind == "llama" else "<|im_end|>\n"
        assert answer.endswith(end)
        summary = tokenizer.decode(ids[cut:]).removesuffix(end).replace(" ", "")
        summary = summary.rstrip("\ufffd")  # byte-level truncation may split a character
        assert len(summary) > 10 and row["references"][0].replace(" ", "").startswith(summary)
    bos = tokenizer.bos_token_id
    assert (bos is not None and ids.count(bos) == 1) if kind == "llama" else bos is None
    assert stop_token_ids(tokenizer, prompt) == tokenizer.convert_tokens_to_ids(["<|im_end|>"])


def test_long_dialogues_are_cut_inside_the_template(bases, examples):
    tokenizer, _, features = chat_features(bases["qwen2"], examples, 64, instruction="")
    assert all(f["prompt_length"] == 64 for f in features)
    cut = max(features, key=lambda f: f["prompt_length"])
    assert tokenizer.decode(cut["input_ids"][:cut["prompt_length"]]).endswith(
        "<|im_start|>assistant\n")


def test_prompt_template_source_prefix_and_the_seed_layout(bases, examples):
    tokenizer = load_tokenizer(str(bases["llama"]))
    tokenizer.chat_template = None
    family = resolve_family("llama")
    custom = prompt_format(family, tokenizer, prompt_template="Dialogue:\n{dialogue}\nTL;DR:")
    assert (custom.prefix, custom.suffix, custom.add_bos) == ("Dialogue:\n", "\nTL;DR:", True)
    # no template and no separator in the vocabulary (adapters): a plain-text prompt
    assert prompt_format(family, tokenizer).suffix == "\n\nSummary:\n"
    with pytest.raises(ConfigError, match="exactly once"):
        prompt_format(family, tokenizer, prompt_template="no placeholder")
    t5 = prompt_format(resolve_family("t5"), tokenizer, source_prefix="summarize: ")
    assert t5 == PromptFormat(prefix="summarize: ", add_bos=False)
    builder = FeatureBuilder(tokenizer, "seq2seq", MAX_SOURCE, MAX_TARGET, prompt=t5)
    feature = builder.build(examples[:1], None)[0]
    assert tokenizer.decode(feature["input_ids"]).startswith("summarize: #Person1#")
    # the seed's decoder-only layout is unchanged: [bos] dialogue <|summary|> | summary eos
    causal = build_tokenizer(str(bases["llama"]), [], [], 0, "", "seq2seq")
    causal.chat_template = None
    causal.add_special_tokens({"additional_special_tokens": [SEPARATOR]})
    seed = FeatureBuilder(causal, "causal", MAX_SOURCE, MAX_TARGET, add_bos=True)
    feature = seed.build(examples[:1], None)[0]
    sep = causal.convert_tokens_to_ids(SEPARATOR)
    assert feature["input_ids"][0] == causal.bos_token_id
    assert feature["input_ids"][feature["prompt_length"] - 1] == sep
    assert feature["input_ids"][-1] == causal.eos_token_id


# --------------------------------------------------------------------------- generation
def test_left_padded_batches_return_only_the_new_tokens(bases, examples):
    tokenizer, prompt, features = chat_features(bases["llama"], examples[:4], max_source=512)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(bases["llama"]).eval()
    model.generation_config.eos_token_id = None  # random weights: generate every new token
    kwargs = {"max_new_tokens": 6, "num_beams": 1, "do_sample": False}
    lengths = {f["prompt_length"] for f in features}
    assert len(lengths) > 1  # the batch really needs padding
    batched = generate_batches(model, tokenizer, features, [[0, 1, 2, 3]], torch.device("cpu"),
                               causal=True, gen_kwargs=kwargs)
    for index, feature in enumerate(features):
        alone = torch.tensor([feature["input_ids"][:feature["prompt_length"]]])
        output = model.generate(alone, attention_mask=torch.ones_like(alone), **kwargs,
                                pad_token_id=tokenizer.pad_token_id)
        new = output[:, alone.shape[1]:]
        assert new.shape[1] == 6
        assert batched[index] == decode(tokenizer, new)[0]
        assert "<|im_start|>" not in batched[index]  # no prompt text came back


def test_decode_stops_at_the_end_of_turn(bases):
    tokenizer = load_tokenizer(str(bases["llama"]))
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    ids = tokenizer("#Person1# 가 예약", add_special_tokens=False)["input_ids"]
    text = decode(tokenizer, torch.tensor([ids + [end] + ids]), stop_ids=[end])[0]
    assert text.replace(" ", "") == "#Person1#가예약"


def test_generation_settings_come_from_the_schema():
    g = config().generation
    causal, seq2seq = generation_kwargs(g, causal=True), generation_kwargs(g, causal=False)
    assert causal["num_beams"] == 1 and causal["do_sample"] is False
    assert "length_penalty" not in causal and "temperature" not in causal
    assert seq2seq["num_beams"] == 4 and seq2seq["early_stopping"] is True
    sampled = generation_kwargs(config(generation__do_sample=True, generation__top_p=0.9,
                                       generation__temperature=0.7, generation__top_k=20,
                                       generation__num_beams=2).generation, causal=True)
    assert sampled["do_sample"] and (sampled["top_p"], sampled["temperature"],
                                     sampled["top_k"], sampled["num_beams"]) == (0.9, 0.7, 20, 2)


# -------------------------------------------------------------------------------- peft
def test_lora_leaves_only_adapters_trainable(bases):
    cfg = config(model__checkpoint=str(bases["qwen2"]), peft__method="lora", peft__r=4,
                 model__gradient_checkpointing=True)
    tokenizer = build_tokenizer(cfg.model.checkpoint, [], [], 0, "", "causal", add_tokens=False)
    model = build_model(cfg, tokenizer)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    assert any("mlp.down_proj" in n for n in trainable)  # every linear layer by default
    optimizer = build_optimizer(model, 1e-3, 0.01, (0.9, 0.999), 1e-8)
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(trainable)
    info = model_info(model, cfg.model, cfg.peft, "qwen2")
    assert info["trainable_parameters"] == parameter_counts(model)[0] < info["num_parameters"]
    assert info["adapter"]["r"] == 4 and info["adapter"]["target_modules"] == "all-linear"
    # non-reentrant checkpointing with a frozen base still reaches the adapters
    batch = TrainCollator(tokenizer.pad_token_id)(
        [{"input_ids": [5, 6, 7, 8], "labels": [-100, -100, 7, 8]}])
    model.train()
    model(**batch).loss.backward()
    assert all(p.grad is not None for n, p in model.named_parameters() if "lora_B" in n)


def test_refusals_name_the_reason(bases):
    with pytest.raises(ConfigError, match="nothing to adapt"):
        build_model(config(peft__method="lora"), None)
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA"):
            build_model(config(model__checkpoint=str(bases["llama"]), peft__method="qlora"),
                        None)
        with pytest.raises(ConfigError, match="adamw_8bit"):
            build_optimizer(torch.nn.Linear(2, 2), 1e-3, 0.0, (0.9, 0.999), 1e-8, "adamw_8bit")
    with pytest.raises(ConfigError, match="target_modules"):
        cfg = config(model__checkpoint=str(bases["llama"]), peft__method="lora",
                     peft__target_modules=["no_such_layer"])
        build_model(cfg, load_tokenizer(str(bases["llama"])))


# ----------------------------------------------------------------------- loading options
def test_dtype_and_attention_options(bases, caplog):
    tokenizer = load_tokenizer(str(bases["llama"]))
    source = str(bases["llama"])
    half = load_model("auto", source, "tiny", tokenizer, 128, dtype="bfloat16",
                      attn_implementation="eager")
    assert next(half.parameters()).dtype == torch.bfloat16
    assert half.config._attn_implementation == "eager"
    full = load_model("auto", source, "tiny", tokenizer, 128)  # auto: float32 master weights
    assert next(full.parameters()).dtype == torch.float32
    if not torch.cuda.is_available():
        with caplog.at_level(logging.WARNING):
            fallback = load_model("auto", source, "tiny", tokenizer, 128,
                                  attn_implementation="flash_attention_2")
        assert fallback.config._attn_implementation == "sdpa"
        assert "flash-attn" in caplog.text


# ------------------------------------------------------------------- loss and optimizers
@pytest.mark.parametrize("kind", ["llama", "t5"])
def test_label_smoothing_loss_matches_the_model_loss_and_smooths(bases, examples, kind):
    if kind == "t5":
        tokenizer = build_tokenizer(None, [r["dialogue"] for r in examples], [], 200, "bpe",
                                    "seq2seq")
        model = load_model("t5", None, "tiny", tokenizer, 128)
        features = FeatureBuilder(tokenizer, "seq2seq", MAX_SOURCE, MAX_TARGET).build(
            examples[:4], None).to_list()
    else:
        tokenizer, _, features = chat_features(bases["llama"], examples[:4])
        model = AutoModelForCausalLM.from_pretrained(bases["llama"])
    model.eval()
    batch = TrainCollator(tokenizer.pad_token_id)(features)
    tokens = target_tokens(batch["labels"], kind != "t5")
    with torch.no_grad():
        plain = token_loss_sum(model, batch, tokens, kind != "t5")
        nearly = token_loss_sum(model, batch, tokens, kind != "t5", label_smoothing=1e-9)
        smooth = token_loss_sum(model, batch, tokens, kind != "t5", label_smoothing=0.1)
        logits, labels = model(**batch).logits, batch["labels"]
    assert torch.allclose(plain, nearly, rtol=1e-4)
    # smoothing mixes in the mean log-probability over the vocabulary, which a random model
    # keeps close to the target's: the formula, not a difference, is what can be checked
    if kind != "t5":
        logits, labels = logits[:, :-1], labels[:, 1:]
    log_probs = logits.float().log_softmax(-1)[labels != -100]
    assert torch.allclose(smooth, 0.9 * plain - 0.1 * log_probs.mean(-1).sum(), rtol=1e-4)


def test_adafactor_and_unfused_adamw_step():
    for optim in ("adafactor", "adamw", "adamw_torch_fused"):
        torch.manual_seed(0)
        layer = torch.nn.Linear(4, 4)
        before = layer.weight.detach().clone()
        optimizer = build_optimizer(layer, 1e-2, 0.0, (0.9, 0.999), 1e-8, optim)
        layer(torch.randn(3, 4)).pow(2).sum().backward()
        optimizer.step()
        assert not torch.equal(before, layer.weight), optim


# ------------------------------------------------------------------------ shipped configs
def test_the_fsdp_config_wraps_llama_decoder_layers(bases):
    config = yaml.safe_load((ROOT / "accelerate_configs" / "fsdp_llama.yaml").read_text())
    fsdp = config["fsdp_config"]
    assert fsdp["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
    assert fsdp["fsdp_use_orig_params"] is True  # frozen base and adapters in one unit
    model = AutoModelForCausalLM.from_pretrained(bases["llama"])
    layer = get_module_class_from_name(model, fsdp["fsdp_transformer_layer_cls_to_wrap"])
    assert layer is not None and layer.__name__ in model._no_split_modules


def test_the_qwen_lora_config_is_a_greedy_bf16_lora_run():
    cfg = loader.to_typed(loader.resolve(ROOT / "config" / "models" / "qwen2_5_1_5b_lora.yaml",
                                         environ={})[0])
    assert (cfg.peft.method, cfg.model.torch_dtype, cfg.model.architecture) == (
        "lora", "bfloat16", "auto")
    assert cfg.model.gradient_checkpointing and cfg.training.mixed_precision == "bf16"
    assert generation_kwargs(cfg.generation, causal=True)["num_beams"] == 1
