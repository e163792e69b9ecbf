"""LoRA on a Llama-style model built from a config: the toolkit against TRL's SFTTrainer.

Both see the same model (random weights, saved with ``save_pretrained`` beside a tokenizer
trained on the training split), the same prompt (``PROMPT``, the summary as the completion,
loss on the completion only), LoRA rank/alpha/dropout/target modules, micro-batch,
accumulation, steps, learning rate, precision and length grouping. The held-out loss is one
function on one set of features for both. ``method: full`` is the toolkit without PEFT, for
the memory LoRA saves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import (
    SavedSpec,
    Spec,
    heldout_loss,
    load_rows,
    split_path,
    toolkit_config,
)

# Llama-style sizes: hidden, intermediate, layers, heads, key/value heads
LLAMA_SIZES = {
    "tiny": (256, 688, 4, 4, 2),  # about 7M parameters with an 8k vocabulary
    "0.5b": (1536, 4096, 16, 12, 4),  # 501M parameters with a 32k vocabulary
}
TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
PROMPT = "Dialogue:\n{dialogue}\nSummary:"
METHODS = ("lora", "qlora", "full")


@dataclass
class LoraSpec(SavedSpec):
    """Settings every LoRA contender shares; saved as <work>/lora-spec.json."""

    FILE = "lora-spec.json"

    work: str
    data: str
    size: str = "tiny"
    vocab_size: int = 8000
    max_source_length: int = 384
    max_target_length: int = 96
    steps: int = 20
    batch_size: int = 8
    accumulation: int = 1
    learning_rate: float = 2e-4
    r: int = 16
    alpha: float = 32.0
    dropout: float = 0.05
    precision: str = "no"  # no | bf16
    device: str = "cpu"
    heldout: int = 64
    embedded_train_size: int = 3000
    train_limit: int | None = None
    seed: int = 42
    skip_steps: int = 0
    deadline: float | None = None

    @property
    def path(self) -> Path:
        return Path(self.work)

    @property
    def model_dir(self) -> Path:
        return self.path / f"llama-{self.size}-v{self.vocab_size}-n{self.train_limit}"

    @property
    def heldout_dir(self) -> Path:
        return self.model_dir.with_name(f"{self.model_dir.name}-heldout{self.heldout}-toolkit")

    def rows_spec(self) -> Spec:
        """A Spec that reads the same data splits."""
        return Spec(work=self.work, data=self.data, heldout=self.heldout,
                    embedded_train_size=self.embedded_train_size, train_limit=self.train_limit)


def unsupported(method: str = "lora") -> str | None:
    """Why this machine or toolkit cannot run a contender of `method`; None when it can."""
    import importlib.util

    import torch

    from toolkit.config.schema import SECTIONS

    if "peft" not in SECTIONS:
        return "the toolkit has no `peft` config section yet (issue 11)"
    for package in ("peft", "trl"):
        if importlib.util.find_spec(package) is None:
            return f"`{package}` is not installed (pip install -e \".[bench]\")"
    if method == "qlora":
        if not torch.cuda.is_available():
            return "needs CUDA (bitsandbytes 4-bit)"
        if importlib.util.find_spec("bitsandbytes") is None:
            return "`bitsandbytes` is not installed"
    return None


def prepare(spec: LoraSpec) -> None:
    """The tokenizer and the random-weight Llama-style model (saved once), and the held-out
    features: prompt then completion, loss on the completion tokens only."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, set_seed

    from toolkit.data.preprocess import find_tags
    from toolkit.models.factory import build_tokenizer, load_tokenizer

    rows_spec = spec.rows_spec()
    if not (spec.model_dir / "config.json").is_file():
        train = load_rows(rows_spec, "train", spec.train_limit)
        texts = [r["dialogue"] for r in train] + [r["references"][0] for r in train]
        tokenizer = build_tokenizer(None, texts, find_tags(r["dialogue"] for r in train),
                                    spec.vocab_size, "bpe", "causal")
        hidden, ffn, layers, heads, kv = LLAMA_SIZES[spec.size]
        config = LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=ffn,
            num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv,
            max_position_embeddings=spec.max_source_length + spec.max_target_length + 32,
            pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=False)
        set_seed(spec.seed)
        device = "cuda" if spec.device == "cuda" else "cpu"
        with torch.device(device):  # 0.5B parameters initialise in seconds on a GPU
            model = LlamaForCausalLM(config)
        dtype = torch.bfloat16 if spec.precision == "bf16" else torch.float32
        model.to(dtype).save_pretrained(spec.model_dir)
        tokenizer.save_pretrained(spec.model_dir)
        del model
        if device == "cuda":  # the contenders, not this process, should hold the GPU's memory
            torch.cuda.empty_cache()
    if not spec.heldout_dir.is_dir():
        tokenizer = load_tokenizer(str(spec.model_dir))
        rows = load_rows(rows_spec, "validation", spec.heldout)
        pair_features(tokenizer, rows, spec).save_to_disk(spec.heldout_dir)


