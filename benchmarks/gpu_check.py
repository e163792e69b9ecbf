"""The prepared GPU check: our loop, predict path and large-model path against the HF peers.

On a machine whose Python already has CUDA torch, from the repository root:

    pip install -e ".[deepspeed,bench]"
    python benchmarks/gpu_check.py                # about 8 minutes on one H100 (or: make gpu-check)

``--dry-run`` runs every part on the CPU with tiny sizes and few steps (CI does, so the script
cannot rot between GPU runs). Parts, each under its own wall-clock budget (a contender still
running at its part's deadline stops after its step and reports what it measured; one that
outlives the budget is killed), and each skipped with the reason when the machine lacks what
it needs:

    train       a KoBART-base-sized BART (6+6 layers, d_model 768) in bf16: our loop against
                Seq2SeqTrainer (both length-grouped; same micro-batch, accumulation, steps):
                target tokens/s, samples/s, peak CUDA memory, held-out loss, MFU
                (benchmarks/flops.py) against the device's bf16 peak
    predict     toolkit predict's path against Seq2SeqTrainer.predict(predict_with_generate)
                with the same bf16 weights and generation settings: dialogues/s, same outputs
    precision   fp32, bf16, fp16 (grad scaler), bf16 + torch.compile, unfused AdamW: the
                held-out loss after N steps within PRECISION_TOLERANCE of fp32's
    distributed DeepSpeed ZeRO-2, ZeRO-3 and FSDP on one GPU through the shipped accelerate
                configs: steps, evaluation with generation, a best/ that loads without DeepSpeed
    lora        LoRA and QLoRA on a ~0.5B Llama-style model built from a config: the toolkit
                against TRL's SFTTrainer (benchmarks/lora.py)
    ddp         DDP over every GPU when there are several: scaling efficiency against one

Each part prints a table; the last line is
``gpu ratio train_vs_trainer=X predict_vs_trainer=Y mfu=Z`` followed by the other parts'
figures. Scratch files go to --work; --json writes every figure.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import lora  # noqa: E402
from benchmarks.common import (  # noqa: E402
    EMBEDDED,
    ROOT,
    Spec,
    load_features,
    ours_steps,
    prepare,
    resolve_data,
    tokenizer_dir,
)
from benchmarks.flops import bf16_peak, mfu, train_flops  # noqa: E402
from benchmarks.run import (  # noqa: E402
    LORA_LABELS,
    ContenderFailed,
    contender,
    environment,
    run_lora,
    run_ours,
    with_rates,
)

PRECISION_TOLERANCE = 0.02  # relative difference of the held-out loss from fp32's
STOP_MARGIN_S = 20.0  # a contender stops this long before its share ends (final save, eval)


@dataclass(frozen=True)
class Sizes:
    """Everything the parts size themselves by; GPU and DRY are the two sets."""

    vocab_size: int
    max_source_length: int
    max_target_length: int
    train_limit: int | None
    heldout: int
    train_preset: str
    train_batch: int
    train_accumulation: int
    train_steps: int
    skip_steps: int
    predict_n: int
    predict_batch: int
    num_beams: int
    max_new_tokens: int
    precision_preset: str
    precision_steps: int
    distributed_steps: int
    eval_samples: int
    lora_size: str
    lora_vocab: int
    lora_batch: int
    lora_steps: int
    budgets: dict[str, float] = field(default_factory=dict)  # seconds per part


GPU = Sizes(vocab_size=30000, max_source_length=512, max_target_length=128, train_limit=None,
            heldout=128, train_preset="base", train_batch=16, train_accumulation=2,
            train_steps=60, skip_steps=5, predict_n=128, predict_batch=32, num_beams=4,
            max_new_tokens=64, precision_preset="small", precision_steps=30,
            distributed_steps=20, eval_samples=32, lora_size="0.5b", lora_vocab=32000,
            lora_batch=8, lora_steps=50,  # one whole megabatch of the Trainer sampler
            budgets={"train": 100, "predict": 45, "precision": 75, "distributed": 90,
                     "lora": 120, "ddp": 60})
DRY = Sizes(vocab_size=400, max_source_length=96, max_target_length=32, train_limit=96,
            heldout=8, train_preset="tiny", train_batch=4, train_accumulation=2, train_steps=3,
            skip_steps=1, predict_n=4, predict_batch=4, num_beams=2, max_new_tokens=8,
            precision_preset="tiny", precision_steps=2, distributed_steps=2, eval_samples=4,
            lora_size="tiny", lora_vocab=400, lora_batch=4, lora_steps=2,
            budgets={"train": 120, "predict": 60, "precision": 60, "distributed": 60,
                     "lora": 120, "ddp": 60})


@dataclass
class Outcome:
    """A part's table (rows of cells), its figures for the last line, and notes."""

    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    figures: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    data: dict = field(default_factory=dict)


