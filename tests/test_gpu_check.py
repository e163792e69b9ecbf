"""The prepared GPU check (benchmarks/gpu_check.py): its FLOP count, peak table and dry run.

The dry run is what keeps the script working between the rare GPU runs: every part runs on
the CPU with tiny sizes, and its figures are checked against what the runs themselves logged.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import BartConfig, BartForConditionalGeneration

from benchmarks.flops import bf16_peak, mfu, seq2seq_forward_flops, train_flops
from benchmarks.gpu_check import last_line, render
from benchmarks.run import rotated
from tests.helpers import ROOT, environment


def test_flop_formula_equals_torch_flop_counter():
    config = BartConfig(vocab_size=500, d_model=64, encoder_layers=2, decoder_layers=3,
                        encoder_attention_heads=4, decoder_attention_heads=4,
                        encoder_ffn_dim=128, decoder_ffn_dim=128, max_position_embeddings=128,
                        attn_implementation="eager")  # eager: the counter sees the score matmuls
    model = BartForConditionalGeneration(config).eval()
    for source, target in ((37, 11), (5, 20)):
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(input_ids=torch.randint(5, 400, (1, source)),
                  decoder_input_ids=torch.randint(5, 400, (1, target)))
        assert counter.get_total_flops() == seq2seq_forward_flops(source, target, 64, 128, 2,
                                                                  3, 500)
    assert train_flops(config, [(37, 11), (5, 20)]) == 3 * (
        seq2seq_forward_flops(37, 11, 64, 128, 2, 3, 500)
        + seq2seq_forward_flops(5, 20, 64, 128, 2, 3, 500))


@pytest.mark.parametrize(("name", "expected"), [
    ("NVIDIA H100 80GB HBM3", ("H100 SXM", 989.4e12)),
    ("NVIDIA H100 PCIe", ("H100 PCIe", 756e12)),
    ("NVIDIA H100 NVL", ("H100 NVL", 835e12)),
    ("NVIDIA H200", ("H200 SXM", 989.4e12)),
    ("NVIDIA GH200 480GB", ("GH200", 989.4e12)),
    ("NVIDIA A100-SXM4-80GB", ("A100", 312e12)),
    ("NVIDIA L4", ("L4", 121e12)),
    ("NVIDIA L40S", ("L40S", 362.1e12)),
    ("Tesla T4", None),
])
def test_bf16_peak_is_read_from_the_device_name(name, expected):
    assert bf16_peak(name) == expected


def test_mfu_is_work_over_time_over_peak():
    assert mfu(4e14, 2.0, 1e15) == pytest.approx(0.2)
    assert mfu(4e14, 2.0, None) is None


def test_a_deadline_stops_a_contender_only_after_a_few_timed_steps():
    from benchmarks.common import MIN_TIMED_STEPS, past_deadline

    gone = time.time() - 1
    assert not past_deadline(None, 100, 0)
    assert not past_deadline(time.time() + 3600, 100, 0)
    assert not past_deadline(gone, 5 + MIN_TIMED_STEPS - 1, 5)
    assert past_deadline(gone, 5 + MIN_TIMED_STEPS, 5)


def test_contenders_take_every_place_in_turn():
    names = ["ours", "trainer", "trainer_grouped", "accelerate"]
    orders = [rotated(names, index) for index in range(1, 5)]
    assert orders[0] == names
    assert orders[1] == ["trainer", "trainer_grouped", "accelerate", "ours"]
    for position in range(len(names)):
        assert sorted(order[position] for order in orders) == sorted(names)


def test_tables_and_the_last_line():
    table = render(["contender", "tok/s"], [["ours", "12"], ["peer  skipped: needs CUDA"]])
    assert table.splitlines()[0] == "contender  tok/s"
    assert table.splitlines()[-1] == "peer  skipped: needs CUDA"
    line = last_line({"mfu": "0.412", "zero3": "ok", "train_vs_trainer": "1.31"})
    assert line == ("gpu ratio train_vs_trainer=1.31 predict_vs_trainer=n/a mfu=0.412 zero3=ok")


def test_benchmark_report_helpers(tmp_path):
    from benchmarks import common, contenders, run

    line = common.ratio_line(1.234, 0.9, 2)
    assert line == ("ratio train_vs_trainer=1.23 train_vs_trainer_grouped=0.90 "
                    "predict_vs_trainer=2.00 lora_vs_sft_trainer=n/a")
    assert common.ratio_line(1, 1, 1, 1.256).endswith(" lora_vs_sft_trainer=1.26")
    assert common.median([3.0, 1.0, float("nan"), 2.0]) == 2.0
    spec = common.Spec(work=str(tmp_path), steps=7, device="cuda", precision="bf16")
    assert common.Spec.load(spec.save()) == spec
    assert common.resolve_data("embedded") == common.EMBEDDED
    assert common.resolve_data(str(tmp_path)) == common.EMBEDDED  # no DialogSum files there
    train = {"samples_per_s": 2.0, "target_tokens_per_s": 50.0, "train_loss": 3.0,
             "heldout_loss": 3.1, "peak_rss_mb": 900.0}
    table = common.train_table({"ours": train, "trainer": {**train, "token_ratio": 1.5}})
    assert "Seq2SeqTrainer (defaults)" in table and "1.50" in table
    assert run.make_parser().parse_args(["--quick"]).quick
    collator = contenders.CountingCollator(lambda rows: {
        "labels": torch.tensor(rows), "attention_mask": torch.tensor([[1, 1, 0], [1, 1, 1]])})
    assert collator([[1, -100, -100], [2, 3, 4]])["labels"].shape == (2, 3)
    assert collator.batches == [[(2, 1), (3, 3)]] and collator.tokens == [4]
    causal = contenders.CountingCollator(collator.collate, causal=True)
    causal([[1, -100, -100], [2, 3, 4]])
    assert causal.batches == [[(2, 0), (3, 2)]]  # position 0 predicts nothing


def test_ours_steps_follow_the_loops_sampler_and_accumulation(tmp_path):
    import datasets

    from benchmarks.common import Spec, ours_steps

    features = datasets.Dataset.from_dict({
        "input_ids": [[1] * n for n in range(3, 13)], "labels": [[2] * (n % 4 + 1)
                                                                for n in range(10)],
        "length": list(range(3, 13))})
    spec = Spec(work=str(tmp_path), steps=4, batch_size=2, accumulation=2)
    steps = ours_steps(spec, features)
    assert len(steps) == 4
    # 5 micro-batches an epoch: windows of 2, 2 and a last one of 1, then the next epoch
    assert [len(step) for step in steps] == [4, 4, 2, 4]
    for step in steps:
        for source, target in step:
            assert target == (source - 3) % 4 + 1


def test_the_gpu_parts_fit_in_eight_minutes():
    from benchmarks.gpu_check import DRY, GPU, PARTS

    assert set(GPU.budgets) == set(DRY.budgets) == set(PARTS)
    one_gpu = sum(seconds for part, seconds in GPU.budgets.items() if part != "ddp")
    assert one_gpu + 40 <= 8 * 60  # 40 s: tokenizer and features before the first part


def test_an_unknown_part_is_refused():
    result = subprocess.run([sys.executable, "benchmarks/gpu_check.py", "--dry-run", "--parts",
                             "train,warp"], cwd=ROOT, env=environment(), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 2
    assert "unknown part(s) warp" in result.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_without_a_gpu_the_check_points_to_the_dry_run():
    result = subprocess.run([sys.executable, "benchmarks/gpu_check.py"], cwd=ROOT,
                            env=environment(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "no CUDA device; run with --dry-run" in result.stderr


@pytest.mark.slow
def test_dry_run_runs_every_part_on_the_cpu(tmp_path):
    report = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, "benchmarks/gpu_check.py", "--dry-run", "--work", str(tmp_path),
         "--json", str(report)], cwd=ROOT, env=environment(), capture_output=True, text=True,
        timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for title in ("Training throughput", "Predict", "Precision and loop paths",
                  "DeepSpeed and FSDP on one GPU", "Large-model path", "Several GPUs"):
        assert f"== {title}" in out
    last = out.strip().splitlines()[-1]
    assert re.match(r"gpu ratio train_vs_trainer=\d+\.\d\d predict_vs_trainer=\d+\.\d\d mfu=n/a",
                    last), last
    figures = dict(item.split("=", 1) for item in last.split()[2:])
    assert figures["precision"] == "ok"
    assert figures["cpu"] == "ok"  # the launch, evaluation and best/ check ran on the CPU
    assert figures["zero2"] == figures["zero3"] == figures["fsdp"] == "skipped"
    assert "DeepSpeed ZeRO-3  skipped: needs CUDA" in out
    assert "bf16 autocast  skipped: needs CUDA" in out
    assert "skipped: needs 2 or more GPUs (found 0)" in out
    if "lora_vs_sft_trainer" in figures:
        float(figures["lora_vs_sft_trainer"])
        assert "toolkit QLoRA  skipped: needs CUDA" in out
    else:
        assert re.search(r"== Large-model path.*\nskipped: .*(peft|trl)", out)

    parts = json.loads(report.read_text(encoding="utf-8"))["parts"]
    ours, peer = parts["train"]["results"]["ours"], parts["train"]["results"]["trainer_grouped"]
    # the target tokens counted for our timed steps are the ones the loop itself logged
    lines = (Path(ours["run_dir"]) / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    logged = sum(r["train/target_tokens"] for r in records
                 if "train/target_tokens" in r and r["step"] > 1)
    assert ours["target_tokens"] == logged > 0
    assert ours["samples"] == peer["samples"] == ours["steps"] * 4 * 2  # micro-batch x accum.
    assert parts["predict"]["figures"]["predict_identical"] == "4/4"
