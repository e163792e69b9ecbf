"""The tracking database: one SQLite file shared by every run, safe for many writers.

WAL mode lets readers work while one process writes; every write is a short ``BEGIN IMMEDIATE``
transaction (it takes the write lock up front, so two writers never deadlock upgrading a read
lock), retried with backoff while another process holds the lock. The schema is created and
migrated by code: ``schema_version`` holds the version, and ``MIGRATIONS[n]`` turns version n-1
into version n, so a new file walks the same chain as an old one.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from toolkit.errors import ToolkitError

DEFAULT_DB_PATH = "experiments/toolkit.db"
SCHEMA_VERSION = 3
BUSY_TIMEOUT_S = 2.0  # SQLite's own wait for the lock, inside each attempt
LOCK_RETRIES = 6  # attempts after that, with exponential backoff (about 15 s in all)
MAXIMIZED = ("rouge", "accuracy", "bleu", "f1")

T = TypeVar("T")


class TrackingError(ToolkitError):
    """The tracking database cannot be opened, read or written."""


class NotFoundError(TrackingError):
    """No experiment or model with the given id."""


class SchemaMismatch(sqlite3.DatabaseError):
    """The file is an SQLite database, but not one this toolkit can migrate."""


def now() -> datetime:
    """The current time in UTC (one place to patch in tests)."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """ISO 8601 UTC with a Z, to the second: 2025-01-28T10:30:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def higher_is_better(key: str) -> bool:
    """Direction of a metric: ROUGE, accuracy, BLEU and F1 go up; loss and the rest go down."""
    return any(word in key.lower() for word in MAXIMIZED)


def dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def next_id(conn: sqlite3.Connection, table: str, prefix: str, moment: datetime) -> str:
    """``<prefix>_YYYYMMDD_NNN``, NNN counting per UTC day; call inside the write transaction."""
    stem = f"{prefix}_{moment.astimezone(UTC):%Y%m%d}_"
    (last,) = conn.execute(
        f"SELECT MAX(CAST(substr(id, ?) AS INTEGER)) FROM {table} WHERE id GLOB ?",
        (len(stem) + 1, stem + "*"),
    ).fetchone()
    return f"{stem}{(last or 0) + 1:03d}"