@dataclass
class Context:
    """What the parts share: the sizes, the device, the base Spec and earlier results."""

    sizes: Sizes
    work: Path
    data: str
    cuda: bool
    gpus: int
    device_name: str
    peak: tuple[str, float] | None
    trained_model: Path | None = None
    ours_samples_per_s: float | None = None

    def spec(self, deadline: float, **changes) -> Spec:
        """The seq2seq spec of a part (saved, so that contender processes read it)."""
        s = self.sizes
        base = Spec(work=str(self.work), data=self.data, steps=s.train_steps,
                    batch_size=s.train_batch, vocab_size=s.vocab_size,
                    max_source_length=s.max_source_length,
                    max_target_length=s.max_target_length, heldout=s.heldout,
                    predict_n=s.predict_n, predict_batch_size=s.predict_batch,
                    num_beams=s.num_beams, max_new_tokens=s.max_new_tokens,
                    preset=s.train_preset, device="cuda" if self.cuda else "cpu",
                    precision="bf16" if self.cuda else "no", accumulation=s.train_accumulation,
                    skip_steps=s.skip_steps, deadline=deadline - STOP_MARGIN_S,
                    train_limit=s.train_limit, logging_steps=5 if self.cuda else 1)
        spec = dataclasses.replace(base, **changes)
        spec.save()
        return spec


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def render(headers: list[str], rows: list[list[str]]) -> str:
    """A plain-text table, columns as wide as their widest cell; a one-cell row (a skipped or
    failed contender) is printed as it is."""
    full = [headers, *(r for r in rows if len(r) == len(headers))]
    widths = [max(len(str(r[i])) for r in full) for i in range(len(headers))]
    line = lambda cells: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(headers), "-" * (sum(widths) + 2 * (len(widths) - 1)),
                      *(line(r) if len(r) == len(headers) else r[0] for r in rows)])


def failure(error: Exception) -> str:
    """One line for a table cell: the last meaningful line of a contender's failure."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line or "error" in line]
    return (errors[-1] if errors else lines[0] if lines else type(error).__name__)[:160]


def seconds_left(deadline: float) -> float:
    return max(1.0, deadline - time.time())


def fair_share(spec, deadline: float, left: int):
    """`spec` (a Spec or LoraSpec, saved again) whose contender stops after its step once its
    share of the part's remaining time, less the margin for its final save, is spent: a slow
    first contender cannot leave nothing for the next."""
    now = time.time()
    spec = dataclasses.replace(spec, deadline=now + max(
        5.0, (deadline - now) / max(1, left) - STOP_MARGIN_S))
    spec.save()
    return spec


def out_of_time(deadline: float) -> str | None:
    """Why a contender is not started: too little of its part's budget is left."""
    if deadline - time.time() < STOP_MARGIN_S + 5:
        return "the part's time budget is spent"
    return None


