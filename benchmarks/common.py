"""What every contender shares: the spec, data, tokenizer, features, model, loss and report.

Setup (tokenizer training, tokenization) runs once in :func:`prepare`; each contender process
loads its results, so no contender's timing ever includes it.
"""

from __future__ import annotations

import hashlib
import json
import math
import resource
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "dialogsum"
DIALOGSUM_FILES = {"train": "dialogsum.train.jsonl", "validation": "dialogsum.dev.jsonl",
                   "test": "dialogsum.test.jsonl"}
EMBEDDED = "embedded"
ARCHITECTURE = "bart"

TRAIN_CONTENDERS = ("ours", "trainer", "trainer_grouped", "accelerate")
PEERS = TRAIN_CONTENDERS[1:]
CANDIDATE = "candidate"  # optional: a modified copy of the toolkit (--candidate)
PREDICT_CONTENDERS = ("predict_ours", "predict_trainer")
LABELS = {"ours": "toolkit loop", CANDIDATE: "candidate toolkit loop",
          "trainer": "Seq2SeqTrainer (defaults)",
          "trainer_grouped": "Seq2SeqTrainer (group_by_length)",
          "accelerate": "Accelerate loop (no_trainer example)",
          "predict_ours": "toolkit predict", "predict_trainer": "Seq2SeqTrainer.predict"}


class SavedSpec:
    """A dataclass of settings that every contender process reads from <work>/<FILE>."""

    FILE = "spec.json"

    def save(self) -> Path:
        self.path.mkdir(parents=True, exist_ok=True)
        target = self.path / self.FILE
        target.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        return target

    @classmethod
    def load(cls, path: str | Path):
        return cls(**json.loads(Path(path).read_text(encoding="utf-8")))


@dataclass
class Spec(SavedSpec):
    """The settings every contender shares; saved as <work>/spec.json."""

    work: str
    data: str = str(DEFAULT_DATA)  # a DialogSum folder, or `embedded`
    steps: int = 60
    batch_size: int = 16
    learning_rate: float = 5e-4
    max_source_length: int = 512
    max_target_length: int = 128
    vocab_size: int = 8000
    seed: int = 42
    logging_steps: int = 10  # the final train loss is the mean over the last window
    heldout: int = 128  # validation examples for the held-out loss
    predict_n: int = 64
    predict_batch_size: int = 32
    num_beams: int = 4
    max_new_tokens: int = 64
    embedded_train_size: int = 3000  # only when data is `embedded`
    threads: int | None = None  # intra-op threads per contender; None: torch's default
    preset: str = "small"  # d_model 256, 3+3 layers (base: 768, 6+6, the size of KoBART)
    device: str = "cpu"  # cpu | cuda
    precision: str = "no"  # no | bf16 | fp16 (mixed precision, as training.mixed_precision)
    accumulation: int = 1  # micro-batches per optimizer step (batch_size is the micro-batch)
    skip_steps: int = 0  # first optimizer steps left out of the timing (warm-up)
    deadline: float | None = None  # time.time() at which a contender stops after its step
    train_limit: int | None = None  # keep only the first N training rows (dry runs)

    @property
    def path(self) -> Path:
        return Path(self.work)


def resolve_data(data: str | None) -> str:
    """The DialogSum folder when it holds the three files, else the embedded corpus."""
    folder = Path(data) if data and data != EMBEDDED else DEFAULT_DATA
    if data != EMBEDDED and all((folder / name).is_file() for name in DIALOGSUM_FILES.values()):
        return str(folder.resolve())
    return EMBEDDED


def split_path(spec: Spec, name: str) -> str:
    """The file (or `embedded`) a split is read from, as the toolkit's data.* keys take it."""
    return EMBEDDED if spec.data == EMBEDDED else str(Path(spec.data) / DIALOGSUM_FILES[name])


