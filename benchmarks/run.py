"""Our training loop and predict path against Hugging Face baselines, side by side.

    python benchmarks/run.py --quick            # a few minutes on 2 CPU cores
    python benchmarks/run.py --rounds 3 --steps 60 --json results.json

Every round runs each contender in its own process, in the same order (ours, Seq2SeqTrainer
defaults, Seq2SeqTrainer with group_by_length, the Accelerate no_trainer loop, then toolkit
predict and Seq2SeqTrainer.predict), so a noisy machine hits them alike; ratios are per round,
reported as medians. The last line printed is the ratio line (see ``ratio_line``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (  # noqa: E402
    CANDIDATE,
    EMBEDDED,
    LABELS,
    PEERS,
    PREDICT_CONTENDERS,
    ROOT,
    TRAIN_CONTENDERS,
    Spec,
    cell,
    features_dir,
    load_features,
    median,
    ours_steps,
    predict_table,
    prepare,
    ratio_line,
    resolve_data,
    split_path,
    tokenizer_dir,
    toolkit_config,
    train_table,
)
from benchmarks.lora import LoraSpec, unsupported  # noqa: E402
from benchmarks.lora import prepare as prepare_lora  # noqa: E402

QUICK = {"steps": 20, "batch_size": 16, "predict_n": 32, "heldout": 32, "rounds": 1}
FULL = {"steps": 60, "batch_size": 16, "predict_n": 128, "heldout": 128, "rounds": 3}


def environment(spec: Spec, toolkit_root: Path = ROOT) -> dict[str, str]:
    """Contender environment: the toolkit from `toolkit_root`, the benchmarks from ROOT."""
    path = os.pathsep.join(dict.fromkeys([str(toolkit_root), str(ROOT)]))
    env = dict(os.environ, PYTHONPATH=path, TOKENIZERS_PARALLELISM="false",
               WANDB_MODE="disabled", HF_HUB_OFFLINE="1", TRANSFORMERS_NO_ADVISORY_WARNINGS="1")
    if spec.threads:
        env.update(OMP_NUM_THREADS=str(spec.threads), MKL_NUM_THREADS=str(spec.threads))
    if spec.device == "cpu":  # every contender on the CPU, also on a machine with a GPU
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


class ContenderFailed(RuntimeError):
    """A contender process exited non-zero; the message ends with its log's tail."""