def pair_features(tokenizer, rows: list[dict], spec: LoraSpec):
    """input_ids and labels (-100 on the prompt) as the toolkit builds them from PROMPT (the
    dialogue truncated, never the template or the summary): SFTTrainer trains on these very
    tokens, and every contender is scored on the held-out rows built alike."""
    from toolkit.data.features import FeatureBuilder
    from toolkit.models.families import resolve_family
    from toolkit.models.prompts import prompt_format

    family = resolve_family("auto", str(spec.model_dir))
    builder = FeatureBuilder(tokenizer, "causal", spec.max_source_length, spec.max_target_length,
                             prompt=prompt_format(family, tokenizer, prompt_template=PROMPT))
    return builder.build(rows, cache_dir=None).select_columns(["input_ids", "labels"])


def lora_config(spec: LoraSpec, method: str, output_dir: Path, name: str) -> Path:
    """The toolkit run: the same model, prompt, LoRA and training settings; eval off."""
    peft = {"method": "none"} if method == "full" else {
        "method": method, "r": spec.r, "alpha": spec.alpha, "dropout": spec.dropout,
        "target_modules": TARGET_MODULES}
    return toolkit_config(
        spec, name, output_dir, split_path(spec.rows_spec(), "train"), str(spec.heldout_dir),
        model={"architecture": "auto", "checkpoint": str(spec.model_dir),
               "torch_dtype": "bfloat16" if spec.precision == "bf16" else "float32"},
        peft=peft, data={"prompt_template": PROMPT},
        training={"logging_steps": max(1, spec.skip_steps)},
        timer={"causal": True, "heldout_batch_size": spec.batch_size})


def ours_figures(run_dir: Path) -> dict:
    """Figures of a toolkit LoRA/full run from its metrics.jsonl and its final/ directory."""
    records = [json.loads(line) for line in
               (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines() if line]
    bench = next(r for r in records if "bench/steps" in r)
    last = bench["step"]
    first = bench["bench/first_step"]
    tokens = sum(r["train/target_tokens"] for r in records
                 if "train/target_tokens" in r and first < r["step"] <= last)
    final = run_dir / "final"
    return {"loop_seconds": bench["bench/loop_seconds"], "steps": bench["bench/steps"],
            "samples": bench["bench/samples"], "target_tokens": tokens,
            "peak_memory_mb": bench["bench/peak_memory_mb"],
            "heldout_loss": next(r["bench/heldout_loss"] for r in records
                                 if "bench/heldout_loss" in r),
            "trainable_parameters": saved_parameters(final),
            "train_loss": [r["train/loss"] for r in records if "train/loss" in r][-1]}


def saved_parameters(directory: Path) -> int:
    """Elements in the saved weights: the adapter alone for a LoRA directory."""
    import math

    from safetensors import safe_open

    total = 0
    for file in directory.glob("*.safetensors"):
        with safe_open(str(file), framework="pt") as handle:
            names = list(handle.keys())  # safe_open has no __iter__
            total += sum(math.prod(handle.get_slice(name).get_shape()) for name in names)
    return total


def train_sft(spec: LoraSpec, method: str) -> dict:
    """TRL's SFTTrainer on the same prompt/completion tokens with the same LoRA settings."""
    import datasets
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    from benchmarks.contenders import CountingCollator, timed_figures, trainer_timer
    from toolkit.models.factory import load_tokenizer

    tokenizer = load_tokenizer(str(spec.model_dir))
    rows = load_rows(spec.rows_spec(), "train", spec.train_limit)
    # tokenized here, as the toolkit does: SFTTrainer's own truncation cuts the end of the
    # sequence and drops the examples whose summary falls off
    data = pair_features(tokenizer, rows, spec).map(
        lambda p: {"completion_mask": [int(x != -100) for x in p["labels"]]},
        remove_columns=["labels"])
    kwargs: dict = {"dtype": torch.bfloat16 if spec.precision == "bf16" else torch.float32}
    if method == "qlora":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16)
    model = AutoModelForCausalLM.from_pretrained(str(spec.model_dir), **kwargs)
    timing = Spec(work=spec.work, accumulation=spec.accumulation, skip_steps=spec.skip_steps,
                  deadline=spec.deadline)
    timer = trainer_timer(timing)
    args = SFTConfig(
        output_dir=str(spec.path / "sft-output"), per_device_train_batch_size=spec.batch_size,
        gradient_accumulation_steps=spec.accumulation, max_steps=spec.steps,
        learning_rate=spec.learning_rate, weight_decay=0.0, lr_scheduler_type="linear",
        warmup_steps=0, max_grad_norm=1.0, logging_steps=max(1, spec.skip_steps),
        save_strategy="no", report_to="none", seed=spec.seed, use_cpu=spec.device == "cpu",
        bf16=spec.precision == "bf16", train_sampling_strategy="group_by_length",
        max_length=spec.max_source_length + spec.max_target_length + 1, packing=False,
        completion_only_loss=True)
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=data, processing_class=tokenizer,
        peft_config=LoraConfig(r=spec.r, lora_alpha=spec.alpha, lora_dropout=spec.dropout,
                               target_modules=TARGET_MODULES, task_type="CAUSAL_LM"),
        callbacks=[timer])
    collator = CountingCollator(trainer.data_collator, causal=True)
    trainer.data_collator = collator
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    heldout = datasets.load_from_disk(str(spec.heldout_dir))
    return {**timed_figures(timing, timer, collator),
            "train_loss": losses[-1] if losses else None,
            "trainable_parameters": trainer.model.get_nb_trainable_parameters()[0],
            "heldout_loss": heldout_loss(trainer.model, heldout, tokenizer.pad_token_id,
                                         spec.batch_size, causal=True)}

