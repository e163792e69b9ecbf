"""Built-in subscribers: progress bar, log file, metrics history and curves, early stopping,
NaN/inf guard."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

from tqdm.auto import tqdm

from toolkit.events.bus import LOGGER, Callback, RunContext, StopTraining
from toolkit.state import TrainState

logger = logging.getLogger("toolkit")


class ProgressBar(Callback):
    """A tqdm bar over optimizer steps with the latest loss (main process)."""

    def __init__(self) -> None:
        self.bar: tqdm | None = None

    def on_train_begin(self, state: TrainState, run: RunContext) -> None:
        self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc="Training",
                        dynamic_ncols=True)

    def on_step_end(self, state: TrainState, lr: float) -> None:
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, state: TrainState, metrics: dict[str, float]) -> None:
        if self.bar is not None and "train/loss" in metrics:
            self.bar.set_postfix(loss=f"{metrics['train/loss']:.4f}", refresh=False)

    def on_evaluate(self, state: TrainState, metrics: dict[str, float],
                    samples: list[dict[str, str]]) -> None:
        shown = {k.split("/")[-1]: round(v, 4) for k, v in metrics.items() if "rouge" in k}
        line = ", ".join(f"{k}={v}" for k, v in shown.items())
        (self.bar.write if self.bar is not None else print)(f"step {state.global_step}: {line}")

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def on_train_end(self, state: TrainState, result) -> None:
        self._close()

    def on_exception(self, state: TrainState, error: BaseException) -> None:
        self._close()


class LogFile(Callback):
    """Writes the toolkit's log records, tracebacks included, to <run dir>/train.log."""

    order = LOGGER

    def __init__(self) -> None:
        self.handler: logging.Handler | None = None

    def on_train_begin(self, state: TrainState, run: RunContext) -> None:
        self.handler = logging.FileHandler(run.run_dir / "train.log", encoding="utf-8")
        self.handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: "
                                                    "%(message)s"))
        self.handler.setLevel(logging.DEBUG)
        logging.getLogger("toolkit").addHandler(self.handler)
        logger.info("run %s, step %d, resumed=%s", run.run_dir.name, state.global_step,
                    run.resumed)

    def on_log(self, state: TrainState, metrics: dict[str, float]) -> None:
        logger.debug("step %d %s", state.global_step, json.dumps(metrics))

    def on_evaluate(self, state: TrainState, metrics: dict[str, float],
                    samples: list[dict[str, str]]) -> None:
        logger.info("step %d eval %s", state.global_step, json.dumps(metrics))

    def _detach(self) -> None:
        if self.handler is not None:
            logging.getLogger("toolkit").removeHandler(self.handler)
            self.handler.close()
            self.handler = None

    def on_train_end(self, state: TrainState, result) -> None:
        logger.info("finished: %s at step %d", result.status, state.global_step)
        self._detach()

    def on_exception(self, state: TrainState, error: BaseException) -> None:
        logger.error("run failed at step %d", state.global_step, exc_info=error)
        self._detach()


class MetricsHistory(Callback):
    """Appends every logged metric to metrics.jsonl and draws curves.png at the end.

    On resume, records after the checkpoint's step are dropped first, so the history reads as
    one uninterrupted run.
    """

    order = LOGGER

    def __init__(self, draw_curves: bool = True) -> None:
        self.draw_curves = draw_curves
        self.path: Path | None = None

    def on_train_begin(self, state: TrainState, run: RunContext) -> None:
        self.path = run.run_dir / "metrics.jsonl"
        if run.resumed and self.path.exists():
            kept = [line for line in self.path.read_text(encoding="utf-8").splitlines()
                    if line.strip() and json.loads(line)["step"] <= state.global_step]
            self.path.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")

    def _append(self, step: int, metrics: dict[str, float]) -> None:
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"step": step, **metrics}) + "\n")

    def on_log(self, state: TrainState, metrics: dict[str, float]) -> None:
        self._append(state.global_step, metrics)

    def on_evaluate(self, state: TrainState, metrics: dict[str, float],
                    samples: list[dict[str, str]]) -> None:
        self._append(state.global_step, metrics)

    def on_train_end(self, state: TrainState, result) -> None:
        if self.draw_curves and self.path is not None and self.path.exists():
            draw_curves(self.path, self.path.with_name("curves.png"))


def read_history(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def draw_curves(history: Path, output: Path) -> None:
    """Loss, learning rate and ROUGE against the step, one panel each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_history(history)
    panels = [("loss", ["train/loss", "eval/loss"]), ("learning rate", ["train/learning_rate"]),
              ("ROUGE F1", ["eval/rouge1_f1", "eval/rouge2_f1", "eval/rougeL_f1",
                            "eval/rouge_combined_f1"])]
    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.5))
    for axis, (title, keys) in zip(axes, panels):
        for key in keys:
            points = [(r["step"], r[key]) for r in records if key in r]
            if points:
                axis.plot(*zip(*points), marker="." if len(points) < 30 else None, label=key)
        axis.set_title(title)
        axis.set_xlabel("step")
        if axis.lines:
            axis.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(output, dpi=100)
    plt.close(figure)


class EarlyStopping(Callback):
    """Stops after `patience` evaluations without improvement of the best-model metric.

    Runs on every process: the counter lives in the shared TrainState, so all ranks decide alike.
    """

    critical = True
    main_process_only = False

    def __init__(self, patience: int = 3) -> None:
        if patience < 1:
            raise ValueError("early_stopping patience must be >= 1")
        self.patience = patience

    def on_evaluate(self, state: TrainState, metrics: dict[str, float],
                    samples: list[dict[str, str]]) -> None:
        if state.evals_since_improvement >= self.patience:
            raise StopTraining(f"no improvement in {self.patience} evaluations "
                               f"(best {state.best_metric} at step {state.best_step})")


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite."""


class NanGuard(Callback):
    """Fails the run with a clear message when the logged loss is NaN or infinite."""

    critical = True
    main_process_only = False

    def on_log(self, state: TrainState, metrics: dict[str, float]) -> None:
        loss = metrics.get("train/loss")
        if loss is not None and not math.isfinite(loss):
            raise NonFiniteLossError(
                f"the training loss is {loss} at step {state.global_step}; lower "
                f"training.learning_rate, keep training.max_grad_norm > 0, or use "
                f"training.mixed_precision=bf16 instead of fp16")
