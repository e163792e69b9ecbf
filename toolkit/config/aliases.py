"""Other tools' names for toolkit keys: one table for hints, sweeps, loading and `config import`.

Keys are the names as users write them elsewhere: the Hugging Face Trainer's arguments, the
Korean competition baseline's ``config.yaml`` (sections general/tokenizer/training/inference/
wandb), the seed guide, and common sweep shorthands (``lr``, ``batch_size``, ``epochs``).

- An unknown key that is in the table gets a hint naming the toolkit key, not the closest
  spelling (``general.model_name`` is ``model.checkpoint``, not ``tracking.model_name``).
- ``accepted`` entries load as written and are rewritten to their target at validation
  (``training.fp16``, the guide's ``reproducibility`` section).
- `toolkit config import` converts every entry with ``convert``; entries without a target are
  dropped with their reason.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from toolkit.config.schema import DEFAULT_CALLBACKS, OPTIMIZERS, REPORT_TO

# (value, the old section it sits in) -> {toolkit dotted key: value}; raises ValueError for a
# value that cannot be converted.
Convert = Callable[[Any, Mapping[str, Any]], dict[str, Any]]

RECORDED_VERSIONS = "recorded, not set: the run's run_info.json records the library versions used"


@dataclass(frozen=True)
class Alias:
    """Where an outside name lives in the toolkit (target None: nowhere, and `why`)."""

    target: str | None
    why: str = ""
    accepted: bool = False
    convert: Convert | None = None

    def values(self, value: Any, section: Mapping[str, Any]) -> dict[str, Any]:
        """The toolkit keys and values this entry sets for `value` (empty when dropped)."""
        if self.convert is not None:
            return self.convert(value, section)
        return {} if self.target is None else {self.target: value}


def _precision(value: Any, section: Mapping[str, Any]) -> dict[str, Any]:
    """The Trainer's fp16/bf16 booleans as one `training.mixed_precision` (either key gives the
    same answer, so both may be present)."""
    fp16, bf16 = bool(section.get("fp16")), bool(section.get("bf16"))
    if not isinstance(value, bool):
        raise ValueError(f"expects true or false; got {value!r}")
    if fp16 and bf16:
        raise ValueError("fp16 and bf16 are both true; keep one, or set "
                         "training.mixed_precision to fp16 or bf16")
    return {"training.mixed_precision": "fp16" if fp16 else "bf16" if bf16 else "no"}


def _max_length(value: Any, section: Mapping[str, Any]) -> dict[str, Any]:
    # The Trainer's and generate()'s max_length counts the decoder start token.
    return {"generation.max_new_tokens": int(value) - 1}


def _data_dir(value: Any, section: Mapping[str, Any]) -> dict[str, Any]:
    # The baseline reads train.csv, dev.csv and test.csv from data_path.
    return {"data.train_path": posixpath.join(str(value), "train.csv"),
            "data.validation_path": posixpath.join(str(value), "dev.csv"),
            "data.test_path": posixpath.join(str(value), "test.csv")}


def _model_name(value: Any, section: Mapping[str, Any]) -> dict[str, Any]:
    name = str(value).lower()
    for marker, architecture in (("kobart", "kobart"), ("bart", "bart"), ("mt5", "mt5"),
                                 ("t5", "t5"), ("kogpt2", "kogpt2"), ("gpt2", "gpt2")):
        if marker in name:
            return {"model.checkpoint": value, "model.architecture": architecture}
    return {"model.checkpoint": value}  # model.architecture auto reads the checkpoint's config


def _eval_switch(value: Any, section: Mapping[str, Any]) -> dict[str, Any]:
    if value:
        raise ValueError("true is what the toolkit does: training.eval_strategy decides when")
    return {"training.eval_strategy": "no"}


def _save_strategy(value: Any, section: Mapping[str, Any]) -> dict[str, Any]:
    value = "no" if value is False else value  # YAML 1.1 reads an unquoted no as false
    if value == "steps":  # the Trainer's default save_steps is 500
        return {"training.save_steps": section.get("save_steps", 500)}
    if value == "epoch":
        return {"training.save_steps": 0}
    raise ValueError(f"`{value}` has no equivalent: the toolkit checkpoints at every epoch "
                     f"end (and every training.save_steps)")


def _save_steps(value: Any, section: Mapping[str, Any]) -> dict[str, Any]:
    if section.get("save_strategy", "steps") != "steps":
        raise ValueError("unused: save_strategy is not `steps`")
    return {"training.save_steps": value}


def _logging_steps(value: Any, section: Mapping[str, Any]) -> dict[str, Any]:
    if section.get("logging_strategy") == "epoch":
        raise ValueError("unused: logging_strategy is `epoch`")
    return {"training.logging_steps": value}


def _patience(value: Any, section: Mapping[str, Any]) -> dict[str, Any]:
    return {"callbacks": [*DEFAULT_CALLBACKS, {"name": "early_stopping", "patience": int(value)}]}


def _report_to(value: Any, section: Mapping[str, Any]) -> dict[str, Any]:
    names = [value] if isinstance(value, str) else list(value or [])
    unknown = [name for name in names if name not in REPORT_TO]
    if unknown:
        raise ValueError(f"{', '.join(map(str, unknown))}: not a tracker the toolkit reports to "
                         f"({', '.join(REPORT_TO)})")
    return {"tracking.report_to": names}


def _metric(value: Any, section: Mapping[str, Any]) -> dict[str, Any]:
    # The Trainer's compute_metrics names (eval_rouge1) as the toolkit's (rouge1_f1).
    name = str(value).removeprefix("eval_").removeprefix("eval/")
    name = {"rouge1": "rouge1_f1", "rouge2": "rouge2_f1", "rougeL": "rougeL_f1"}.get(name, name)
    if name == "loss" and "greater_is_better" not in section:  # the Trainer's guess by name
        return {"training.metric_for_best_model": name, "training.greater_is_better": False}
    return {"training.metric_for_best_model": name}


# The Trainer's optimizer names for the toolkit's (training.optim).
TRAINER_OPTIMIZERS = {"adamw_torch": "adamw", "adamw_hf": "adamw", "adamw_torch_fused":
                      "adamw_torch_fused", "adafactor": "adafactor", "adamw_bnb_8bit": "adamw_8bit",
                      "adamw_8bit": "adamw_8bit"}


def _optimizer(value: Any, section: Mapping[str, Any]) -> dict[str, Any]:
    if value not in TRAINER_OPTIMIZERS:
        raise ValueError(f"`{value}` has no equivalent; training.optim takes "
                         f"{', '.join(OPTIMIZERS)}")
    return {"training.optim": TRAINER_OPTIMIZERS[value]}


def _choice(target: str, choices: tuple[str, ...]) -> Convert:
    def convert(value: Any, section: Mapping[str, Any]) -> dict[str, Any]:
        if value not in choices:
            raise ValueError(f"`{value}` has no equivalent; {target} takes "
                             f"{', '.join(choices)}")
        return {target: value}
    return convert


ALIASES: dict[str, Alias] = {
    # --- the seed guide and the HF Trainer: accepted as written
    "training.fp16": Alias("training.mixed_precision", "the Trainer's fp16: true is "
                           "mixed_precision fp16", accepted=True, convert=_precision),
    "training.bf16": Alias("training.mixed_precision", "the Trainer's bf16: true is "
                           "mixed_precision bf16", accepted=True, convert=_precision),
    "reproducibility.seed": Alias("general.seed", accepted=True),
    "reproducibility.deterministic": Alias("general.deterministic", accepted=True),
    "reproducibility.torch_version": Alias(None, RECORDED_VERSIONS, accepted=True),
    "reproducibility.transformers_version": Alias(None, RECORDED_VERSIONS, accepted=True),
    # --- the competition baseline's config.yaml
    "general.data_path": Alias("data.train_path", "a directory: its train.csv, dev.csv and "
                               "test.csv are data.train_path, data.validation_path and "
                               "data.test_path", convert=_data_dir),
    "general.model_name": Alias("model.checkpoint", "with model.architecture",
                                convert=_model_name),
    "tokenizer.encoder_max_len": Alias("tokenizer.max_source_length"),
    "tokenizer.decoder_max_len": Alias("tokenizer.max_target_length"),
    "tokenizer.special_tokens": Alias("tokenizer.extra_special_tokens"),
    "tokenizer.bos_token": Alias(None, "the tokenizer's own bos token is used"),
    "tokenizer.eos_token": Alias(None, "the tokenizer's own eos token is used"),
    "training.seed": Alias("general.seed"),
    "training.evaluation_strategy": Alias("training.eval_strategy"),
    "training.do_eval": Alias("training.eval_strategy", "do_eval: false is eval_strategy no",
                              convert=_eval_switch),
    "training.do_train": Alias(None, "`toolkit train` always trains"),
    "training.save_strategy": Alias("training.save_steps", "the toolkit checkpoints at "
                                    "epoch ends and every training.save_steps",
                                    convert=_save_strategy),
    "training.save_steps": Alias("training.save_steps", convert=_save_steps),
    "training.save_total_limit": Alias("checkpoint.save_total_limit"),
    "training.load_best_model_at_end": Alias(None, "best/ is always exported, chosen by "
                                             "training.metric_for_best_model (default "
                                             "rouge_combined_f1; the Trainer's is eval loss)"),
    "training.metric_for_best_model": Alias("training.metric_for_best_model", convert=_metric),
    "training.predict_with_generate": Alias(None, "evaluation always generates"),
    "training.generation_max_length": Alias("generation.max_new_tokens", "minus one: the "
                                            "Trainer's max_length counts the decoder start "
                                            "token", convert=_max_length),
    "training.generation_num_beams": Alias("generation.num_beams"),
    "training.logging_dir": Alias(None, "logs are written in the run directory"),
    "training.logging_strategy": Alias(None, "the toolkit logs every training.logging_steps"),
    "training.logging_steps": Alias("training.logging_steps", convert=_logging_steps),
    "training.overwrite_output_dir": Alias(None, "every run gets its own directory"),
    "training.optim": Alias("training.optim", convert=_optimizer),
    "training.lr_scheduler_type": Alias("training.lr_scheduler_type", convert=_choice(
        "training.lr_scheduler_type", ("linear", "cosine", "constant"))),
    "training.early_stopping_patience": Alias("callbacks", "add {name: early_stopping, "
                                              "patience: N}", convert=_patience),
    "training.early_stopping_threshold": Alias(None, "early_stopping counts any improvement "
                                               "of the best-model metric"),
    "training.report_to": Alias("tracking.report_to", convert=_report_to),
    "inference": Alias("generation", "the checkpoint and output are `toolkit predict --model "
                       "DIR --output FILE`; "
                       "`toolkit config import OLD.yaml --output NEW.yaml` converts a "
                       "competition-baseline config"),
    "inference.generate_max_length": Alias("generation.max_new_tokens", "minus one: "
                                           "generate()'s max_length counts the decoder start "
                                           "token", convert=_max_length),
    "inference.num_beams": Alias("generation.num_beams"),
    "inference.no_repeat_ngram_size": Alias("generation.no_repeat_ngram_size"),
    "inference.early_stopping": Alias("generation.early_stopping"),
    "inference.batch_size": Alias("training.per_device_eval_batch_size"),
    "inference.ckt_path": Alias(None, "pass it as `toolkit predict --model DIR`"),
    "inference.result_path": Alias(None, "pass it as `toolkit predict --output FILE`"),
    "inference.remove_tokens": Alias(None, "predictions drop the tokenizer's pad, bos and eos "
                                     "tokens and keep speaker tags"),
    # --- common shorthands (sweeps)
    "batch_size": Alias("training.per_device_train_batch_size"),
    "train_batch_size": Alias("training.per_device_train_batch_size"),
    "eval_batch_size": Alias("training.per_device_eval_batch_size"),
    "epochs": Alias("training.num_train_epochs"),
    "num_epochs": Alias("training.num_train_epochs"),
    "lr": Alias("training.learning_rate"),
    "dropout": Alias("model.dropout"),  # W&B's sweep examples; peft.dropout is LoRA's
    # transformers' examples/pytorch/summarization/run_summarization.py
    "model_name_or_path": Alias("model.checkpoint"),
    "train_file": Alias("data.train_path"),
    "validation_file": Alias("data.validation_path"),
    "test_file": Alias("data.test_path"),
    "text_column": Alias("data.dialogue_column"),
}

# Sections of other layouts that the loader accepts (their keys are all `accepted` aliases).
ACCEPTED_SECTIONS = ("reproducibility",)


def find(name: str) -> tuple[str, Alias] | None:
    """The entry for a dotted `section.key` (or a section, or a flat name); else the one
    entry whose last part is the same key name, when there is exactly one target."""
    if name in ALIASES:
        return name, ALIASES[name]
    key = name.rpartition(".")[2]
    named = [(dotted, a) for dotted, a in ALIASES.items() if dotted.rpartition(".")[2] == key]
    targets = {a.target for _, a in named}
    return named[0] if len(targets) == 1 and None not in targets else None


def hint(name: str, alias: Alias) -> str:
    """The parenthesised hint for an unknown `name` that the table knows."""
    if alias.target is None:
        return f" (the toolkit has no `{name}`: {alias.why})"
    why = f"; {alias.why}" if alias.why else ""
    if "." in name and "." not in alias.target:
        return f" (set it in `{alias.target}`{why})"
    if alias.target.rpartition(".")[2] == name.rpartition(".")[2]:
        return f" (it belongs to `{alias.target}`{why})"
    return f" (the toolkit calls it `{alias.target}`{why})"


def sweep_name(name: str) -> str | None:
    """A flat sweep/shorthand name as the dotted key the loader takes, if the table knows it."""
    found = find(name)
    if found is None or found[1].target is None or "." not in found[1].target:
        return None
    dotted, alias = found
    if alias.accepted:  # keeps its own name so that validation converts the value
        return dotted
    return None if alias.convert is not None else alias.target  # renames only