def load_rows(spec: Spec, name: str, limit: int | None = None) -> list[dict]:
    """Normalised rows ({id, dialogue, references}) exactly as the toolkit's trainer reads them."""
    from toolkit.data.readers import Columns
    from toolkit.data.splits import load_split

    split = load_split(name, split_path(spec, name), "auto", Columns(), limit,
                       (spec.embedded_train_size, max(spec.heldout, spec.predict_n)))
    return split.rows


def _key(*values: object) -> str:
    return hashlib.sha256(json.dumps(values).encode()).hexdigest()[:10]


def tokenizer_dir(spec: Spec) -> Path:
    """The shared tokenizer, trained once per data source and vocabulary size."""
    return spec.path / ("tokenizer-" + _key(spec.data, spec.vocab_size, spec.embedded_train_size,
                                             spec.train_limit))


def features_dir(spec: Spec, name: str) -> Path:
    """Saved features of a split, kept per data source, tokenizer, lengths and size."""
    size = spec.heldout if name == "heldout" else None
    return spec.path / (f"features-{name}-" + _key(tokenizer_dir(spec).name, spec.max_source_length,
                                                    spec.max_target_length, size))


def feature_builder(spec: Spec, tokenizer):
    from toolkit.data.features import FeatureBuilder

    return FeatureBuilder(tokenizer, "seq2seq", spec.max_source_length, spec.max_target_length,
                          add_bos=True)


def prepare(spec: Spec) -> None:
    """Train the shared tokenizer once (as the toolkit does) and tokenize train and held-out."""
    from toolkit.data.preprocess import find_tags
    from toolkit.models.factory import build_tokenizer, load_tokenizer

    train = load_rows(spec, "train", spec.train_limit)
    if tokenizer_dir(spec).is_dir():
        tokenizer = load_tokenizer(str(tokenizer_dir(spec)))
    else:
        texts = [r["dialogue"] for r in train] + [r["references"][0] for r in train]
        tokenizer = build_tokenizer(None, texts, find_tags(r["dialogue"] for r in train),
                                    spec.vocab_size, "bpe", "seq2seq")
        tokenizer.save_pretrained(tokenizer_dir(spec))
    builder = feature_builder(spec, tokenizer)
    for name, rows in (("train", train),
                       ("heldout", load_rows(spec, "validation", spec.heldout))):
        if not features_dir(spec, name).is_dir():
            # the toolkit trainer's own cache folder: its run then skips tokenization
            builder.build(rows, spec.path / "cache" / "features").save_to_disk(
                features_dir(spec, name))


def load_features(spec: Spec, name: str):
    import datasets

    return datasets.load_from_disk(str(features_dir(spec, name)))


def scratch_model(spec: Spec, tokenizer) -> torch.nn.Module:
    """The seeded from-scratch BART every training contender starts from (the toolkit's own)."""
    from transformers import set_seed

    from toolkit.models.factory import scratch_model as build

    set_seed(spec.seed)
    return build(ARCHITECTURE, spec.preset, tokenizer,
                 max_positions=spec.max_source_length + spec.max_target_length)


def load_trained(directory: str | Path):
    """(model in eval mode on CUDA if present, tokenizer) of a saved model or LoRA adapter."""
    from toolkit.models.factory import load_tokenizer

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if (Path(directory) / "adapter_config.json").is_file():  # base model + adapter
        from peft import AutoPeftModelForCausalLM

        model = AutoPeftModelForCausalLM.from_pretrained(str(directory))
    else:
        from toolkit.evaluation.predict import load_model_dir

        model = load_model_dir(directory).model
    return model.to(device).eval(), load_tokenizer(str(directory))