# ------------------------------------------------------------------------------------ train
def model_config(spec: Spec, vocab: int):
    """The BartConfig of the spec's preset (for counting FLOPs), without building weights."""
    from transformers import BartConfig

    from toolkit.models.factory import PRESETS

    d, layers, heads, ffn = PRESETS[spec.preset]
    return BartConfig(vocab_size=vocab, d_model=d, encoder_layers=layers, decoder_layers=layers,
                      encoder_attention_heads=heads, decoder_attention_heads=heads,
                      encoder_ffn_dim=ffn, decoder_ffn_dim=ffn,
                      max_position_embeddings=spec.max_source_length + spec.max_target_length)


def part_train(ctx: Context, deadline: float) -> Outcome:
    from toolkit.models.factory import load_tokenizer

    spec = ctx.spec(deadline)
    steps = ours_steps(spec, load_features(spec, "train"))
    config = model_config(spec, len(load_tokenizer(str(tokenizer_dir(spec)))))
    out = Outcome(headers=["contender", "steps", "tgt tok/s", "samples/s", "peak MB",
                           "train loss", "heldout", "TFLOP/s", "MFU", "ours/peer"])
    results: dict[str, dict] = {}
    for left, (name, label) in ((2, ("ours", "toolkit loop")),
                                (1, ("trainer_grouped", "Seq2SeqTrainer (group_by_length)"))):
        if out_of_time(deadline):
            out.rows.append([f"{label}  skipped: {out_of_time(deadline)}"])
            continue
        mine = fair_share(spec, deadline, left)
        try:
            if name == "ours":
                result, run_dir = run_ours(mine, 1, steps, "train_ours",
                                           timeout=seconds_left(deadline))
                ctx.trained_model = run_dir / "final"
                result["run_dir"] = str(run_dir)
            else:
                result = contender(mine, name, spec.path / "logs" / "train-trainer.log",
                                   timeout=seconds_left(deadline))
        except ContenderFailed as error:
            out.rows.append([f"{label}  failed: {failure(error)}"])
            continue
        result = with_rates(result)
        flops = train_flops(config, result.pop("pairs"))
        rate = flops / result["loop_seconds"] if result["loop_seconds"] else None
        result["tflops"] = rate / 1e12 if rate else None
        result["mfu"] = mfu(flops, result["loop_seconds"], ctx.peak[1] if ctx.peak else None)
        results[name] = result
        ratio = None
        if name != "ours" and "ours" in results and result["target_tokens_per_s"]:
            ratio = results["ours"]["target_tokens_per_s"] / result["target_tokens_per_s"]
        out.rows.append([label, str(result["steps"]), fmt(result["target_tokens_per_s"], 0),
                         fmt(result["samples_per_s"]), fmt(result["peak_memory_mb"], 0),
                         fmt(result["train_loss"], 4), fmt(result["heldout_loss"], 4),
                         fmt(result["tflops"], 2),
                         "-" if result["mfu"] is None else f"{100 * result['mfu']:.1f}%",
                         fmt(ratio) if ratio else ""])
    ours, peer = results.get("ours"), results.get("trainer_grouped")
    if ours and peer and peer["target_tokens_per_s"] and ours["target_tokens_per_s"]:
        out.figures["train_vs_trainer"] = fmt(ours["target_tokens_per_s"]
                                              / peer["target_tokens_per_s"])
    if ours:
        ctx.ours_samples_per_s = ours["samples_per_s"]
        out.figures["mfu"] = "n/a" if ours["mfu"] is None else f"{ours['mfu']:.3f}"
    out.notes.append(
        f"BART preset `{spec.preset}` ({parameters(config) / 1e6:.0f}M parameters), micro-batch "
        f"{spec.batch_size} x accumulation {spec.accumulation}, {spec.steps} steps (the first "
        f"{spec.skip_steps} untimed), {spec.precision if spec.precision != 'no' else 'fp32'}, "
        f"max lengths {spec.max_source_length}/{spec.max_target_length}; peak MB is CUDA memory "
        f"allocated on a GPU, peak RSS on a CPU; train loss is each contender's own log of its "
        f"last window: compare the held-out loss; "
        f"MFU against "
        + (f"{ctx.peak[0]} bf16 {ctx.peak[1] / 1e12:.0f} TFLOP/s" if ctx.peak else
           "no known peak (not a GPU in benchmarks/flops.py)"))
    out.data = results
    return out


