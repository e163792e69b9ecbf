"""ExperimentTracker: the record of every run (config, environment, status, metrics)."""

from __future__ import annotations

import math
import numbers
import os
import socket
import sqlite3
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

from toolkit.config import loader
from toolkit.tracking import db
from toolkit.tracking.db import DEFAULT_DB_PATH, Database, NotFoundError, TrackingError
from toolkit.versions import library_versions

STATUSES = ("created", "running", "completed", "failed", "interrupted")
OPEN = ("created", "running", "interrupted")  # a status change must start from one of these
ALIASES = {"in_progress": "running"}  # the seed's name for a running experiment
STALE_AFTER = timedelta(minutes=10)
JSON_FIELDS = (
    "config", "dataset_info", "model_info", "library_versions", "tags", "final_metrics",
    "best_metrics",
)
OPEN_SQL = ", ".join(f"'{status}'" for status in OPEN)


class ExperimentTracker:
    """Experiments in the tracking database; ``current_experiment_id`` is the last one started
    or resumed here, the default of :meth:`log_metrics`."""

    def __init__(self, db_path: str | Path = DEFAULT_DB_PATH):
        self.db = Database(db_path)
        self.current_experiment_id: str | None = None

    # --- writing --------------------------------------------------------------------------

    def start_experiment(
        self,
        name: str,
        description: str = "",
        config: dict[str, Any] | None = None,
        model_type: str | None = None,
        dataset_info: dict[str, Any] | None = None,
        model_info: dict[str, Any] | None = None,
        wandb_run_id: str | None = None,
        tags: list[str] | None = None,
        run_dir: str | Path | None = None,
        config_hash: str | None = None,
    ) -> str:
        """Record a new running experiment with its environment; return its id.

        ``model_info``: the model as trained (parameter counts, dtype, precision, adapter).
        """
        moment = db.now()
        row = {
            "name": name, "description": description, "status": "running",
            "start_time": db.iso(moment), "heartbeat": db.iso(moment),
            "config": db.dumps(config), "config_hash": config_hash or loader.config_hash(config or {}),
            "model_type": model_type, "dataset_info": db.dumps(dataset_info),
            "model_info": db.dumps(model_info),
            "wandb_run_id": wandb_run_id, "git_commit": git_commit(),
            "library_versions": db.dumps(library_versions()), "host": socket.gethostname(),
            "pid": os.getpid(), "tags": db.dumps(tags),
            "run_dir": None if run_dir is None else str(run_dir),
        }

        def insert(conn: sqlite3.Connection) -> str:
            values = {"id": db.next_id(conn, "experiments", "exp", moment), **row}
            conn.execute(
                f"INSERT INTO experiments ({', '.join(values)}) "
                f"VALUES ({', '.join('?' * len(values))})",
                tuple(values.values()),
            )
            return values["id"]

        self.current_experiment_id = self.db.write(insert)
        return self.current_experiment_id

    def resume_experiment(self, experiment_id: str) -> None:
        """Set a finished or interrupted experiment running again, owned by this process."""
        moment = db.iso(db.now())
        self._update(
            experiment_id,
            "UPDATE experiments SET status = 'running', end_time = NULL, heartbeat = ?, "
            "pid = ?, host = ? WHERE id = ?",
            (moment, os.getpid(), socket.gethostname(), experiment_id),
        )
        self.current_experiment_id = experiment_id

    def update_experiment_status(
        self, experiment_id: str, status: str, notes: str | None = None
    ) -> None:
        """Change the status unless the experiment is finished (compare-and-set)."""
        status = normalize_status(status)
        if status == "created":
            raise TrackingError("An experiment cannot be set back to 'created'.")
        moment = db.iso(db.now())
        end_time = None if status == "running" else moment
        self._set_status(
            experiment_id, status,
            "status = ?, end_time = ?, heartbeat = ?, notes = COALESCE(?, notes)",
            (status, end_time, moment, notes),
        )

    def end_experiment(
        self,
        experiment_id: str,
        final_metrics: dict[str, Any] | None = None,
        best_metrics: dict[str, Any] | None = None,
        status: str = "completed",
    ) -> None:
        """Finish an experiment with its final and best metrics."""
        status = normalize_status(status)
        if status not in ("completed", "failed", "interrupted"):
            raise TrackingError(
                f"end_experiment takes status completed, failed or interrupted, not {status!r}."
            )
        self._set_status(
            experiment_id, status,
            "status = ?, end_time = ?, final_metrics = ?, best_metrics = ?",
            (status, db.iso(db.now()), db.dumps(final_metrics), db.dumps(best_metrics)),
        )

    def log_metrics(
        self, metrics: dict[str, Any], step: int, experiment_id: str | None = None
    ) -> int:
        """Store the numeric values of ``metrics`` at ``step`` in one transaction; return how
        many were stored (non-numbers and NaN are skipped)."""
        experiment_id = experiment_id or self.current_experiment_id
        if experiment_id is None:
            raise TrackingError(
                "log_metrics has no experiment: call start_experiment first or pass experiment_id."
            )
        points = {
            key: float(value) for key, value in metrics.items()
            if isinstance(value, numbers.Real) and not isinstance(value, bool)
            and not math.isnan(value)
        }
        when = db.iso(db.now())

        def insert(conn: sqlite3.Connection) -> int:
            self._require(conn, experiment_id)
            for key, value in points.items():
                db.record_metric(conn, experiment_id, key, int(step), value, when)
            return len(points)

        return self.db.write(insert)

    def heartbeat(self, experiment_id: str) -> None:
        """Mark the experiment as alive now."""
        self._update(
            experiment_id, "UPDATE experiments SET heartbeat = ? WHERE id = ?",
            (db.iso(db.now()), experiment_id),
        )

    def set_wandb_run_id(self, experiment_id: str, wandb_run_id: str) -> None:
        self._update(
            experiment_id, "UPDATE experiments SET wandb_run_id = ? WHERE id = ?",
            (wandb_run_id, experiment_id),
        )

    # --- reading --------------------------------------------------------------------------

    def get_experiment(self, experiment_id: str) -> dict[str, Any]:
        rows = self.db.read("SELECT * FROM experiments WHERE id = ?", (experiment_id,))
        if not rows:
            raise self._not_found(experiment_id)
        return experiment_dict(rows[0])

    def list_experiments(
        self, status: str | None = None, name: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Newest first; ``name`` matches a part of the name; the status is the shown one
        (a dead running experiment counts as interrupted)."""
        status = None if status is None else normalize_status(status)
        clauses, params = [], []
        if name is not None:
            clauses.append("instr(name, ?) > 0")
            params.append(name)
        if status is not None:
            stored = ("running", "interrupted") if status in ("running", "interrupted") else (status,)
            clauses.append(f"status IN ({', '.join('?' * len(stored))})")
            params.extend(stored)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.db.read(
            f"SELECT * FROM experiments {where} ORDER BY start_time DESC, id DESC", params
        )
        shown = (experiment_dict(row) for row in rows)
        return [e for e in shown if status is None or e["status"] == status][:limit]

    def get_metrics(self, experiment_id: str, key: str | None = None) -> list[dict[str, Any]]:
        """Logged points ``{key, step, value, time}`` by key, then step."""
        self.get_experiment(experiment_id)
        sql = "SELECT key, step, value, time FROM metrics WHERE experiment_id = ?"
        params: tuple = (experiment_id,)
        if key is not None:
            sql, params = sql + " AND key = ?", (experiment_id, key)
        return [dict(row) for row in self.db.read(sql + " ORDER BY key, step", params)]

    def get_metric_summary(self, experiment_id: str) -> dict[str, dict[str, Any]]:
        """``{key: {best, best_step, last, last_step}}`` of the logged metrics."""
        self.get_experiment(experiment_id)
        rows = self.db.read(
            "SELECT key, best, best_step, last, last_step FROM metric_summary "
            "WHERE experiment_id = ? ORDER BY key",
            (experiment_id,),
        )
        return {
            row["key"]: {field: row[field] for field in ("best", "best_step", "last", "last_step")}
            for row in rows
        }

    def best_experiment(self, metric: str, goal: str = "max") -> dict[str, Any] | None:
        """The experiment whose ``best_metrics[metric]`` is highest (goal max) or lowest."""
        if goal not in ("max", "min"):
            raise TrackingError(f"goal must be 'max' or 'min', not {goal!r}.")
        rows = self.db.read("SELECT * FROM experiments WHERE best_metrics IS NOT NULL")
        scored = [
            (e["best_metrics"][metric], e) for e in map(experiment_dict, rows)
            if isinstance(e["best_metrics"].get(metric), (int, float))
        ]
        if not scored:
            return None
        pick = max if goal == "max" else min
        return pick(scored, key=lambda pair: pair[0])[1]

    def compare_experiments(self, experiment_ids: list[str]) -> dict[str, list[Any]]:
        """``{field: [value per id]}``: identity, the model as trained (parameter counts,
        adapter), the seed's metrics, and config keys that differ."""
        experiments = [self.get_experiment(i) for i in experiment_ids]
        table = {
            field: [e[field] for e in experiments]
            for field in ("name", "status", "model_type", "start_time", "end_time")
        }
        models = union([flatten(e["model_info"] or {}) for e in experiments])
        table |= {f"model.{key}": values for key, values in models.items()}
        table |= union([seed_metrics(e) for e in experiments])
        configs = union([flatten(e["config"] or {}) for e in experiments])
        return table | {
            f"config.{key}": values for key, values in configs.items()
            if any(value != values[0] for value in values)
        }

    def export_experiment(self, experiment_id: str) -> dict[str, Any]:
        """The experiment in the usage guide's JSON structure."""
        experiment = self.get_experiment(experiment_id)
        models = self.db.read(
            "SELECT id, path FROM models WHERE experiment_id = ? ORDER BY created_time DESC, "
            "id DESC LIMIT 1",
            (experiment_id,),
        )
        model = models[0] if models else {"id": None, "path": None}
        return {
            "experiment_id": experiment["id"],
            "name": experiment["name"],
            "start_time": experiment["start_time"],
            "end_time": experiment["end_time"],
            "status": experiment["status"],
            "config": experiment["config"],
            "metrics": seed_metrics(experiment),
            "model_info": {"model_id": model["id"], "checkpoint_path": model["path"],
                           **(experiment["model_info"] or {})},
            "wandb_run_id": experiment["wandb_run_id"],
            "notes": experiment["notes"],
        }

    # --- helpers --------------------------------------------------------------------------

    def _update(self, experiment_id: str, sql: str, params: tuple) -> None:
        def update(conn: sqlite3.Connection) -> None:
            if conn.execute(sql, params).rowcount == 0:
                raise self._not_found(experiment_id)

        self.db.write(update)

    def _set_status(self, experiment_id: str, status: str, assignments: str, params: tuple) -> None:
        def update(conn: sqlite3.Connection) -> None:
            sql = f"UPDATE experiments SET {assignments} WHERE id = ? AND status IN ({OPEN_SQL})"
            if conn.execute(sql, (*params, experiment_id)).rowcount:
                return
            current = self._require(conn, experiment_id)
            raise TrackingError(
                f"Experiment {experiment_id} is {current}; its status cannot change to "
                f"{status}. Call resume_experiment({experiment_id!r}) to continue it."
            )

        self.db.write(update)

    def _require(self, conn: sqlite3.Connection, experiment_id: str) -> str:
        row = conn.execute("SELECT status FROM experiments WHERE id = ?", (experiment_id,))
        found = row.fetchone()
        if found is None:
            raise self._not_found(experiment_id)
        return found["status"]

    def _not_found(self, experiment_id: str) -> NotFoundError:
        return NotFoundError(f"No experiment {experiment_id!r} in {self.db.path}.")


def normalize_status(status: str) -> str:
    status = ALIASES.get(status, status)
    if status not in STATUSES:
        raise TrackingError(
            f"Unknown experiment status {status!r}; use one of {', '.join(STATUSES)} "
            "(or in_progress for running)."
        )
    return status


def experiment_dict(row: sqlite3.Row) -> dict[str, Any]:
    """A row as a dict: JSON columns decoded, metrics dicts never None, status as shown."""
    experiment = dict(row)
    for field in JSON_FIELDS:
        experiment[field] = db.loads(experiment[field])
    for field in ("final_metrics", "best_metrics"):
        experiment[field] = experiment[field] or {}
    experiment["status"] = shown_status(experiment)
    return experiment


def shown_status(experiment: dict[str, Any]) -> str:
    """``running`` becomes ``interrupted`` when its process is gone (same host) or its heartbeat
    is older than STALE_AFTER."""
    if experiment["status"] != "running":
        return experiment["status"]
    pid, beat = experiment.get("pid"), experiment.get("heartbeat") or experiment["start_time"]
    if pid and experiment.get("host") == socket.gethostname() and not pid_alive(pid):
        return "interrupted"
    if beat is None or db.now() - db.parse_time(beat) > STALE_AFTER:
        return "interrupted"
    return "running"


def pid_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def seed_metrics(experiment: dict[str, Any]) -> dict[str, Any]:
    """``{best_<key>: ..., final_<key>: ...}`` as in the usage guide."""
    best = {f"best_{k}": v for k, v in experiment["best_metrics"].items()}
    return best | {f"final_{k}": v for k, v in experiment["final_metrics"].items()}


def union(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """``{key: [row.get(key) for row in rows]}`` over every key of any row, first seen first."""
    keys = dict.fromkeys(key for row in rows for key in row)
    return {key: [row.get(key) for row in rows] for key in keys}


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat |= flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def git_commit() -> str | None:
    """HEAD of the git repository around the working directory, if any."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