def peak_rss_mb() -> float:
    """This process's peak resident set so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@torch.inference_mode()
def heldout_loss(model: torch.nn.Module, features, pad_id: int, batch_size: int = 32,
                 causal: bool = False) -> float:
    """Token-weighted cross-entropy on the held-out features (the same code for everyone),
    on the model's device and in its weights' precision."""
    from toolkit.data.collator import TrainCollator, target_tokens

    collate = TrainCollator(pad_id)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, tokens = 0.0, 0
    rows = features.select_columns(["input_ids", "labels"])
    with torch.inference_mode():  # no activations kept: the process peak stays training's
        for start in range(0, len(rows), batch_size):
            batch = collate([rows[i] for i in range(start, min(start + batch_size, len(rows)))])
            count = int(target_tokens(batch["labels"], causal))
            batch = {k: v.to(device) for k, v in batch.items()}
            total += float(model(**batch).loss) * count
            tokens += count
    model.train(was_training)
    return total / max(tokens, 1)


MIN_TIMED_STEPS = 3  # a deadline never stops a contender before it has timed this many


def past_deadline(deadline: float | None, step: int, skip_steps: int) -> bool:
    """Whether a contender should stop after optimizer step `step`: its deadline has passed
    and it has timed at least MIN_TIMED_STEPS steps (its part's hard limit still kills it)."""
    return (deadline is not None and time.time() > deadline
            and step >= skip_steps + MIN_TIMED_STEPS)


def synchronize() -> None:
    """Wait for queued CUDA work, so that a clock read after it covers that work."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def ours_steps(spec: Spec, features) -> list[list[tuple[int, int]]]:
    """(source, target) lengths of every example in each of the `spec.steps` optimizer steps
    the toolkit loop takes, from its own sampler (accumulation windows inside an epoch)."""
    from toolkit.data.sampler import EpochBatchSampler

    lengths = features["length"][:]
    sources = [len(ids) for ids in features["input_ids"][:]]
    targets = [len(labels) for labels in features["labels"][:]]
    sampler = EpochBatchSampler(lengths, spec.batch_size, seed=spec.seed, group_by_length=True)
    steps: list[list[tuple[int, int]]] = []
    epoch = 0
    while len(steps) < spec.steps:
        sampler.set_epoch(epoch)
        batches = list(sampler)
        for start in range(0, len(batches), spec.accumulation):
            steps.append([(sources[i], targets[i]) for batch in
                          batches[start:start + spec.accumulation] for i in batch])
            if len(steps) == spec.steps:
                break
        epoch += 1
    return steps


# ------------------------------------------------------------------------- toolkit config
def toolkit_config(spec: Spec, name: str, output_dir: Path, train_path: str, heldout: str,
                   **sections: dict) -> Path:
    """<work>/<name>.yaml: the toolkit run every benchmark contender of ours shares (the spec's
    data, lengths and optimization; eval and tracking off; only the performance, metrics and
    timer callbacks); `sections` update the matching sections (model, peft, training, ...)."""
    timer = {"name": "benchmarks.timing:LoopTimer", "heldout": heldout,
             "skip_steps": spec.skip_steps, **sections.pop("timer", {})}
    if spec.deadline:
        timer["deadline"] = spec.deadline
    config = {
        "general": {"seed": spec.seed, "output_dir": str(output_dir), "log_level": "warning"},
        "meta": {"experiment_name": f"bench_{name}"},
        "model": {},
        "tokenizer": {"max_source_length": spec.max_source_length,
                      "max_target_length": spec.max_target_length},
        "data": {"train_path": train_path, "validation_path": None,
                 "cache_dir": str(spec.path / "cache"),
                 "embedded_train_size": spec.embedded_train_size,
                 "max_train_samples": spec.train_limit},
        "training": {"max_steps": spec.steps, "per_device_train_batch_size": spec.batch_size,
                     "gradient_accumulation_steps": spec.accumulation,
                     "learning_rate": spec.learning_rate, "weight_decay": 0.0,
                     "warmup_ratio": 0.0, "lr_scheduler_type": "linear", "max_grad_norm": 1.0,
                     "mixed_precision": spec.precision, "eval_strategy": "no"},
        "tracking": {"enabled": False},
        "callbacks": ["performance", {"name": "metrics_history", "draw_curves": False}, timer],
    }
    for section, values in sections.items():
        config.setdefault(section, {}).update(values)
    path = spec.path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------- report
def median(values: list[float]) -> float:
    clean = [v for v in values if v is not None and math.isfinite(v)]
    return statistics.median(clean) if clean else float("nan")


def ratio_line(train_vs_trainer: float, train_vs_grouped: float, predict_vs_trainer: float,
               lora_vs_sft_trainer: float | None = None) -> str:
    """The benchmark's last line: medians of per-round ratios ours/peer, two decimals; the
    training ratios per target token, LoRA's per sample (issue 11's measure)."""
    lora = "n/a" if lora_vs_sft_trainer is None else f"{lora_vs_sft_trainer:.2f}"
    return (f"ratio train_vs_trainer={train_vs_trainer:.2f} "
            f"train_vs_trainer_grouped={train_vs_grouped:.2f} "
            f"predict_vs_trainer={predict_vs_trainer:.2f} lora_vs_sft_trainer={lora}")


def cell(value: float | None, digits: int) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def train_table(summary: dict[str, dict]) -> str:
    """Training: medians over rounds per contender, with ours/peer ratios per target token
    (the headline), per sample and per CPU second (the candidate's row holds candidate/ours)."""
    head = (f"{'training contender':<38}{'tgt tok/s':>10}{'samples/s':>10}{'per CPU-s':>10}"
            f"{'train loss':>11}{'heldout':>9}{'peak RSS MB':>12}{'ours/peer':>10}"
            f"{'(smp)':>7}{'(CPU)':>7}")
    lines = [head, "-" * len(head)]
    for name in (*TRAIN_CONTENDERS, CANDIDATE):
        s = summary.get(name)
        if s is None:
            continue
        ratios = ("", "", "") if name == "ours" else tuple(
            cell(s.get(key), 2) for key in ("token_ratio", "ratio", "cpu_ratio"))
        lines.append(f"{LABELS[name]:<38}{cell(s['target_tokens_per_s'], 1):>10}"
                     f"{cell(s['samples_per_s'], 2):>10}"
                     f"{cell(s.get('samples_per_cpu_s'), 2):>10}{cell(s['train_loss'], 4):>11}"
                     f"{cell(s['heldout_loss'], 4):>9}{cell(s['peak_rss_mb'], 0):>12}"
                     f"{ratios[0]:>10}{ratios[1]:>7}{ratios[2]:>7}")
    return "\n".join(lines)


def predict_table(summary: dict[str, dict]) -> str:
    """Prediction: dialogues/s, ROUGE x100 and peak RSS per contender, with ours/peer."""
    head = (f"{'prediction contender':<38}{'dialog/s':>10}{'per CPU-s':>10}{'seconds':>9}"
            f"{'R-1':>7}{'R-2':>7}{'R-L':>7}{'peak RSS MB':>12}{'ours/peer':>10}{'(CPU)':>7}")
    lines = [head, "-" * len(head)]
    for name in PREDICT_CONTENDERS:
        s = summary.get(name)
        if s is None:
            continue
        ratio, cpu = ("", "") if name == "predict_ours" else (cell(s.get("ratio"), 2),
                                                              cell(s.get("cpu_ratio"), 2))
        rouge = s["rouge"]
        lines.append(f"{LABELS[name]:<38}{cell(s['dialogues_per_s'], 2):>10}"
                     f"{cell(s.get('dialogues_per_cpu_s'), 2):>10}{cell(s['seconds'], 1):>9}"
                     f"{100 * rouge['rouge1_f1']:>7.2f}{100 * rouge['rouge2_f1']:>7.2f}"
                     f"{100 * rouge['rougeL_f1']:>7.2f}{cell(s['peak_rss_mb'], 0):>12}"
                     f"{ratio:>10}{cpu:>7}")
    return "\n".join(lines)