def parameters(config) -> int:
    """Parameters of the model a config describes, built on the meta device (no memory)."""
    import torch
    from transformers import BartForConditionalGeneration

    with torch.device("meta"):
        return BartForConditionalGeneration(config).num_parameters()


# ---------------------------------------------------------------------------------- predict
def part_predict(ctx: Context, deadline: float) -> Outcome:
    if ctx.trained_model is None:
        return Outcome(skipped="needs the model the train part trains (it failed or was "
                               "left out)")
    spec = ctx.spec(deadline)
    out = Outcome(headers=["contender", "dialogues", "dialogues/s", "seconds", "ROUGE-L",
                           "ours/peer"])
    results = {}
    for name, label in (("predict_ours", "toolkit predict"),
                        ("predict_trainer", "Seq2SeqTrainer.predict")):
        if out_of_time(deadline):
            out.rows.append([f"{label}  skipped: {out_of_time(deadline)}"])
            continue
        try:
            results[name] = with_rates(contender(
                spec, name, spec.path / "logs" / f"{name}.log", str(ctx.trained_model),
                timeout=seconds_left(deadline)))
        except ContenderFailed as error:
            out.rows.append([f"{label}  failed: {failure(error)}"])
            continue
        r = results[name]
        ratio = (results["predict_ours"]["dialogues_per_s"] / r["dialogues_per_s"]
                 if name == "predict_trainer" and "predict_ours" in results else None)
        out.rows.append([label, str(r["dialogues"]), fmt(r["dialogues_per_s"]),
                         fmt(r["seconds"], 1), fmt(100 * r["rouge"]["rougeL_f1"]),
                         fmt(ratio) if ratio else ""])
    if len(results) == 2:
        ours, peer = results["predict_ours"], results["predict_trainer"]
        same = sum(a == b for a, b in zip(ours["predictions"], peer["predictions"]))
        out.figures["predict_vs_trainer"] = fmt(ours["dialogues_per_s"] / peer["dialogues_per_s"])
        out.figures["predict_identical"] = f"{same}/{len(ours['predictions'])}"
        out.notes.append(f"identical predictions: {same}/{len(ours['predictions'])}")
    out.notes.append(f"weights in {'bf16' if spec.precision == 'bf16' else 'fp32'}, "
                     f"{spec.num_beams} beams, {spec.max_new_tokens} new tokens, batch "
                     f"{spec.predict_batch_size}, the train part's model")
    return out


# -------------------------------------------------------------------------------- precision
def precision_variants(cuda: bool) -> list[tuple[str, dict, str | None]]:
    """(label, training.* overrides, why it cannot run here or None)."""
    from toolkit.config.schema import SECTIONS

    optim = any(f.name == "optim" for f in dataclasses.fields(SECTIONS["training"]))
    gpu_only = None if cuda else "needs CUDA"
    return [
        ("fp32", {"mixed_precision": "no"}, None),
        ("bf16 autocast", {"mixed_precision": "bf16"}, gpu_only),
        ("fp16 + grad scaler", {"mixed_precision": "fp16"}, gpu_only),
        (f"{'bf16' if cuda else 'fp32'}, AdamW unfused",
         {"mixed_precision": "bf16" if cuda else "no", "optim": "adamw"},
         None if optim else "the toolkit has no training.optim key yet (issue 11)"),
        ("bf16 + torch.compile", {"mixed_precision": "bf16", "torch_compile": True},
         gpu_only and "needs CUDA (inductor on a CPU compiles for minutes)"),
    ]