class Database:
    """A connection to the tracking file; ``read`` and ``write`` turn SQLite errors into
    :class:`TrackingError` messages that name the file and the fix."""

    def __init__(self, path: str | Path = DEFAULT_DB_PATH):
        self.path = Path(path).expanduser()
        self._lock = threading.RLock()  # one connection, shared by the threads of this process
        self._conn = self._retry(self._open)
        self._retry(lambda: migrate(self._conn))

    def read(self, sql: str, params: tuple | list = ()) -> list[sqlite3.Row]:
        return self.query(lambda conn: conn.execute(sql, params).fetchall())

    def query(self, action: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``action(conn)`` outside a write transaction, retried while locked."""
        return self._retry(lambda: action(self._conn))

    def write(self, action: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``action(conn)`` in one ``BEGIN IMMEDIATE`` transaction, retried while locked."""
        return self._retry(lambda: transaction(self._conn, action))

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise self._error(error) from error
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; WAL keeps it consistent
        return conn

    def _retry(self, operation: Callable[[], T]) -> T:
        for attempt in range(LOCK_RETRIES + 1):
            try:
                with self._lock:
                    return operation()
            except sqlite3.OperationalError as error:
                if not _is_locked(error) or attempt == LOCK_RETRIES:
                    raise self._error(error) from error
                time.sleep(min(2.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.5))
            except sqlite3.Error as error:
                raise self._error(error) from error
        raise AssertionError("unreachable")

    def _error(self, error: Exception) -> TrackingError:
        text = f"{type(error).__name__}: {error}"
        if isinstance(error, sqlite3.Error) and _is_locked(error):
            return TrackingError(
                f"The tracking database {self.path} stayed locked after {LOCK_RETRIES + 1} tries "
                f"({text}). Another process holds a long write transaction on it: close programs "
                "that keep it open for writing (a database browser, a stuck run), or point "
                "tracking.db_path (--db) to another file."
            )
        if isinstance(error, SchemaMismatch):
            return TrackingError(
                f"The tracking database {self.path} {error}. Upgrade the toolkit if the file is "
                "newer, or point tracking.db_path (--db) to another file."
            )
        if isinstance(error, sqlite3.DatabaseError) and "not a database" in str(error):
            return TrackingError(
                f"{self.path} is not an SQLite database ({text}). Move the file aside or point "
                "tracking.db_path (--db) to another file."
            )
        return TrackingError(
            f"Cannot use the tracking database {self.path} ({text}). Check that the path is a "
            "file, not a directory, that its directory exists or can be created and is writable, "
            "and that the disk has space; or point tracking.db_path (--db) to a writable location."
        )


def transaction(conn: sqlite3.Connection, action: Callable[[sqlite3.Connection], T]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = action(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


def _is_locked(error: sqlite3.Error) -> bool:
    text = str(error).lower()
    return "locked" in text or "busy" in text


# --- schema -------------------------------------------------------------------------------

SCHEMA_V1 = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE experiments (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT, status TEXT NOT NULL,
    start_time TEXT, end_time TEXT, config TEXT, config_hash TEXT, model_type TEXT,
    dataset_info TEXT, wandb_run_id TEXT, git_commit TEXT, library_versions TEXT, host TEXT,
    notes TEXT, final_metrics TEXT, best_metrics TEXT
);
CREATE TABLE metrics (
    id INTEGER PRIMARY KEY, experiment_id TEXT NOT NULL, key TEXT NOT NULL,
    step INTEGER NOT NULL, value REAL NOT NULL, time TEXT NOT NULL
);
CREATE INDEX metrics_experiment ON metrics (experiment_id, key);
CREATE TABLE models (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, version INTEGER NOT NULL, architecture TEXT,
    checkpoint TEXT, path TEXT, config TEXT, performance TEXT, training_info TEXT,
    experiment_id TEXT, created_time TEXT NOT NULL, UNIQUE (name, version)
);
INSERT INTO schema_version VALUES (0);
"""

SCHEMA_V2 = """
ALTER TABLE experiments ADD COLUMN pid INTEGER;
ALTER TABLE experiments ADD COLUMN heartbeat TEXT;
ALTER TABLE experiments ADD COLUMN tags TEXT;
ALTER TABLE experiments ADD COLUMN run_dir TEXT;
UPDATE experiments SET status = 'running' WHERE status = 'in_progress';
CREATE INDEX experiments_start ON experiments (start_time);
DELETE FROM metrics WHERE id NOT IN (
    SELECT MAX(id) FROM metrics GROUP BY experiment_id, key, step
);
DROP INDEX metrics_experiment;
CREATE UNIQUE INDEX metrics_point ON metrics (experiment_id, key, step);
CREATE TABLE metric_summary (
    experiment_id TEXT NOT NULL, key TEXT NOT NULL, best REAL, best_step INTEGER,
    last REAL, last_step INTEGER, PRIMARY KEY (experiment_id, key)
);
CREATE INDEX models_experiment ON models (experiment_id);
CREATE TABLE model_aliases (
    alias TEXT PRIMARY KEY, model_id TEXT NOT NULL, set_time TEXT NOT NULL
);
"""


# v3: the model as trained (architecture, parameter counts, dtype, precision, adapter settings)
SCHEMA_V3 = """
ALTER TABLE experiments ADD COLUMN model_info TEXT;
"""


def _migrate_to_v1(conn: sqlite3.Connection) -> None:
    _run_script(conn, SCHEMA_V1)


def _migrate_to_v2(conn: sqlite3.Connection) -> None:
    _run_script(conn, SCHEMA_V2)
    for row in conn.execute("SELECT DISTINCT experiment_id, key FROM metrics").fetchall():
        refresh_summary(conn, row["experiment_id"], row["key"])


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _migrate_to_v1, 2: _migrate_to_v2, 3: lambda conn: _run_script(conn, SCHEMA_V3),
}


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    # executescript would COMMIT the open transaction; run the statements one by one instead.
    for statement in filter(str.strip, script.split(";")):
        conn.execute(statement)


def schema_version(conn: sqlite3.Connection) -> int:
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "schema_version" in tables:
        return conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0
    if "experiments" in tables:
        raise SchemaMismatch("is not one of this toolkit: it has experiments but no schema_version")
    return 0


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the file to SCHEMA_VERSION in one transaction (re-checked under the write lock)."""
    if schema_version(conn) == SCHEMA_VERSION:
        return

    def upgrade(conn: sqlite3.Connection) -> None:
        version = schema_version(conn)
        if version > SCHEMA_VERSION:
            raise SchemaMismatch(
                f"has schema version {version}, newer than this toolkit's {SCHEMA_VERSION}"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[target](conn)
            conn.execute("UPDATE schema_version SET version = ?", (target,))

    transaction(conn, upgrade)


# --- metric summary -----------------------------------------------------------------------

def record_metric(
    conn: sqlite3.Connection, experiment_id: str, key: str, step: int, value: float, when: str
) -> None:
    """Insert (or replace) one point and update its best/last summary in the same transaction."""
    summary = conn.execute(
        "SELECT last_step FROM metric_summary WHERE experiment_id = ? AND key = ?",
        (experiment_id, key),
    ).fetchone()
    conn.execute(
        "INSERT OR REPLACE INTO metrics (experiment_id, key, step, value, time) "
        "VALUES (?, ?, ?, ?, ?)",
        (experiment_id, key, step, value, when),
    )
    if summary is not None and step <= summary["last_step"]:
        refresh_summary(conn, experiment_id, key)  # a replayed step may replace the best point
        return
    better = ">" if higher_is_better(key) else "<"
    conn.execute(
        f"""INSERT INTO metric_summary (experiment_id, key, best, best_step, last, last_step)
        VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (experiment_id, key) DO UPDATE SET
            best = CASE WHEN excluded.best {better} best THEN excluded.best ELSE best END,
            best_step = CASE WHEN excluded.best {better} best
                        THEN excluded.best_step ELSE best_step END,
            last = excluded.last, last_step = excluded.last_step""",
        (experiment_id, key, value, step, value, step),
    )


def refresh_summary(conn: sqlite3.Connection, experiment_id: str, key: str) -> None:
    """Recompute one key's summary from its points."""
    order = "DESC" if higher_is_better(key) else "ASC"
    where = "WHERE experiment_id = ? AND key = ?"
    best = conn.execute(
        f"SELECT value, step FROM metrics {where} ORDER BY value {order}, step LIMIT 1",
        (experiment_id, key),
    ).fetchone()
    last = conn.execute(
        f"SELECT value, step FROM metrics {where} ORDER BY step DESC LIMIT 1", (experiment_id, key)
    ).fetchone()
    conn.execute(
        "INSERT OR REPLACE INTO metric_summary VALUES (?, ?, ?, ?, ?, ?)",
        (experiment_id, key, best["value"], best["step"], last["value"], last["step"]),
    )
