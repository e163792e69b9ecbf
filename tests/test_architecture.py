"""The dependency rules of DESIGN.md, checked on the source: arrows point one way."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tests.helpers import ROOT

PACKAGE = ROOT / "toolkit"


def imported_modules(folder: str) -> dict[str, set[str]]:
    """Module file -> every `toolkit...` / third-party module it imports (lazily or not)."""
    found: dict[str, set[str]] = {}
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def offenders(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    return [f"{module} imports {name}" for module, names in imported_modules(folder).items()
            for name in sorted(names) if name.split(".")[0] in forbidden
            or any(name == f or name.startswith(f + ".") for f in forbidden)]


def test_the_engine_imports_no_subscriber_and_no_tracker() -> None:
    assert offenders("engine", ("toolkit.tracking", "toolkit.integrations", "toolkit.sweep",
                                "wandb", "mlflow", "tensorboard")) == []


def test_events_and_engine_do_not_import_each_other_backwards() -> None:
    assert offenders("events", ("toolkit.engine",)) == []


def test_lower_layers_do_not_reach_up() -> None:
    for folder in ("config", "data", "corpus", "models", "evaluation"):
        assert offenders(folder, ("toolkit.engine", "toolkit.sweep", "toolkit.tracking")) == []


@pytest.mark.parametrize("module", ["toolkit.config", "toolkit.sweep.spec", "toolkit.train"])
def test_validating_a_config_or_a_sweep_file_never_imports_torch(module: str) -> None:
    code = (f"import sys, {module}\n"
            "from toolkit.config import loader\n"
            "loader.resolve('config/base_config.yaml')\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_the_trainer_is_a_facade() -> None:
    lines = (PACKAGE / "engine" / "trainer.py").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 300