def part_precision(ctx: Context, deadline: float) -> Outcome:
    s = ctx.sizes
    spec = ctx.spec(deadline, preset=s.precision_preset, steps=s.precision_steps,
                    accumulation=1, skip_steps=min(s.skip_steps, s.precision_steps - 1))
    steps = ours_steps(spec, load_features(spec, "train"))
    out = Outcome(headers=["variant", "steps", "tgt tok/s", "train loss", "heldout",
                           "vs fp32", "agrees"])
    baseline = None
    failed = []
    variants = precision_variants(ctx.cuda)
    for index, (label, overrides, reason) in enumerate(variants):
        reason = reason or out_of_time(deadline)
        if reason:
            out.rows.append([f"{label}  skipped: {reason}"])
            continue
        left = sum(1 for *_, why in variants[index:] if why is None)
        try:
            result, _ = run_ours(fair_share(spec, deadline, left), 1, steps,
                                 f"precision{index}", training=overrides,
                                 timeout=seconds_left(deadline))
        except ContenderFailed as error:
            out.rows.append([f"{label}  failed: {failure(error)}"])
            failed.append(label)
            continue
        result = with_rates(result)
        held = result["heldout_loss"]
        baseline = baseline if baseline is not None else held
        delta = abs(held - baseline) / baseline
        agrees = delta <= PRECISION_TOLERANCE
        if not agrees:
            failed.append(label)
        out.rows.append([label, str(result["steps"]), fmt(result["target_tokens_per_s"], 0),
                         fmt(result["train_loss"], 4), fmt(held, 4), f"{100 * delta:+.2f}%",
                         "yes" if agrees else "NO"])
    out.figures["precision"] = "ok" if not failed else "mismatch:" + ",".join(
        label.split()[0] for label in failed)
    out.notes.append(f"BART `{spec.preset}`, {spec.steps} steps x micro-batch {spec.batch_size}; "
                     f"the held-out loss after them must be within "
                     f"{100 * PRECISION_TOLERANCE:.0f}% of fp32's")
    return out


# ------------------------------------------------------------------------------ distributed
LOAD_CHECK = """
import sys
sys.modules["deepspeed"] = None  # importing DeepSpeed now fails: the model must load without
from transformers import AutoModelForSeq2SeqLM
model = AutoModelForSeq2SeqLM.from_pretrained(sys.argv[1])
weights = list(model.parameters())
print(sum(p.numel() for p in weights), float(sum(p.float().abs().sum() for p in weights)))
"""


