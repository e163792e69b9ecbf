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
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml  # noqa: E402

from benchmarks.common import (  # noqa: E402
    CANDIDATE,
    EMBEDDED,
    LABELS,
    PEERS,
    PREDICT_CONTENDERS,
    ROOT,
    TRAIN_CONTENDERS,
    Spec,
    features_dir,
    load_features,
    median,
    ours_target_tokens,
    predict_table,
    prepare,
    ratio_line,
    resolve_data,
    split_path,
    tokenizer_dir,
    train_table,
)

QUICK = {"steps": 20, "batch_size": 16, "predict_n": 32, "heldout": 32, "rounds": 1}
FULL = {"steps": 60, "batch_size": 16, "predict_n": 128, "heldout": 128, "rounds": 3}


def environment(spec: Spec, toolkit_root: Path = ROOT) -> dict[str, str]:
    """Contender environment: the toolkit from `toolkit_root`, the benchmarks from ROOT."""
    path = os.pathsep.join(dict.fromkeys([str(toolkit_root), str(ROOT)]))
    env = dict(os.environ, PYTHONPATH=path, TOKENIZERS_PARALLELISM="false",
               WANDB_MODE="disabled", HF_HUB_OFFLINE="1", TRANSFORMERS_NO_ADVISORY_WARNINGS="1")
    if spec.threads:
        env.update(OMP_NUM_THREADS=str(spec.threads), MKL_NUM_THREADS=str(spec.threads))
    return env


