"""ModelRegistry: trained models, numbered per name, searchable by performance, with aliases."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

from toolkit.tracking import db
from toolkit.tracking.db import DEFAULT_DB_PATH, Database, NotFoundError, TrackingError
from toolkit.tracking.tracker import union

MODEL_ID = re.compile(r"model_\d{8}_\d+")
JSON_FIELDS = ("config", "performance", "training_info")


class ModelRegistry:
    """Models in the tracking database. An alias (``best``, ``production``) names one model at a
    time: setting it again moves it."""

    def __init__(self, db_path: str | Path = DEFAULT_DB_PATH):
        self.db = Database(db_path)

    def register_model(
        self,
        name: str,
        architecture: str,
        checkpoint: str | None = None,
        config: dict[str, Any] | None = None,
        performance: dict[str, Any] | None = None,
        training_info: dict[str, Any] | None = None,
        file_path: str | Path | None = None,
        experiment_id: str | None = None,
    ) -> str:
        """Record a model as the next version of ``name``; return its id."""
        moment = db.now()

        def insert(conn: sqlite3.Connection) -> str:
            model_id = db.next_id(conn, "models", "model", moment)
            (version,) = conn.execute(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM models WHERE name = ?", (name,)
            ).fetchone()
            conn.execute(
                "INSERT INTO models (id, name, version, architecture, checkpoint, path, config, "
                "performance, training_info, experiment_id, created_time) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    model_id, name, version, architecture, checkpoint,
                    None if file_path is None else str(file_path), db.dumps(config),
                    db.dumps(performance), db.dumps(training_info), experiment_id, db.iso(moment),
                ),
            )
            return model_id

        return self.db.write(insert)

    def get_best_models(
        self, metric: str = "rouge_combined_f1", limit: int = 5, goal: str | None = None
    ) -> list[dict[str, Any]]:
        """Models that report ``metric``, best first: highest for goal ``max``, lowest for
        ``min``; without a goal, ROUGE/accuracy/BLEU/F1 keys rank highest first, others lowest."""
        if goal not in (None, "max", "min"):
            raise TrackingError(f"goal must be 'max' or 'min', not {goal!r}.")
        highest = db.higher_is_better(metric) if goal is None else goal == "max"
        scored = [m for m in self.search_models() if _number(m["performance"].get(metric))]
        scored.sort(key=lambda m: m["performance"][metric], reverse=highest)
        return scored[:limit]

    def search_models(
        self, architecture: str | None = None, min_performance: dict[str, float] | None = None
    ) -> list[dict[str, Any]]:
        """Newest first; ``min_performance`` keeps models with every listed metric >= its value."""
        sql, params = "SELECT * FROM models", ()
        if architecture is not None:
            sql, params = sql + " WHERE architecture = ?", (architecture,)
        models = self._models(sql + " ORDER BY created_time DESC, id DESC", params)
        floors = (min_performance or {}).items()
        return [
            m for m in models
            if all(_number(m["performance"].get(k)) and m["performance"][k] >= v for k, v in floors)
        ]

    def find_registered(self, file_path: str | Path, experiment_id: str | None
                        ) -> dict[str, Any] | None:
        """The newest model registered from `file_path` by this experiment, if any (a resumed
        run that ends with the same best/ must not add a version)."""
        models = self._models(
            "SELECT * FROM models WHERE path = ? AND experiment_id IS ? "
            "ORDER BY created_time DESC, id DESC LIMIT 1", (str(file_path), experiment_id))
        return models[0] if models else None

    def get_model_info(self, model_id: str) -> dict[str, Any]:
        """One model (id or alias) with config, performance and training_info as dicts."""
        return self._models("SELECT * FROM models WHERE id = ?", (self.resolve(model_id),))[0]

    def compare_models(self, model_ids: list[str]) -> dict[str, list[Any]]:
        """``{metric: [value per model, None where missing]}`` over the union of metrics."""
        return union([self.get_model_info(i)["performance"] for i in model_ids])

    def set_alias(self, model_id: str, alias: str) -> None:
        """Point ``alias`` at the model, moving it from any other model."""
        if not alias or MODEL_ID.fullmatch(alias):
            raise TrackingError(f"Alias {alias!r} must be non-empty and not look like a model id.")

        def move(conn: sqlite3.Connection) -> None:
            target = self._resolve(conn, model_id)
            conn.execute(
                "INSERT OR REPLACE INTO model_aliases VALUES (?, ?, ?)",
                (alias, target, db.iso(db.now())),
            )

        self.db.write(move)

    def resolve(self, id_or_alias: str) -> str:
        """The model id for an id or an alias."""
        return self.db.query(lambda conn: self._resolve(conn, id_or_alias))

    def _resolve(self, conn: sqlite3.Connection, id_or_alias: str) -> str:
        row = conn.execute(
            "SELECT id FROM models WHERE id = ? UNION ALL "
            "SELECT model_id FROM model_aliases WHERE alias = ?",
            (id_or_alias, id_or_alias),
        ).fetchone()
        if row is None:
            raise self._not_found(id_or_alias)
        return row[0]

    def _models(self, sql: str, params: tuple) -> list[dict[str, Any]]:
        aliases: dict[str, list[str]] = {}
        for row in self.db.read("SELECT alias, model_id FROM model_aliases ORDER BY alias"):
            aliases.setdefault(row["model_id"], []).append(row["alias"])
        models = []
        for row in self.db.read(sql, params):
            model = dict(row)
            for field in JSON_FIELDS:
                model[field] = db.loads(model[field])
            model["performance"] = model["performance"] or {}
            model["aliases"] = aliases.get(model["id"], [])
            models.append(model)
        return models

    def _not_found(self, id_or_alias: str) -> NotFoundError:
        return NotFoundError(f"No model or alias {id_or_alias!r} in {self.db.path}.")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