def loads_without_deepspeed(directory: Path, spec: Spec) -> tuple[bool, str]:
    """best/ loads in a fresh process where DeepSpeed cannot be imported, with real weights."""
    result = subprocess.run([sys.executable, "-c", LOAD_CHECK, str(directory)], cwd=ROOT,
                            env=environment(spec), capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        return False, failure(RuntimeError(result.stderr))
    count, magnitude = result.stdout.split()[-2:]
    if float(magnitude) == 0.0:
        return False, "best/ holds empty weights (not consolidated)"
    return True, f"{int(count) / 1e6:.1f}M parameters"


def distributed_setups(cuda: bool) -> list[tuple[str, str, str | None]]:
    """(label, accelerate config file, why it cannot run here or None)."""
    import importlib.util

    no_ds = None if importlib.util.find_spec("deepspeed") else "deepspeed is not installed"
    cpu = None if cuda else "needs CUDA (DeepSpeed on a CPU JIT-compiles its ops for minutes)"
    rows = [("DeepSpeed ZeRO-2", "deepspeed_zero2.yaml", cpu or no_ds),
            ("DeepSpeed ZeRO-3", "deepspeed_zero3.yaml", cpu or no_ds),
            ("FSDP", "fsdp.yaml", None if cuda else "needs CUDA")]
    if not cuda:  # the same launch, evaluation and best/ check, on the CPU
        rows.append(("accelerate cpu.yaml (stand-in)", "cpu.yaml", None))
    return rows


def part_distributed(ctx: Context, deadline: float) -> Outcome:
    s = ctx.sizes
    spec = ctx.spec(deadline, preset=s.precision_preset, steps=s.distributed_steps,
                    accumulation=1, skip_steps=0)
    steps = ours_steps(spec, load_features(spec, "train"))
    evaluation = {"every": spec.steps, "samples": s.eval_samples, "num_beams": 2,
                  "max_new_tokens": min(32, s.max_new_tokens)}
    out = Outcome(headers=["setup", "steps", "samples/s", "peak MB", "eval ROUGE-L",
                           "best/ without DeepSpeed"])
    setups = distributed_setups(ctx.cuda)
    for index, (label, config, reason) in enumerate(setups):
        key = config.removesuffix(".yaml").removeprefix("deepspeed_")
        reason = reason or out_of_time(deadline)
        if reason:
            out.rows.append([f"{label}  skipped: {reason}"])
            out.figures[key] = "skipped"
            continue
        left = sum(1 for *_, why in setups[index:] if why is None)
        launcher = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
                    str(ROOT / "accelerate_configs" / config), "--num_processes", "1"]
        try:
            result, run_dir = run_ours(fair_share(spec, deadline, left), 1, steps,
                                       f"dist{index}", launcher=launcher,
                                       timeout=seconds_left(deadline), evaluation=evaluation)
        except ContenderFailed as error:
            out.rows.append([f"{label}  failed: {failure(error)}"])
            out.figures[key] = "failed"
            continue
        result = with_rates(result)
        rouge = [r["eval/rougeL_f1"] for r in result["eval"] if "eval/rougeL_f1" in r]
        ok, detail = loads_without_deepspeed(run_dir / "best", spec)
        out.figures[key] = "ok" if ok and rouge else "failed"
        out.rows.append([label, str(result["steps"]), fmt(result["samples_per_s"]),
                         fmt(result["peak_memory_mb"], 0),
                         fmt(100 * rouge[-1]) if rouge else "no evaluation",
                         ("yes, " if ok else "NO: ") + detail])
    out.notes.append(f"BART `{spec.preset}`, {spec.steps} steps, then evaluation with "
                     f"generation on {s.eval_samples} dialogues (synced_gpus under ZeRO-3/FSDP); "
                     f"one process each")
    return out


