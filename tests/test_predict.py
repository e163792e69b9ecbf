"""`toolkit predict` / `toolkit evaluate` on a tiny trained model, decoding, errors, and the
benchmark's report helpers."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
import torch

from toolkit.cli import main
from toolkit.corpus import embedded_splits
from toolkit.errors import EXIT_USAGE
from toolkit.evaluation.generate import decode

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, cache_dir) -> Path:
    """final/ of 20 steps of the tiny preset on a small embedded corpus (one thread)."""
    from toolkit import train

    out = tmp_path_factory.mktemp("predict-model")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    code = train.main([
        "--config", str(ROOT / "config" / "base_config.yaml"), f"general.output_dir={out}",
        f"data.cache_dir={cache_dir}", "tracking.enabled=false", "training.max_steps=20",
        "model.architecture=bart", "model.preset=tiny",
        "data.embedded_train_size=160", "data.embedded_eval_size=16",
        "tokenizer.vocab_size=600", "tokenizer.max_source_length=128",
        "tokenizer.max_target_length=32", "training.per_device_train_batch_size=8",
        "training.learning_rate=2e-3", "training.eval_strategy=no",
        "generation.num_beams=1", "generation.max_new_tokens=12",
        "callbacks=[nan_guard]"])
    torch.set_num_threads(before)
    assert code == 0
    (final,) = out.glob("*/final")  # no evaluation ran, so no best/ was chosen
    return final


@pytest.fixture(scope="session")
def dialogues() -> list[dict]:
    return embedded_splits(40, 12, seed=3)["test"]


def predict(*argv: str) -> int:
    return main(["predict", *argv, "--num-beams", "1", "--max-new-tokens", "8"])


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_decode_keeps_speaker_tags_and_drops_pad_eos():
    from toolkit.models.tokenizer_training import train_tokenizer

    tags = ["#Person1#", "#Person2#"]
    tokenizer = train_tokenizer(["#Person1#: 안녕하세요 회의 시간", "#Person2#: 네 좋아요"] * 20,
                                tags, vocab_size=120)
    ids = tokenizer("#Person1#은 회의 시간을", add_special_tokens=False)["input_ids"]
    pad, eos, bos = tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.bos_token_id
    first = [eos, bos, *ids, eos, pad, pad]
    second = [eos, ids[0], eos]
    rows = torch.tensor([first, second + [pad] * (len(first) - len(second))])
    texts = decode(tokenizer, rows)
    assert texts[0].startswith("#Person1#") and "회의" in texts[0]
    assert texts[1] == "#Person1#"
    assert not any(marker in text for text in texts for marker in ("<pad>", "</s>", "<s>"))


@pytest.mark.slow
def test_predict_csv_keeps_input_order(model_dir, dialogues, tmp_path):
    source = tmp_path / "test.csv"
    rows = list(reversed(dialogues))  # ids out of order, lengths mixed
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["fname", "dialogue"])
        writer.writerows([r["fname"], r["dialogue"]] for r in rows)
        writer.writerow(["blank_1", "  "])  # an empty dialogue still gets its line
    output = tmp_path / "out" / "submission.csv"
    assert predict("--model", str(model_dir), "--input", str(source), "--output", str(output),
                   "--batch-size", "5") == 0
    written = read_csv(output)
    assert list(written[0]) == ["fname", "summary"]
    assert [w["fname"] for w in written] == [r["fname"] for r in rows] + ["blank_1"]
    assert written[-1]["summary"] == ""
    assert all(w["summary"] for w in written[:-1])
    assert not any("<pad>" in w["summary"] or "</s>" in w["summary"] for w in written)


@pytest.mark.slow
def test_predict_jsonl_with_named_columns_matches_csv(model_dir, dialogues, tmp_path):
    source = tmp_path / "test.jsonl"
    source.write_text("".join(json.dumps({"id": r["fname"], "text": r["dialogue"]},
                                         ensure_ascii=False) + "\n" for r in dialogues),
                      encoding="utf-8")
    output = tmp_path / "sub.csv"
    assert predict("--model", str(model_dir), "--input", str(source), "--output", str(output),
                   "--id-column", "id", "--dialogue-column", "text", "--batch-size", "32") == 0
    written = read_csv(output)
    assert list(written[0]) == ["id", "summary"]
    assert [w["id"] for w in written] == [r["fname"] for r in dialogues]
    # batch 32 (one batch) and batch 3 (sorted, several batches) give the same summaries
    again = tmp_path / "again.csv"
    assert predict("--model", str(model_dir), "--input", str(source), "--output", str(again),
                   "--id-column", "id", "--dialogue-column", "text", "--batch-size", "3") == 0
    assert read_csv(again) == written


@pytest.mark.slow
def test_generated_speaker_tags_survive(model_dir, dialogues):
    """Whenever the model emits a tag token, the prediction text contains the tag."""
    from accelerate import Accelerator

    from toolkit.evaluation.predict import (
        generation_kwargs,
        load_model_dir,
        predict_features,
        prompt_features,
    )

    bundle = load_model_dir(model_dir)
    rows = [{"dialogue": r["dialogue"], "references": []} for r in dialogues]
    features = prompt_features(bundle, rows)
    gen = generation_kwargs(bundle, num_beams=1, max_new_tokens=8)
    assert gen["max_new_tokens"] == 8 and "length_penalty" not in gen
    texts = predict_features(Accelerator(), bundle, features, 4, gen, show_progress=False)
    assert len(texts) == len(rows) and all(texts)
    tag_id = bundle.tokenizer.convert_tokens_to_ids("#Person1#")
    inputs = bundle.tokenizer.pad({"input_ids": features["input_ids"][:]}, return_tensors="pt")
    with torch.inference_mode():
        ids = bundle.model.generate(**inputs, **gen)
    tagged = [row for row in ids if tag_id in row.tolist()]
    assert tagged, "the model generated no speaker tag"
    assert all("#Person1#" in text for text in decode(bundle.tokenizer, torch.stack(tagged)))


@pytest.mark.slow
def test_lean_beam_search_generates_the_same(model_dir, dialogues):
    from toolkit.evaluation.predict import lean_beam_search, load_model_dir, prompt_features

    bundle = load_model_dir(model_dir)
    features = prompt_features(bundle, [{"dialogue": r["dialogue"], "references": []}
                                        for r in dialogues[:6]])
    inputs = bundle.tokenizer.pad({"input_ids": features["input_ids"][:]}, return_tensors="pt")
    settings = {"num_beams": 3, "max_new_tokens": 10, "early_stopping": True}
    with torch.inference_mode():
        plain = bundle.model.generate(**inputs, **settings)
        with lean_beam_search(bundle.model):
            lean = bundle.model.generate(**inputs, **settings)
    assert torch.equal(plain, lean)
    assert "_reorder_cache" not in vars(bundle.model)


@pytest.mark.slow
def test_evaluate_multi_reference(model_dir, dialogues, tmp_path, capsys):
    data = tmp_path / "multi.csv"
    with data.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["fname", "dialogue", "summary1", "summary2"])
        for r in dialogues[:6]:
            writer.writerow([r["fname"], r["dialogue"], r["summary"], f"{r['summary']} 추가"])
    output = tmp_path / "predictions.csv"
    args = ["evaluate", "--model", str(model_dir), "--data", str(data), "--num-beams", "1",
            "--max-new-tokens", "8"]
    assert main([*args, "--output", str(output), "--rouge-tokenizer", "whitespace"]) == 0
    table = capsys.readouterr().out
    assert re.search(r"ROUGE-1\s+\d+\.\d\d", table) and re.search(r"examples\s+6", table)
    assert list(read_csv(output)[0]) == ["fname", "prediction", "reference1", "reference2"]
    assert main([*args, "--json", "--multi-reference", "max", "--rouge-workers", "2"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["num_examples"] == 6 and 0 <= metrics["rouge_combined_f1"] <= 1


def test_missing_model_dir_is_a_usage_error(tmp_path, capsys):
    code = predict("--model", str(tmp_path / "nowhere"), "--input", str(tmp_path / "x.csv"))
    assert code == EXIT_USAGE
    assert "model directory" in capsys.readouterr().err


def test_dir_without_model_is_a_usage_error(tmp_path, capsys):
    source = tmp_path / "test.csv"
    source.write_text("fname,dialogue\na,#Person1#: 안녕\n", encoding="utf-8")
    code = predict("--model", str(tmp_path), "--input", str(source))
    assert code == EXIT_USAGE
    assert "holds no saved model" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize(("content", "message"), [
    ("fname,text\na,#Person1#: 안녕\n", "--dialogue-column"),
    ("", "cannot read"),
    ("fname,dialogue\n", "no rows"),
])
def test_bad_input_is_a_usage_error(model_dir, tmp_path, capsys, content, message):
    source = tmp_path / "test.csv"
    source.write_text(content, encoding="utf-8")
    code = predict("--model", str(model_dir), "--input", str(source),
                   "--output", str(tmp_path / "sub.csv"))
    assert code == EXIT_USAGE
    assert message in capsys.readouterr().err
    assert not (tmp_path / "sub.csv").exists()


@pytest.mark.slow
def test_evaluate_without_references_is_a_usage_error(model_dir, tmp_path, capsys):
    data = tmp_path / "test.csv"
    data.write_text("fname,dialogue\na,#Person1#: 안녕\n", encoding="utf-8")
    code = main(["evaluate", "--model", str(model_dir), "--data", str(data)])
    assert code == EXIT_USAGE
    assert "--summary-column" in capsys.readouterr().err