def run_process(command: list[str], log: Path, env: dict[str, str],
                timeout: float | None = None) -> float:
    """Run a contender; its peak RSS in MB (with its own children). Raises ContenderFailed
    with its log's tail when it fails or outlives `timeout` seconds (then it is killed)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    killed = threading.Event()

    def kill(process: subprocess.Popen) -> None:
        killed.set()
        with contextlib.suppress(ProcessLookupError):  # its own session: a launcher's children too
            os.killpg(process.pid, signal.SIGKILL)

    with log.open("w", encoding="utf-8") as handle:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        timer = threading.Timer(timeout, kill, (process,)) if timeout else None
        if timer is not None:
            timer.start()
        _, status, usage = os.wait4(process.pid, 0)
        if timer is not None:
            timer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    if killed.is_set():
        raise ContenderFailed(f"{' '.join(command[:4])} ran past its {timeout:.0f} s budget "
                              f"and was killed; log {log}")
    if process.returncode != 0:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:])
        raise ContenderFailed(f"{' '.join(command[:4])} failed ({process.returncode}); "
                              f"log {log}:\n{tail}")
    peak = usage.ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def ours_config(spec: Spec, output_dir: Path, name: str, training: dict | None = None,
                evaluation: dict | None = None) -> Path:
    """The toolkit run on the from-scratch BART; `training` overrides training.*,
    `evaluation` adds validation with generation."""
    sections: dict = {"training": {"logging_steps": spec.logging_steps, **(training or {})}}
    if evaluation:
        sections["data"] = {"validation_path": split_path(spec, "validation"),
                            "max_eval_samples": evaluation["samples"]}
        sections["training"].update(eval_strategy="steps", eval_steps=evaluation["every"],
                                     per_device_eval_batch_size=evaluation["samples"])
        sections["generation"] = {"num_beams": evaluation["num_beams"],
                                  "max_new_tokens": evaluation["max_new_tokens"]}
    return toolkit_config(spec, name, output_dir, split_path(spec, "train"),
                          str(features_dir(spec, "heldout")),
                          model={"architecture": "bart", "preset": spec.preset},
                          tokenizer={"path": str(tokenizer_dir(spec))}, **sections)


def contender(spec: Spec, kind: str, log: Path, model: str | None = None,
              timeout: float | None = None, spec_file: Path | None = None) -> dict:
    """A `benchmarks/contenders.py` run: its JSON figures plus peak_rss_mb."""
    out = log.with_suffix(".json")
    command = [sys.executable, "-m", "benchmarks.contenders", kind, "--spec",
               str(spec_file or spec.path / "spec.json"), "--out", str(out)]
    rss = run_process([*command, *(["--model", model] if model else [])], log,
                      environment(spec), timeout)
    return {**json.loads(out.read_text(encoding="utf-8")), "peak_rss_mb": rss}


def read_records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in
            (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines() if line]


def newest_run(output: Path) -> Path:
    return max((p for p in output.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)


def run_ours(spec: Spec, round_index: int, steps: list[list[tuple[int, int]]],
             name: str = "ours", root: Path = ROOT, training: dict | None = None,
             launcher: list[str] | None = None, timeout: float | None = None,
             evaluation: dict | None = None) -> tuple[dict, Path]:
    """`root`/toolkit/train.py in a subprocess (under `launcher` if given); figures from its
    metrics.jsonl, the target tokens and length pairs of its timed steps from `steps`."""
    output = spec.path / f"{name}-runs" / f"round{round_index}"
    config = ours_config(spec, output, name, training, evaluation)
    log = spec.path / "logs" / f"round{round_index}-{name}.log"
    rss = run_process([*(launcher or [sys.executable]), str(root / "toolkit" / "train.py"),
                       "--config", str(config)], log, environment(spec, root), timeout)
    run_dir = newest_run(output)
    records = read_records(run_dir)
    bench = next(r for r in records if "bench/steps" in r)
    losses = [r["train/loss"] for r in records if "train/loss" in r]
    held = next(r for r in records if "bench/heldout_loss" in r)
    first = bench["bench/first_step"]
    pairs = [pair for step in steps[first:first + bench["bench/steps"]] for pair in step]
    return ({"loop_seconds": bench["bench/loop_seconds"],
             "loop_cpu_seconds": bench["bench/loop_cpu_seconds"], "samples": bench["bench/samples"],
             "steps": bench["bench/steps"],
             "stopped_by_deadline": bench["bench/stopped_by_deadline"],
             "rss_mb_before_loop": bench["bench/rss_mb_before_loop"],
             "rss_mb_after_loop": bench["bench/rss_mb_after_loop"],
             "peak_memory_mb": bench["bench/peak_memory_mb"],
             "target_tokens": sum(t for _, t in pairs), "pairs": pairs,
             "train_loss": losses[-1] if losses else None,
             "heldout_loss": held["bench/heldout_loss"], "peak_rss_mb": rss,
             "eval": [r for r in records if any(k.startswith("eval/") for k in r)]},
            run_dir)


def with_rates(result: dict) -> dict:
    """Throughput per wall second, and per CPU second (steadier on a shared machine); None
    where nothing was timed."""
    if "loop_seconds" in result:
        seconds, cpu = result["loop_seconds"], result.get("loop_cpu_seconds")
        result["samples_per_s"] = result["samples"] / seconds if seconds else None
        result["samples_per_cpu_s"] = result["samples"] / cpu if cpu else None
        result["target_tokens_per_s"] = result["target_tokens"] / seconds if seconds else None
    else:
        result["dialogues_per_s"] = result["dialogues"] / result["seconds"]
        result["dialogues_per_cpu_s"] = result["dialogues"] / result["cpu_seconds"]
    return result


def describe(name: str, result: dict) -> str:
    if "samples_per_s" in result:
        return (f"{LABELS[name]}: {result['samples_per_s']:.2f} samples/s, "
                f"{result['target_tokens_per_s']:.0f} target tok/s, loss "
                f"{result['train_loss']:.4f}, held-out {result['heldout_loss']:.4f}, "
                f"RSS {result['peak_rss_mb']:.0f} MB")
    return (f"{LABELS[name]}: {result['dialogues_per_s']:.2f} dialogues/s "
            f"({result['seconds']:.1f} s), ROUGE-L {100 * result['rouge']['rougeL_f1']:.2f}, "
            f"RSS {result['peak_rss_mb']:.0f} MB")


def _ratio(rounds: list[dict[str, dict]], peer: str, key: str, ours: str | None = None
           ) -> float:
    ours = ours or ("ours" if peer in TRAIN_CONTENDERS else "predict_ours")
    return median([r[ours][key] / r[peer][key] for r in rounds
                   if r[ours].get(key) and r[peer].get(key)])


def rotated(names: list[str], round_index: int) -> list[str]:
    """The contenders in a different order each round: the first process of a round runs
    fastest on a shared VM, so each contender takes every place in turn."""
    shift = (round_index - 1) % len(names)
    return names[shift:] + names[:shift]


def summarise(rounds: list[dict[str, dict]]) -> dict[str, dict]:
    """Medians over rounds per contender, and each peer's median per-round ratio ours/peer
    per target token (the headline), per sample and per CPU second."""
    summary: dict[str, dict] = {}
    trained = [*TRAIN_CONTENDERS, *([CANDIDATE] if CANDIDATE in rounds[0] else [])]
    for name in trained:
        summary[name] = {key: median([r[name][key] for r in rounds]) for key in
                         ("samples_per_s", "samples_per_cpu_s", "target_tokens_per_s",
                          "train_loss", "heldout_loss", "peak_rss_mb")}
    for peer in (*PEERS, *([CANDIDATE] if CANDIDATE in summary else [])):
        base = "ours"
        for key, rate in (("token_ratio", "target_tokens_per_s"), ("ratio", "samples_per_s"),
                          ("cpu_ratio", "samples_per_cpu_s")):
            value = _ratio(rounds, peer, rate, base)
            # the candidate's row holds candidate/ours, the peers' rows ours/peer
            summary[peer][key] = 1 / value if peer == CANDIDATE and value else value
    if CANDIDATE in summary:
        summary[CANDIDATE]["vs_peers"] = {peer: _ratio(rounds, peer, "target_tokens_per_s",
                                                       CANDIDATE) for peer in PEERS}
    for name in PREDICT_CONTENDERS:
        summary[name] = {key: median([r[name][key] for r in rounds]) for key in
                         ("dialogues_per_s", "dialogues_per_cpu_s", "seconds", "peak_rss_mb")}
        summary[name]["rouge"] = rounds[0][name]["rouge"]  # deterministic: equal every round
    summary["predict_trainer"]["ratio"] = _ratio(rounds, "predict_trainer", "dialogues_per_s")
    summary["predict_trainer"]["cpu_ratio"] = _ratio(rounds, "predict_trainer",
                                                     "dialogues_per_cpu_s")
    ours, peer = rounds[0]["predict_ours"]["predictions"], rounds[0]["predict_trainer"][
        "predictions"]
    summary["predict_ours"]["identical_to_trainer"] = sum(a == b for a, b in zip(ours, peer))
    return summary


LORA_CONTENDERS = ("lora_ours", "lora_sft", "full_ours")


def run_lora(spec: Spec, lspec, name: str, round_index: int, timeout: float | None = None
             ) -> dict:
    """One LoRA contender: the toolkit (LoRA, QLoRA or full fine-tuning) or TRL's SFTTrainer
    (`sft_lora`, `sft_qlora`); `name` is `<method>_ours` or `<method>_sft`."""
    from benchmarks.lora import lora_config, ours_figures

    method, who = name.rsplit("_", 1)
    log = spec.path / "logs" / f"round{round_index}-{name}.log"
    if who == "sft":
        return contender(spec, f"sft_{method}", log, timeout=timeout,
                         spec_file=lspec.save())
    output = spec.path / f"{name}-runs" / f"round{round_index}"
    config = lora_config(lspec, method, output, name)
    rss = run_process([sys.executable, str(ROOT / "toolkit" / "train.py"), "--config",
                       str(config)], log, environment(spec), timeout)
    return {**ours_figures(newest_run(output)), "peak_rss_mb": rss}


def lora_table(results: dict[str, dict]) -> str:
    """LoRA contenders: throughput, memory, trainable parameters, held-out loss."""
    head = (f"{'LoRA contender':<30}{'samples/s':>10}{'tgt tok/s':>10}{'peak mem MB':>12}"
            f"{'peak RSS MB':>12}{'trainable':>12}{'heldout':>9}{'ours/peer':>10}")
    lines = [head, "-" * len(head)]
    for name, r in results.items():
        if "skipped" in r:
            lines.append(f"{LORA_LABELS.get(name, name):<30} skipped: {r['skipped']}")
            continue
        ratio = r.get("ratio")
        lines.append(f"{LORA_LABELS.get(name, name):<30}{cell(r.get('samples_per_s'), 2):>10}"
                     f"{cell(r.get('target_tokens_per_s'), 0):>10}"
                     f"{cell(r.get('peak_memory_mb'), 0):>12}{cell(r.get('peak_rss_mb'), 0):>12}"
                     f"{r.get('trainable_parameters', 0):>12,}{cell(r.get('heldout_loss'), 4):>9}"
                     f"{cell(ratio, 2) if ratio else '':>10}")
    return "\n".join(lines)


LORA_LABELS = {"lora_ours": "toolkit LoRA", "lora_sft": "TRL SFTTrainer LoRA",
               "qlora_ours": "toolkit QLoRA", "qlora_sft": "TRL SFTTrainer QLoRA",
               "full_ours": "toolkit full fine-tuning"}


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="20 steps, batch 16, 32 predictions, 1 round: a few minutes.")
    parser.add_argument("--rounds", type=int, default=None, help="Rounds (default 3; quick 1).")
    parser.add_argument("--steps", type=int, default=None, help="Optimizer steps per contender.")
    parser.add_argument("--batch-size", type=int, default=None, help="Global train batch.")
    parser.add_argument("--predict-n", type=int, default=None, help="Test dialogues predicted.")
    parser.add_argument("--data", default=None,
                        help="DialogSum folder (default ../shared/data/dialogsum), or embedded.")
    parser.add_argument("--predict-model", default=None,
                        help="Model dir to predict with (default: ours from round 1).")
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "toolkit-bench"),
                        help="Scratch folder (tokenizer, features, runs, logs).")
    parser.add_argument("--candidate", default=None,
                        help="A modified copy of the repository (a folder holding toolkit/): "
                             "its loop also runs every round, right after ours.")
    parser.add_argument("--threads", type=int, default=None,
                        help="Intra-op threads per contender (OMP_NUM_THREADS); 1 is faster "
                             "and steadier on a machine other jobs share. Default: torch's.")
    parser.add_argument("--no-lora", action="store_true",
                        help="Leave out the LoRA comparison (toolkit vs TRL's SFTTrainer).")
    parser.add_argument("--lora-steps", type=int, default=50,
                        help="Optimizer steps of each LoRA contender. 50 x 8 samples is one "
                             "whole megabatch of the Trainer's length-grouped sampler, which "
                             "serves each megabatch longest first: fewer steps would give "
                             "SFTTrainer only the longest examples.")
    parser.add_argument("--json", default=None, help="Write every figure to this JSON file.")
    return parser


def lora_spec(spec: Spec, steps: int) -> LoraSpec:
    """The CPU LoRA comparison: the tiny Llama-style model, fp32, micro-batch 8."""
    return LoraSpec(work=spec.work, data=spec.data, steps=steps, heldout=spec.heldout,
                    embedded_train_size=spec.embedded_train_size, seed=spec.seed)


def lora_rounds(spec: Spec, lspec: LoraSpec, rounds_wanted: int) -> dict[str, dict]:
    """Medians over rounds of the LoRA contenders (rotated), and ours/SFTTrainer per sample."""
    reason = unsupported("lora")
    if reason:
        return {name: {"skipped": reason} for name in LORA_CONTENDERS}
    prepare_lora(lspec)
    rounds = []
    for index in range(1, rounds_wanted + 1):
        results = {}
        for name in rotated(list(LORA_CONTENDERS), index):
            results[name] = with_rates(run_lora(spec, lspec, name, index))
            print(f"round {index} {LORA_LABELS[name]}: {results[name]['samples_per_s']:.2f} "
                  f"samples/s, held-out {results[name]['heldout_loss']:.4f}", flush=True)
        rounds.append(results)
    summary = {name: {key: median([r[name][key] for r in rounds]) for key in
                      ("samples_per_s", "target_tokens_per_s", "peak_memory_mb", "peak_rss_mb",
                       "heldout_loss", "trainable_parameters")} for name in LORA_CONTENDERS}
    for name in summary:
        summary[name]["trainable_parameters"] = int(summary[name]["trainable_parameters"])
    summary["lora_sft"]["ratio"] = _ratio(rounds, "lora_sft", "samples_per_s", "lora_ours")
    return summary


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    preset = QUICK if args.quick else FULL
    rounds_wanted = args.rounds or preset["rounds"]
    spec = Spec(work=str(Path(args.work).resolve()), data=resolve_data(args.data),
                steps=args.steps or preset["steps"],
                batch_size=args.batch_size or preset["batch_size"],
                predict_n=args.predict_n or preset["predict_n"], heldout=preset["heldout"],
                threads=args.threads)
    if spec.steps < spec.logging_steps:
        spec.logging_steps = spec.steps
    spec.save()
    data_name = "embedded corpus" if spec.data == EMBEDDED else spec.data
    print(f"data: {data_name}; {spec.steps} steps x batch {spec.batch_size}, lr "
          f"{spec.learning_rate}, fp32, max lengths {spec.max_source_length}/"
          f"{spec.max_target_length}; predict {spec.predict_n} dialogues, {spec.num_beams} "
          f"beams, {spec.max_new_tokens} new tokens, batch {spec.predict_batch_size}; "
          f"{rounds_wanted} round(s), contenders rotated each round; threads "
          f"{spec.threads or 'default'}", flush=True)
    started = time.perf_counter()
    prepare(spec)
    steps = ours_steps(spec, load_features(spec, "train"))
    print(f"setup (tokenizer, features): {time.perf_counter() - started:.0f} s", flush=True)

    rounds: list[dict[str, dict]] = []
    predict_model = args.predict_model
    for index in range(1, rounds_wanted + 1):
        results: dict[str, dict] = {}
        names = ["ours", *([CANDIDATE] if args.candidate else []), *PEERS]
        for name in rotated(names, index):
            if name == "ours":
                results[name], run_dir = run_ours(spec, index, steps)
                predict_model = predict_model or str(run_dir / "final")
            elif name == CANDIDATE:
                results[name], _ = run_ours(spec, index, steps, CANDIDATE,
                                            Path(args.candidate).resolve())
            else:
                log = spec.path / "logs" / f"round{index}-{name}.log"
                results[name] = contender(spec, name, log)
            print(f"round {index} {describe(name, with_rates(results[name]))}", flush=True)
        for name in rotated(list(PREDICT_CONTENDERS), index):
            results[name] = with_rates(contender(
                spec, name, spec.path / "logs" / f"round{index}-{name}.log", predict_model))
            print(f"round {index} {describe(name, results[name])}", flush=True)
        for name in results:
            results[name].pop("pairs", None)
        rounds.append(results)
    lora = {} if args.no_lora else lora_rounds(spec, lora_spec(spec, args.lora_steps),
                                               rounds_wanted)

    summary = summarise(rounds)
    print(f"\nmedians over {len(rounds)} round(s); ratios are medians of per-round ours/peer "
          f"(train: target tokens/s, then samples/s and samples per CPU second; predict: "
          f"dialogues/s); model for prediction: {predict_model}")
    print(train_table(summary))
    if CANDIDATE in summary:
        print("candidate/peer per target token: " + ", ".join(
            f"{LABELS[p]} {v:.2f}" for p, v in summary[CANDIDATE]["vs_peers"].items()))
    print()
    print(predict_table(summary))
    print(f"identical predictions: {summary['predict_ours']['identical_to_trainer']}/"
          f"{spec.predict_n}; total {time.perf_counter() - started:.0f} s; peak RSS of the "
          f"harness itself {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    if lora:
        print()
        print(lora_table(lora))
    if args.json:
        Path(args.json).write_text(json.dumps({"spec": asdict(spec), "rounds": rounds,
                                               "summary": summary, "lora": lora}, indent=2),
                                   encoding="utf-8")
    lora_ratio = lora.get("lora_sft", {}).get("ratio")
    print(ratio_line(summary["trainer"]["token_ratio"], summary["trainer_grouped"]["token_ratio"],
                     summary["predict_trainer"]["ratio"], lora_ratio))
    return 0


if __name__ == "__main__":
    sys.exit(main())