# ------------------------------------------------------------------------------------- lora
def part_lora(ctx: Context, deadline: float) -> Outcome:
    reason = lora.unsupported("lora")
    if reason:
        return Outcome(skipped=reason)
    s = ctx.sizes
    lspec = lora.LoraSpec(
        work=str(ctx.work), data=ctx.data, size=s.lora_size, vocab_size=s.lora_vocab,
        max_source_length=min(384, s.max_source_length),
        max_target_length=min(96, s.max_target_length), steps=s.lora_steps,
        batch_size=s.lora_batch, precision="bf16" if ctx.cuda else "no",
        device="cuda" if ctx.cuda else "cpu", heldout=s.heldout, train_limit=s.train_limit,
        skip_steps=min(3, s.lora_steps - 1), deadline=deadline - STOP_MARGIN_S)
    lora.prepare(lspec)
    spec = ctx.spec(deadline)
    out = Outcome(headers=["contender", "steps", "samples/s", "tgt tok/s", "peak MB",
                           "trainable", "heldout", "ours/SFT"])
    results: dict[str, dict] = {}
    names = ["lora_ours", "lora_sft", "qlora_ours", "qlora_sft", "full_ours"]
    for index, name in enumerate(names):
        label = LORA_LABELS[name]
        why = lora.unsupported(name.split("_")[0]) or out_of_time(deadline)
        if why:
            out.rows.append([f"{label}  skipped: {why}"])
            continue
        left = sum(1 for other in names[index:] if not lora.unsupported(other.split("_")[0]))
        try:
            results[name] = with_rates(run_lora(spec, fair_share(lspec, deadline, left), name,
                                                1, timeout=seconds_left(deadline)))
        except ContenderFailed as error:
            out.rows.append([f"{label}  failed: {failure(error)}"])
            continue
        r = results[name]
        ours = results.get(name.replace("_sft", "_ours"))
        ratio = (ours["samples_per_s"] / r["samples_per_s"]
                 if name.endswith("_sft") and ours and r["samples_per_s"]
                 and ours["samples_per_s"] else None)
        if ratio:
            out.figures[f"{name.split('_')[0]}_vs_sft_trainer"] = fmt(ratio)
        out.rows.append([label, str(r["steps"]), fmt(r["samples_per_s"]),
                         fmt(r["target_tokens_per_s"], 0), fmt(r["peak_memory_mb"], 0),
                         f"{r['trainable_parameters']:,}", fmt(r["heldout_loss"], 4),
                         fmt(ratio) if ratio else ""])
    hidden, ffn, layers, heads, kv = lora.LLAMA_SIZES[lspec.size]
    out.notes.append(f"Llama-style `{lspec.size}` (hidden {hidden}, {layers} layers, ffn {ffn}, "
                     f"{heads} heads / {kv} kv), LoRA r={lspec.r} alpha={lspec.alpha:g} on "
                     f"{', '.join(lora.TARGET_MODULES)}; micro-batch {lspec.batch_size}, "
                     f"{lspec.steps} steps, {'bf16' if lspec.precision == 'bf16' else 'fp32'}; "
                     f"full fine-tuning: the toolkit without PEFT, for the memory LoRA saves")
    return out


# -------------------------------------------------------------------------------------- ddp
def part_ddp(ctx: Context, deadline: float) -> Outcome:
    if ctx.gpus < 2:
        return Outcome(skipped=f"needs 2 or more GPUs (found {ctx.gpus})")
    if not ctx.ours_samples_per_s:
        return Outcome(skipped="needs the train part's one-GPU figure")
    spec = ctx.spec(deadline)
    steps = ours_steps(spec, load_features(spec, "train"))
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
                "--num_processes", str(ctx.gpus)]
    out = Outcome(headers=["setup", "steps", "samples/s", "one GPU", "efficiency"])
    try:
        result, _ = run_ours(spec, 1, steps, "ddp", launcher=launcher,
                             timeout=seconds_left(deadline))
    except ContenderFailed as error:
        return Outcome(skipped=f"failed: {failure(error)}")
    result = with_rates(result)
    efficiency = result["samples_per_s"] / (ctx.gpus * ctx.ours_samples_per_s) \
        if result["samples_per_s"] else None
    out.rows.append([f"DDP x {ctx.gpus}", str(result["steps"]), fmt(result["samples_per_s"]),
                     fmt(ctx.ours_samples_per_s), fmt(efficiency)])
    out.figures["ddp_efficiency"] = fmt(efficiency)
    out.notes.append("same micro-batch and accumulation per GPU; efficiency = samples/s over "
                     "(GPUs x one GPU's samples/s)")
    return out


PARTS: dict[str, Callable[[Context, float], Outcome]] = {
    "train": part_train, "predict": part_predict, "precision": part_precision,
    "distributed": part_distributed, "lora": part_lora, "ddp": part_ddp}
TITLES = {"train": "Training throughput", "predict": "Predict",
          "precision": "Precision and loop paths", "distributed": "DeepSpeed and FSDP on one GPU",
          "lora": "Large-model path: LoRA and QLoRA", "ddp": "Several GPUs: DDP"}


def last_line(figures: dict[str, str]) -> str:
    """`gpu ratio train_vs_trainer=X predict_vs_trainer=Y mfu=Z` and the other figures."""
    head = [f"{key}={figures.pop(key, 'n/a')}" for key in
            ("train_vs_trainer", "predict_vs_trainer", "mfu")]
    return "gpu ratio " + " ".join(head + [f"{k}={v}" for k, v in figures.items()])


