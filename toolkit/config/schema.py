"""The typed schema: every key, its type, its default and its meaning, defined once.

Each section is a dataclass; ``help`` metadata is the single source for `toolkit config show`
and the README's reference table. Checks beyond the type live in ``check`` and name the key.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any

# The evaluation metrics a run logs as eval/<name>: what metric_for_best_model and a sweep's
# metric may name.
EVAL_METRICS = ("rouge1_f1", "rouge2_f1", "rougeL_f1", "rouge_combined_f1", "loss")
PRESETS = ("tiny", "small", "base")
OPTIMIZERS = ("adamw_torch_fused", "adamw", "adafactor", "adamw_8bit")
# Accelerate's tracker names (accelerate.tracking.LOGGER_TYPE_TO_CLASS), plus the Trainer's all/none
REPORT_TO = ("all", "none", "tensorboard", "mlflow", "wandb", "comet_ml", "aim", "clearml",
             "dvclive", "swanlab", "trackio")


def opt(default: Any, help: str, **checks: Any) -> Any:
    """A schema field: default, one-line meaning, optional bounds (ge, gt, le, choices)."""
    meta = {"help": help, **checks}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class General:
    seed: int = opt(42, "Seed for Python, NumPy, torch and the data order.", ge=0)
    output_dir: str = opt("outputs", "Parent of the run directories.")
    log_level: str = opt("info", "Console log level.", choices=("debug", "info", "warning", "error"))


@dataclass
class Meta:
    experiment_name: str = opt("dialogue_summarization", "Run name; the run dir is <name>_<time>.")
    description: str = opt("", "Free text recorded with the run.")
    tags: list[str] = opt([], "Labels recorded with the run and sent to W&B.")


@dataclass
class Model:
    architecture: str = opt(
        "auto", "Model family: auto (read from the checkpoint's config; bart from scratch), "
        "bart, kobart, t5, mt5, gpt2, kogpt2, llama, or any model type transformers knows "
        "(qwen2, gemma, mistral, exaone, ...)."
    )
    checkpoint: str | None = opt(
        None, "Hub id or local directory to fine-tune; null builds `preset` from scratch."
    )
    preset: str = opt("tiny", "From-scratch size when checkpoint is null.", choices=PRESETS)
    gradient_checkpointing: bool = opt(
        False, "Trade compute for activation memory (non-reentrant checkpointing).")
    dropout: float | None = opt(None, "Override the model's dropout.", ge=0.0, le=1.0)
    torch_dtype: str = opt(
        "auto", "Weight dtype when loading a checkpoint; auto keeps the checkpoint's.",
        choices=("auto", "bfloat16", "float16", "float32"),
    )
    attn_implementation: str | None = opt(
        None, "Attention kernel; null lets transformers pick (sdpa where supported).",
        choices=("sdpa", "flash_attention_2", "eager"),
    )


@dataclass
class Peft:
    method: str = opt(
        "none", "Parameter-efficient fine-tuning: none, lora, or qlora (4-bit base; CUDA only).",
        choices=("none", "lora", "qlora"),
    )
    r: int = opt(16, "LoRA rank.", ge=1)
    alpha: float = opt(32, "LoRA scaling numerator (scale = alpha / r).", gt=0)
    dropout: float = opt(0.05, "Dropout on the LoRA input.", ge=0, le=1)
    target_modules: list[str] = opt(
        [], "Module names that get adapters; empty: every linear layer but the output head."
    )
    modules_to_save: list[str] = opt([], "Modules trained in full and saved with the adapter.")


@dataclass
class Tokenizer:
    path: str | None = opt(
        None, "Tokenizer directory or hub id; null uses the checkpoint's, or trains one."
    )
    algorithm: str = opt("bpe", "Algorithm when training a tokenizer.", choices=("bpe", "unigram"))
    vocab_size: int = opt(4000, "Vocabulary size when training a tokenizer.", ge=100)
    max_source_length: int = opt(512, "Dialogue tokens kept (longer dialogues are truncated).", ge=8)
    max_target_length: int = opt(128, "Summary tokens kept.", ge=4)
    extra_special_tokens: list[str] = opt(
        [], "Tokens kept whole besides speaker tags and masked entities (e.g. #Address#)."
    )


@dataclass
class Data:
    train_path: str | None = opt("embedded", "Training file, HF dataset dir, or `embedded`.")
    validation_path: str | None = opt("embedded", "Validation file, or `embedded`, or null.")
    test_path: str | None = opt(None, "Test file (optional), or `embedded`.")
    format: str = opt(
        "auto", "Reader; auto uses the extension.", choices=("auto", "csv", "jsonl", "parquet", "hf")
    )
    encoding: str = opt(
        "auto", "Text encoding of CSV/JSONL files; auto: UTF-8 (BOM or not), else CP949/EUC-KR."
    )
    id_column: str = opt("fname", "Column with the example id.")
    dialogue_column: str = opt("dialogue", "Column with the dialogue.")
    summary_column: str = opt("summary", "Column with the reference summary.")
    max_train_samples: int | None = opt(None, "Keep only the first N training rows.", ge=1)
    max_eval_samples: int | None = opt(None, "Keep only the first N validation rows.", ge=1)
    embedded_train_size: int = opt(3000, "Examples the embedded corpus generates for train.", ge=1)
    embedded_eval_size: int = opt(200, "Examples for validation and test each.", ge=1)
    cache_dir: str | None = opt(None, "Tokenization cache; null uses ~/.cache/toolkit.")
    num_proc: int | None = opt(None, "Processes for tokenization (datasets.map).", ge=1)
    source_prefix: str = opt("", "Text put before every dialogue (T5: `summarize: `).")
    system_prompt: str | None = opt(
        None, "Decoder-only models with a chat template: the system message.")
    instruction: str = opt(
        "Summarize the following dialogue.",
        "Decoder-only models with a chat template: the line before the dialogue in the user "
        "message (empty: the dialogue alone).")
    prompt_template: str | None = opt(
        None, "Decoder-only models without a chat template: the prompt, with `{dialogue}`; "
        "null: the dialogue then the <|summary|> separator (or `Summary:` under peft).")


@dataclass
class Training:
    num_train_epochs: float = opt(3, "Epochs when max_steps <= 0.", gt=0)
    max_steps: int = opt(-1, "Optimizer steps; > 0 overrides num_train_epochs.")
    per_device_train_batch_size: int = opt(16, "Micro-batch per process.", ge=1)
    per_device_eval_batch_size: int = opt(32, "Generation batch per process.", ge=1)
    gradient_accumulation_steps: int = opt(1, "Micro-batches per optimizer step.", ge=1)
    learning_rate: float = opt(5e-5, "Peak learning rate.", gt=0)
    weight_decay: float = opt(0.01, "AdamW decay (not on biases and norms).", ge=0)
    adam_beta1: float = opt(0.9, "AdamW beta1.", ge=0, le=1)
    adam_beta2: float = opt(0.999, "AdamW beta2.", ge=0, le=1)
    adam_epsilon: float = opt(1e-8, "AdamW epsilon.", gt=0)
    optim: str = opt(
        "adamw_torch_fused", "Optimizer: adamw_torch_fused (fused where supported), adamw, "
        "adafactor, adamw_8bit (bitsandbytes, CUDA only).", choices=OPTIMIZERS,
    )
    label_smoothing: float = opt(0.0, "Label smoothing of the token loss.", ge=0, le=1)
    max_grad_norm: float = opt(1.0, "Clip gradients to this norm; 0 disables.", ge=0)
    lr_scheduler_type: str = opt(
        "linear", "Schedule after warmup.", choices=("linear", "cosine", "constant")
    )
    warmup_steps: int = opt(0, "Warmup in optimizer steps (wins over warmup_ratio).", ge=0)
    warmup_ratio: float = opt(0.0, "Warmup as a fraction of the optimizer steps.", ge=0, le=1)
    mixed_precision: str = opt(
        "auto", "auto picks bf16/fp16 on GPUs, no on CPU.", choices=("auto", "no", "fp16", "bf16")
    )
    logging_steps: int = opt(10, "Log train metrics every N optimizer steps.", ge=1)
    eval_strategy: str = opt("epoch", "When to evaluate.", choices=("no", "steps", "epoch"))
    eval_steps: int = opt(0, "Evaluate every N optimizer steps (eval_strategy steps).", ge=0)
    save_steps: int = opt(0, "Checkpoint every N optimizer steps; 0: at epoch ends only.", ge=0)
    metric_for_best_model: str = opt("rouge_combined_f1", "Eval metric that picks best/.")
    greater_is_better: bool = opt(True, "Direction of metric_for_best_model.")
    group_by_length: bool = opt(True, "Batch examples of similar length (less padding).")
    dataloader_num_workers: int = opt(0, "Data loader worker processes.", ge=0)
    torch_compile: bool = opt(False, "Compile the model with torch.compile.")
    auto_find_batch_size: bool = opt(
        False, "Halve the micro-batch on out-of-memory, raising accumulation to keep the global batch."
    )


@dataclass
class Generation:
    max_new_tokens: int = opt(64, "Summary tokens generated at most.", ge=1)
    min_new_tokens: int = opt(0, "Summary tokens generated at least.", ge=0)
    num_beams: int | None = opt(
        None, "Beam width; 1 is greedy; null: 4 for seq2seq, 1 (greedy) for decoder-only.", ge=1)
    length_penalty: float = opt(1.0, "Beam length penalty.")
    no_repeat_ngram_size: int = opt(0, "Forbid repeating n-grams of this size.", ge=0)
    early_stopping: bool = opt(True, "Stop beams when all have finished.")
    repetition_penalty: float = opt(1.0, "Penalty on repeated tokens.", gt=0)
    do_sample: bool = opt(False, "Sample instead of greedy/beam search.")
    temperature: float = opt(1.0, "Sampling temperature (do_sample).", gt=0)
    top_p: float = opt(1.0, "Nucleus sampling mass (do_sample).", gt=0, le=1)
    top_k: int = opt(50, "Sample from the k likeliest tokens (do_sample); 0 disables.", ge=0)


@dataclass
class Evaluation:
    rouge_tokenizer: str = opt(
        "auto", "ROUGE tokens: auto, whitespace, kiwi (Korean morphemes), latin.",
        choices=("auto", "whitespace", "kiwi", "latin"),
    )
    multi_reference: str = opt("mean", "Several references: mean (competition) or max.",
                               choices=("mean", "max"))
    num_samples_to_log: int = opt(5, "Prediction samples passed to on_evaluate.", ge=0)
    save_predictions: bool = opt(True, "Write predictions.csv at the best evaluation.")


@dataclass
class Checkpoint:
    save_total_limit: int | None = opt(3, "Checkpoints kept (the best and newest always).", ge=1)
    resume: str | None = opt(None, "null, `auto`, or a checkpoint directory.")


@dataclass
class Tracking:
    enabled: bool = opt(True, "Record the run in the experiment database.")
    db_path: str = opt("experiments/toolkit.db", "SQLite database of runs and models.")
    register_model: bool = opt(True, "Register best/ in the model registry at the end.")
    register_min_metric: float | None = opt(
        None, "Register only when the best metric reaches this value (in its direction).")
    model_name: str | None = opt(None, "Registry name; null uses the experiment name.")
    report_to: list[str] = opt(
        [], "Trackers to log to, as in the Trainer (Accelerate's trackers; `wandb` is the W&B "
        "section's logger; `all`: every installed one).", choices=REPORT_TO)
    mlflow_tracking_uri: str | None = opt(
        None, "MLflow store, e.g. sqlite:///mlflow.db; null uses MLFLOW_TRACKING_URI or MLflow's.")
    mlflow_register_model: bool = opt(False, "Register best/ in MLflow's model registry at the end.")


@dataclass
class Wandb:
    enabled: bool | str = opt(
        "auto", "Log to W&B: true, false, or auto (into a run already active in the process).",
        choices=(True, False, "auto"))
    project: str = opt("dialogue-summarization", "W&B project.")
    entity: str | None = opt(None, "W&B entity (team or user).")
    name: str | None = opt(None, "Run name; null uses the run directory's name.")
    group: str | None = opt(None, "Run group.")
    tags: list[str] = opt([], "Extra W&B tags (meta.tags are added).")
    mode: str = opt("online", "online, offline or disabled.", choices=("online", "offline", "disabled"))
    log_predictions: bool = opt(True, "Log a table of prediction samples at each evaluation.")
    log_model: bool = opt(False, "Upload best/ as a model artifact at the end.")


def tracking_problems(config: dict[str, Any]) -> list[str]:
    """Contradictions between `tracking.report_to` and `wandb.enabled`."""
    report_to, enabled = config["tracking"].get("report_to") or [], config["wandb"].get("enabled")
    problems = []
    if "none" in report_to and len(report_to) > 1:
        problems.append(f"tracking.report_to lists `none` with other trackers ({report_to}); "
                        f"give `none` alone, or only the trackers you want")
    if "wandb" in report_to and enabled is False:
        problems.append("tracking.report_to names wandb but wandb.enabled is false; remove "
                        "wandb from tracking.report_to, or set wandb.enabled to true or auto")
    return problems


DEFAULT_CALLBACKS = ["progress", "log_file", "metrics_history", "nan_guard"]

SECTIONS: dict[str, type] = {
    "general": General,
    "meta": Meta,
    "model": Model,
    "peft": Peft,
    "tokenizer": Tokenizer,
    "data": Data,
    "training": Training,
    "generation": Generation,
    "evaluation": Evaluation,
    "checkpoint": Checkpoint,
    "tracking": Tracking,
    "wandb": Wandb,
}
# Top-level keys that are not sections of scalar keys.
LIST_KEYS = {"callbacks": DEFAULT_CALLBACKS}
FILE_ONLY_KEYS = {"inherit"}


@dataclass
class Config:
    """The validated, typed configuration; built from the nested dict users edit."""

    general: General
    meta: Meta
    model: Model
    peft: Peft
    tokenizer: Tokenizer
    data: Data
    training: Training
    generation: Generation
    evaluation: Evaluation
    checkpoint: Checkpoint
    tracking: Tracking
    wandb: Wandb
    callbacks: list[Any]


def section_fields(section: str) -> dict[str, Any]:
    return {f.name: f for f in fields(SECTIONS[section])}


def defaults() -> dict[str, Any]:
    """The built-in defaults as the nested dict users see."""
    out: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        out[name] = {}
        for f in fields(cls):
            out[name][f.name] = f.default_factory() if f.default is MISSING else f.default
    out["callbacks"] = list(DEFAULT_CALLBACKS)
    return out

