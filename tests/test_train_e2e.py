"""End to end through the seed's Python API: from-scratch BART and GPT-2 train, evaluate,
predict and save loadable models; user callbacks see every event; the seed's example 3
(edit the loaded dict); gradient accumulation with CPU bf16; every epoch end is an event."""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

from tests.helpers import ROOT, tiny_overrides
from toolkit import (
    Callback,
    ConfigManager,
    DialogueSummarizationTrainer,
    TrainingResult,
    create_trainer,
)
from toolkit.config import loader
from toolkit.data.features import SEPARATOR
from toolkit.data.splits import DialogueSplit

pytestmark = pytest.mark.slow

BASE = str(ROOT / "config" / "base_config.yaml")
MAX_STEPS, EVAL_STEPS = 20, 10  # 96 examples / batch 8: epochs of 12 steps
MAX_SOURCE = 96  # tiny_overrides' tokenizer.max_source_length


class EventCounter(Callback):
    """A user subscriber that counts the events it receives."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def on_train_begin(self, state, run) -> None:
        self.counts["on_train_begin"] += 1

    def on_epoch_begin(self, state) -> None:
        self.counts["on_epoch_begin"] += 1

    def on_step_end(self, state, lr: float) -> None:
        self.counts["on_step_end"] += 1

    def on_log(self, state, metrics: dict[str, float]) -> None:
        self.counts["on_log"] += 1

    def on_evaluate(self, state, metrics: dict[str, float], samples: list[dict[str, str]]
                    ) -> None:
        self.counts["on_evaluate"] += 1

    def on_save(self, state, checkpoint_dir: Path) -> None:
        self.counts["on_save"] += 1

    def on_epoch_end(self, state) -> None:
        self.counts["on_epoch_end"] += 1

    def on_train_end(self, state, result) -> None:
        self.counts["on_train_end"] += 1

    def on_exception(self, state, error: BaseException) -> None:
        self.counts["on_exception"] += 1


@dataclass
class Run:
    trainer: DialogueSummarizationTrainer
    datasets: dict[str, DialogueSplit]
    result: TrainingResult
    events: EventCounter

    @property
    def dir(self) -> Path:
        return Path(self.result.run_dir)

    def history(self) -> list[dict]:
        lines = (self.dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines]


def train(tmp: Path, cache: Path, architecture: str, **extra: object) -> Run:
    overrides = tiny_overrides(tmp, cache, model__architecture=architecture,
                               training__max_steps=MAX_STEPS, training__eval_strategy="steps",
                               training__eval_steps=EVAL_STEPS, **extra)
    trainer = create_trainer(BASE, overrides=overrides)
    events = EventCounter()
    trainer.add_callback(events)
    datasets = trainer.prepare_data()
    return Run(trainer, datasets, trainer.train(datasets), events)


@pytest.fixture(scope="module")
def bart(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Run:
    return train(tmp_path_factory.mktemp("bart"), cache_dir, "bart")


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Run:
    return train(tmp_path_factory.mktemp("gpt2"), cache_dir, "gpt2")


def train_losses(run: Run) -> list[float]:
    return [r["train/loss"] for r in run.history() if "train/loss" in r]


@pytest.mark.parametrize("name", ["bart", "gpt2"])
def test_the_loss_falls_and_the_history_has_every_step(name: str,
                                                       request: pytest.FixtureRequest) -> None:
    run: Run = request.getfixturevalue(name)
    losses = train_losses(run)
    assert len(losses) == MAX_STEPS
    assert losses[-1] < 0.85 * losses[0]
    history = run.history()
    assert all("step" in r for r in history)
    assert [r["step"] for r in history if "train/loss" in r] == list(range(1, MAX_STEPS + 1))
    evals = [r for r in history if "eval/rouge_combined_f1" in r]
    assert [r["step"] for r in evals] == [EVAL_STEPS, MAX_STEPS]
    assert all("eval/loss" in r for r in evals)


def test_the_result_names_the_models_and_the_tracked_run(bart: Run) -> None:
    result = bart.result
    assert result.status == "completed" and result.global_step == MAX_STEPS
    assert result.best_step in (EVAL_STEPS, MAX_STEPS)
    assert {"rouge1_f1", "rouge2_f1", "rougeL_f1", "rouge_combined_f1", "loss"} <= set(
        result.best_metrics)
    assert result.final_metrics["loss"] == bart.history()[-1]["eval/loss"]
    assert result.train_loss == train_losses(bart)[-1]
    assert result.model_path == str(bart.dir / "best")
    assert result.final_model_path == str(bart.dir / "final")
    assert result.experiment_id and result.model_id


def test_the_run_directory_holds_curves_config_and_predictions(bart: Run) -> None:
    assert (bart.dir / "curves.png").stat().st_size > 0
    assert loader.resolve(bart.dir / "config.yaml", environ={})[0] == bart.trainer.config
    with (bart.dir / "predictions.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    validation = bart.datasets["validation"]
    assert len(rows) == len(validation)
    assert list(rows[0]) == ["fname", "prediction", "reference", "dialogue"]
    assert [r["fname"] for r in rows] == [r["id"] for r in validation.rows]
    info = json.loads((bart.dir / "run_info.json").read_text(encoding="utf-8"))
    assert info["precision"] == "no"  # training.mixed_precision auto, on a CPU
    assert {"torch", "transformers", "accelerate"} <= set(info["versions"])


@pytest.mark.parametrize("folder", ["best", "final"])
def test_saved_seq2seq_models_load_and_generate(bart: Run, folder: str) -> None:
    path = bart.dir / folder
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSeq2SeqLM.from_pretrained(path).eval()
    assert model.generation_config.max_new_tokens == 8
    dialogue = bart.datasets["validation"].dialogues[0]
    inputs = tokenizer(dialogue, return_tensors="pt", truncation=True, max_length=MAX_SOURCE)
    with torch.no_grad():
        output = model.generate(**inputs)
    assert 1 < output.shape[1] <= 1 + 8
    assert isinstance(tokenizer.decode(output[0], skip_special_tokens=True), str)


@pytest.mark.parametrize("name", ["bart", "gpt2"])
def test_the_saved_tokenizer_truncates_to_the_model_positions(
        name: str, request: pytest.FixtureRequest) -> None:
    run: Run = request.getfixturevalue(name)
    path = run.dir / "best"
    positions = AutoConfig.from_pretrained(path).max_position_embeddings
    long_dialogue = " ".join(run.datasets["train"].dialogues[:10])
    ids = AutoTokenizer.from_pretrained(path)(long_dialogue, truncation=True)["input_ids"]
    assert len(ids) <= positions


def test_a_saved_causal_model_continues_after_the_separator(gpt2: Run) -> None:
    path = gpt2.dir / "best"
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    dialogue = gpt2.datasets["validation"].dialogues[0]
    prompt = [tokenizer.bos_token_id, *tokenizer(dialogue)["input_ids"][: MAX_SOURCE - 2],
              tokenizer.convert_tokens_to_ids(SEPARATOR)]
    with torch.no_grad():
        output = model.generate(torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt),
                                                                                dtype=torch.long))
    assert output[0, : len(prompt)].tolist() == prompt
    assert len(prompt) < output.shape[1] <= len(prompt) + 8
    assert "rouge_combined_f1" in gpt2.result.best_metrics


def test_a_user_callback_sees_every_event(bart: Run) -> None:
    assert bart.events.counts == {
        "on_train_begin": 1, "on_epoch_begin": 2, "on_step_end": MAX_STEPS,
        "on_log": MAX_STEPS, "on_evaluate": MAX_STEPS // EVAL_STEPS, "on_epoch_end": 1,
        "on_save": 2, "on_train_end": 1}  # the epoch's end, and the last step (mid-epoch)


def test_evaluate_with_a_prefix_and_generate_predictions(bart: Run) -> None:
    validation = bart.datasets["validation"]
    metrics = bart.trainer.evaluate(validation, metric_key_prefix="test")
    assert {"test/rouge_combined_f1", "test/loss"} <= set(metrics)
    assert all(key.startswith("test/") for key in metrics)
    assert metrics["test/loss"] == pytest.approx(bart.result.final_metrics["loss"], rel=1e-4)
    predictions = bart.trainer.generate_predictions(validation, max_samples=3)
    assert len(predictions) == 3
    for prediction, row in zip(predictions, validation.rows):
        assert set(prediction) == {"fname", "input", "prediction", "reference"}
        assert prediction["fname"] == row["id"]
        assert prediction["input"] == row["dialogue"]
        assert prediction["reference"] == row["references"][0]
        assert isinstance(prediction["prediction"], str)


def test_predict_from_python_writes_the_submission_of_an_unlabeled_file(bart: Run,
                                                                         tmp_path: Path) -> None:
    rows = bart.datasets["validation"].rows[:4]
    unlabeled = tmp_path / "test.csv"
    with unlabeled.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["fname", "dialogue"])
        writer.writerows([row["id"], row["dialogue"]] for row in rows)
    submission = tmp_path / "out" / "submission.csv"
    predicted = bart.trainer.predict(unlabeled, output=submission)
    assert [p["fname"] for p in predicted] == [row["id"] for row in rows]
    with submission.open(encoding="utf-8", newline="") as handle:
        written = list(csv.DictReader(handle))
    assert written == predicted
    from_split = bart.trainer.generate_predictions(bart.datasets["validation"], max_samples=4)
    assert [p["summary"] for p in predicted] == [p["prediction"] for p in from_split]


def test_the_trainer_names_its_run_and_model_directories(bart: Run) -> None:
    assert bart.trainer.output_dir == bart.dir
    assert (bart.trainer.output_dir / "checkpoints").is_dir()
    assert bart.trainer.model_save_dir == bart.dir / "best" == Path(bart.result.model_path)


def test_the_seeds_example_3_edits_the_loaded_dict(tmp_path: Path, cache_dir: Path) -> None:
    config = ConfigManager().load_config(BASE, tiny_overrides(tmp_path, cache_dir))
    config["training"]["learning_rate"] = 2e-3
    config["training"]["gradient_accumulation_steps"] = 2
    config["training"]["max_steps"] = 6  # 6 steps x 2 micro-batches: one epoch
    config["model"]["architecture"] = "bart"
    config["meta"]["experiment_name"] = "kobart_optimized_v1"
    trainer = DialogueSummarizationTrainer(config=config, experiment_name="example3")
    trainer.initialize_components()
    datasets = trainer.prepare_data()
    assert set(datasets) == {"train", "validation"}
    result = trainer.train()
    run_dir = Path(result.run_dir)
    assert run_dir.name.startswith("example3_") and result.global_step == 6
    saved = loader.resolve(run_dir / "config.yaml", environ={})[0]
    assert saved["training"]["learning_rate"] == 2e-3
    assert saved["training"]["gradient_accumulation_steps"] == 2
    last = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert last[-1]["train/epoch"] == 1.0


def cpu_bf16_autocast_works() -> bool:
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = torch.nn.Linear(4, 4)(torch.randn(2, 4))
        return out.dtype == torch.bfloat16
    except RuntimeError:
        return False


@pytest.mark.skipif(not cpu_bf16_autocast_works(), reason="CPU bf16 autocast is unavailable")
def test_gradient_accumulation_with_cpu_bf16(tmp_path: Path, cache_dir: Path) -> None:
    trainer = create_trainer(BASE, overrides=tiny_overrides(
        tmp_path, cache_dir, model__architecture="bart", training__max_steps=3,
        training__gradient_accumulation_steps=2, training__mixed_precision="bf16",
        tracking__enabled=False))
    result = trainer.train()
    assert trainer.accelerator.mixed_precision == "bf16"
    assert result.global_step == 3 and torch.isfinite(torch.tensor(result.train_loss))
    model = AutoModelForSeq2SeqLM.from_pretrained(result.final_model_path)
    assert model.dtype == torch.float32  # autocast leaves the weights in fp32


def test_every_epoch_end_is_an_event(tmp_path: Path, cache_dir: Path) -> None:
    trainer = create_trainer(BASE, overrides=tiny_overrides(
        tmp_path, cache_dir, model__architecture="bart", data__embedded_train_size=32,
        training__num_train_epochs=2, training__eval_strategy="epoch",
        tracking__enabled=False))
    events = EventCounter()
    trainer.add_callback(events)
    result = trainer.train()
    assert result.global_step == 8  # 32 examples / batch 8, two epochs
    assert events.counts["on_epoch_begin"] == events.counts["on_epoch_end"] == 2
    assert events.counts["on_evaluate"] == events.counts["on_save"] == 2