def describe_machine(ctx: Context) -> str:
    import accelerate
    import torch
    import transformers

    versions = [f"torch {torch.__version__}", f"transformers {transformers.__version__}",
                f"accelerate {accelerate.__version__}"]
    for package in ("deepspeed", "peft", "trl", "bitsandbytes"):
        try:  # the installed version, without importing (DeepSpeed logs on import)
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} absent")
    device = f"{ctx.gpus} x {ctx.device_name}" if ctx.cuda else f"CPU, {os.cpu_count()} cores"
    return f"device: {device}; " + ", ".join(versions)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true",
                        help="Every part on the CPU with tiny sizes and few steps (CI).")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"Comma-separated parts to run, in order (default: all: "
                             f"{','.join(PARTS)}).")
    parser.add_argument("--data", default=None,
                        help="DialogSum folder (default ../shared/data/dialogsum); the "
                             "embedded corpus when absent.")
    parser.add_argument("--budget", type=float, default=None,
                        help="Seconds for the whole check (default 480; dry run 600); a part "
                             "gets its own budget or what is left, whichever is less.")
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "toolkit-gpu-check"),
                        help="Scratch folder (tokenizer, features, models, runs, logs).")
    parser.add_argument("--json", default=None, help="Write every figure to this JSON file.")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    import torch

    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        print(f"error: unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}",
              file=sys.stderr)
        return 2
    cuda = torch.cuda.is_available() and not args.dry_run
    if not cuda and not args.dry_run:
        print("error: no CUDA device; run with --dry-run to exercise every part on the CPU",
              file=sys.stderr)
        return 2
    sizes = GPU if cuda else DRY
    name = torch.cuda.get_device_name(0) if cuda else "cpu"
    work = Path(args.work).resolve() / ("gpu" if cuda else "dry")
    ctx = Context(sizes=sizes, work=work, data=resolve_data(args.data), cuda=cuda,
                  gpus=torch.cuda.device_count() if cuda else 0, device_name=name,
                  peak=bf16_peak(name) if cuda else None)
    started = time.time()
    end = started + (args.budget or (480 if cuda else 600))
    print(describe_machine(ctx), flush=True)
    print(f"data: {'embedded corpus' if ctx.data == EMBEDDED else ctx.data}; parts: "
          f"{', '.join(parts)}; budget {end - started:.0f} s", flush=True)
    prepare(ctx.spec(end))  # tokenizer and features, once for every part
    print(f"setup: {time.time() - started:.0f} s", flush=True)
    figures: dict[str, str] = {}
    report: dict[str, dict] = {}
    for part in parts:
        part_start = time.time()
        deadline = min(end, part_start + sizes.budgets[part])
        print(f"\n== {TITLES[part]} (budget {deadline - part_start:.0f} s)", flush=True)
        if deadline - part_start < STOP_MARGIN_S + 5:
            outcome = Outcome(skipped="the check's time budget is spent")
        else:
            try:
                outcome = PARTS[part](ctx, deadline)
            except Exception as error:  # one broken part must not hide the others' figures
                outcome = Outcome(skipped=f"failed: {type(error).__name__}: {error}")
        if outcome.skipped:
            print(f"skipped: {outcome.skipped}")
        else:
            print(render(outcome.headers, outcome.rows))
        for note in outcome.notes:
            print(f"  {note}")
        print(f"  ({time.time() - part_start:.0f} s)", flush=True)
        figures.update(outcome.figures)
        report[part] = {"skipped": outcome.skipped, "figures": outcome.figures,
                        "headers": outcome.headers, "rows": outcome.rows, "notes": outcome.notes,
                        "results": outcome.data}
    print(f"\ntotal {time.time() - started:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps({"device": describe_machine(ctx), "parts": report},
                                              indent=2, default=str), encoding="utf-8")
    print(last_line(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
