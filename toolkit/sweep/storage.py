"""Where a local sweep's Optuna study lives: a journal file (the default, in the study
directory, or on a disk every node mounts) or an RDB URL every worker reaches."""

from __future__ import annotations

from pathlib import Path

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend

from toolkit.errors import ToolkitError

JOURNAL = "study.journal"


def make_storage(url: str | None, study_dir: Path) -> BaseStorage:
    """The study's storage: an RDB URL (``sqlite:///...``, ``postgresql://...``), a journal
    file, or (None) the journal file in `study_dir`."""
    if url is None or "://" not in url:
        path = Path(url) if url else study_dir / JOURNAL
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    try:
        return RDBStorage(url)
    except (ImportError, ValueError) as error:
        raise ToolkitError(f"--storage {url} cannot be opened: {error}. An RDB URL needs its "
                           f"database driver installed (postgresql: pip install psycopg2-binary;"
                           f" mysql: pip install pymysql); or pass a journal file path on a disk "
                           f"every node mounts") from None
    except Exception as error:  # sqlalchemy's connection errors
        raise ToolkitError(f"--storage {url} cannot be reached: {type(error).__name__}: "
                           f"{error}".splitlines()[0]) from None


def load_existing(study_dir: Path, url: str | None = None, name: str | None = None
                  ) -> optuna.Study:
    """A sweep's study: `name` (or the only one) in storage `url`, or in `study_dir`'s
    journal."""
    if url is None and not (study_dir / JOURNAL).is_file():
        raise ToolkitError(f"{study_dir} holds no sweep study ({JOURNAL} is missing); pass the "
                           f"--study-dir of a local sweep, the sweep YAML it ran, or its "
                           f"--storage")
    storage = make_storage(url, study_dir)
    names = optuna.get_all_study_names(storage)
    if name is None and len(names) == 1:
        name = names[0]
    if name not in names:
        raise ToolkitError(f"the storage holds no sweep `{name}`; it holds "
                           f"{', '.join(names) or 'none'}: pass the sweep YAML of one of them")
    return optuna.load_study(study_name=name, storage=storage)