def run_process(command: list[str], log: Path, env: dict[str, str]) -> float:
    """Run a contender; its peak RSS in MB (with its own children). Fails loudly with its log."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as handle:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle,
                                   stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:])
        raise SystemExit(f"{' '.join(command[:4])} failed ({process.returncode}); "
                         f"log {log}:\n{tail}")
    peak = usage.ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def ours_config(spec: Spec, output_dir: Path, name: str) -> Path:
    """The toolkit run: eval and tracking off, only the performance/metrics/timer callbacks."""
    config = {
        "general": {"seed": spec.seed, "output_dir": str(output_dir), "log_level": "warning"},
        "meta": {"experiment_name": "bench_ours"},
        "model": {"architecture": "bart", "preset": "small"},
        "tokenizer": {"path": str(tokenizer_dir(spec)),
                      "max_source_length": spec.max_source_length,
                      "max_target_length": spec.max_target_length},
        "data": {"train_path": split_path(spec, "train"), "validation_path": None,
                 "cache_dir": str(spec.path / "cache"),
                 "embedded_train_size": spec.embedded_train_size},
        "training": {"max_steps": spec.steps, "per_device_train_batch_size": spec.batch_size,
                     "learning_rate": spec.learning_rate, "weight_decay": 0.0,
                     "warmup_ratio": 0.0, "lr_scheduler_type": "linear", "max_grad_norm": 1.0,
                     "mixed_precision": "no", "logging_steps": spec.logging_steps,
                     "eval_strategy": "no"},
        "tracking": {"enabled": False},
        "callbacks": ["performance", {"name": "metrics_history", "draw_curves": False},
                      {"name": "benchmarks.timing:LoopTimer",
                       "heldout": str(features_dir(spec, "heldout"))}],
    }
    path = spec.path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def contender(spec: Spec, kind: str, log: Path, model: str | None = None) -> dict:
    """A `benchmarks/contenders.py` run: its JSON figures plus peak_rss_mb."""
    out = log.with_suffix(".json")
    command = [sys.executable, "-m", "benchmarks.contenders", kind, "--spec",
               str(spec.path / "spec.json"), "--out", str(out)]
    rss = run_process([*command, *(["--model", model] if model else [])], log,
                      environment(spec))
    return {**json.loads(out.read_text(encoding="utf-8")), "peak_rss_mb": rss}


def run_ours(spec: Spec, round_index: int, target_tokens: int, name: str = "ours",
             root: Path = ROOT) -> tuple[dict, Path]:
    """`root`/toolkit/train.py in a subprocess; figures from its metrics.jsonl; its final/."""
    output = spec.path / f"{name}-runs" / f"round{round_index}"
    config = ours_config(spec, output, name)
    log = spec.path / "logs" / f"round{round_index}-{name}.log"
    rss = run_process([sys.executable, str(root / "toolkit" / "train.py"), "--config",
                       str(config)], log, environment(spec, root))
    run_dir = max(output.iterdir(), key=lambda p: p.stat().st_mtime)
    records = [json.loads(line) for line in
               (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines() if line]
    bench = next(r for r in records if "bench/loop_seconds" in r)
    losses = [r["train/loss"] for r in records if "train/loss" in r]
    perf = [r["perf/samples_per_s"] for r in records if "perf/samples_per_s" in r]
    held = next(r for r in records if "bench/heldout_loss" in r)
    return ({"loop_seconds": bench["bench/loop_seconds"],
             "loop_cpu_seconds": bench["bench/loop_cpu_seconds"], "samples": bench["bench/samples"],
             "rss_mb_before_loop": bench["bench/rss_mb_before_loop"],
             "rss_mb_after_loop": bench["bench/rss_mb_after_loop"],
             "target_tokens": target_tokens, "train_loss": losses[-1],
             "heldout_loss": held["bench/heldout_loss"], "peak_rss_mb": rss,
             "perf_samples_per_s_mean": sum(perf) / len(perf) if perf else None},
            run_dir / "final")


def with_rates(result: dict) -> dict:
    """Throughput per wall second, and per CPU second (steadier on a shared machine)."""
    if "loop_seconds" in result:
        result["samples_per_s"] = result["samples"] / result["loop_seconds"]
        result["samples_per_cpu_s"] = result["samples"] / result["loop_cpu_seconds"]
        result["target_tokens_per_s"] = result["target_tokens"] / result["loop_seconds"]
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


def _ratio(rounds: list[dict[str, dict]], peer: str, key: str) -> float:
    ours = "ours" if peer in TRAIN_CONTENDERS else "predict_ours"
    return median([r[ours][key] / r[peer][key] for r in rounds])


def summarise(rounds: list[dict[str, dict]]) -> dict[str, dict]:
    """Medians over rounds per contender, and each peer's median per-round ratio ours/peer."""
    summary: dict[str, dict] = {}
    trained = [*TRAIN_CONTENDERS, *([CANDIDATE] if CANDIDATE in rounds[0] else [])]
    for name in trained:
        summary[name] = {key: median([r[name][key] for r in rounds]) for key in
                         ("samples_per_s", "samples_per_cpu_s", "target_tokens_per_s",
                          "train_loss", "heldout_loss", "peak_rss_mb")}
    for peer in PEERS:
        summary[peer]["ratio"] = _ratio(rounds, peer, "samples_per_s")
        summary[peer]["cpu_ratio"] = _ratio(rounds, peer, "samples_per_cpu_s")
    if CANDIDATE in summary:
        for key, rate in (("ratio", "samples_per_s"), ("cpu_ratio", "samples_per_cpu_s")):
            summary[CANDIDATE][key] = median([r[CANDIDATE][rate] / r["ours"][rate]
                                              for r in rounds])
        summary[CANDIDATE]["vs_peers"] = {peer: median(
            [r[CANDIDATE]["samples_per_s"] / r[peer]["samples_per_s"] for r in rounds])
            for peer in PEERS}
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
    parser.add_argument("--json", default=None, help="Write every figure to this JSON file.")
    return parser


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
          f"{rounds_wanted} round(s); threads {spec.threads or 'default'}", flush=True)
    started = time.perf_counter()
    prepare(spec)
    target_tokens = ours_target_tokens(spec, load_features(spec, "train"))
    print(f"setup (tokenizer, features): {time.perf_counter() - started:.0f} s", flush=True)

    rounds: list[dict[str, dict]] = []
    predict_model = args.predict_model
    for index in range(1, rounds_wanted + 1):
        results: dict[str, dict] = {}
        names = ["ours", *([CANDIDATE] if args.candidate else []), *PEERS]
        for name in names:
            if name == "ours":
                results[name], final = run_ours(spec, index, target_tokens)
                predict_model = predict_model or str(final)
            elif name == CANDIDATE:
                results[name], _ = run_ours(spec, index, target_tokens, CANDIDATE,
                                            Path(args.candidate).resolve())
            else:
                log = spec.path / "logs" / f"round{index}-{name}.log"
                results[name] = contender(spec, name, log)
            print(f"round {index} {describe(name, with_rates(results[name]))}", flush=True)
        for name in PREDICT_CONTENDERS:
            results[name] = with_rates(contender(
                spec, name, spec.path / "logs" / f"round{index}-{name}.log", predict_model))
            print(f"round {index} {describe(name, results[name])}", flush=True)
        rounds.append(results)

    summary = summarise(rounds)
    print(f"\nmedians over {len(rounds)} round(s); ratios are medians of per-round ours/peer "
          f"(train: samples/s, predict: dialogues/s); model for prediction: {predict_model}")
    print(train_table(summary))
    if CANDIDATE in summary:
        print("candidate/peer: " + ", ".join(f"{LABELS[p]} {v:.2f}" for p, v in
                                           summary[CANDIDATE]["vs_peers"].items()))
    print()
    print(predict_table(summary))
    print(f"identical predictions: {summary['predict_ours']['identical_to_trainer']}/"
          f"{spec.predict_n}; total {time.perf_counter() - started:.0f} s; peak RSS of the "
          f"harness itself {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    if args.json:
        Path(args.json).write_text(json.dumps({"spec": asdict(spec), "rounds": rounds,
                                               "summary": summary}, indent=2), encoding="utf-8")
    print(ratio_line(summary["trainer"]["ratio"], summary["trainer_grouped"]["ratio"],
                     summary["predict_trainer"]["ratio"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
