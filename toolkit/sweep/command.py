"""A sweep's ``command:``, honoured by both backends as ``wandb agent`` would run it.

W&B runs ``command`` with its macros expanded (``${env}`` -> /usr/bin/env, ``${interpreter}``
-> python, ``${program}`` -> the sweep's program, ``${args}`` and its variants -> the trial's
parameters). Our trials take the same parts: the words before the program become the launch
prefix (``accelerate launch ...``; a bare interpreter means this Python), the program is the
trial's program, its ``--config`` is every trial's base config, and every other argument
(``section.key=value``, ``--key=value``, flat names) is a fixed override of every trial. What
toolkit/train.py cannot take is an error: ``${args_json}`` (one JSON word), the Hydra macros,
``--resume``, a command without the parameters macro.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.config.argv import normalize
from toolkit.errors import ConfigError
from toolkit.train import OWN_OPTIONS

# Macros that pass the parameters in a form toolkit/train.py reads (${args_json_file} after
# --params-file); the trials get them in a params file instead.
ARGS_MACROS = ("${args}", "${args_no_hyphens}", "${args_no_equals}", "${args_no_boolean_flags}",
               "${args_json_file}")
REFUSED = {"${args_json}": "toolkit/train.py takes no JSON word; use ${args} or "
                           "`--params-file ${args_json_file}`",
           "${args_append_hydra}": "toolkit/train.py is not a Hydra program; use ${args}",
           "${args_override_hydra}": "toolkit/train.py is not a Hydra program; use ${args}"}
MACRO = re.compile(r"\$\{[^}]*\}")
INTERPRETER = re.compile(r"python[\d.]*")
REPO = Path(__file__).resolve().parents[2]
DEFAULT = ("${env}", "${interpreter}", "${program}", "${args}")  # W&B's default command


@dataclass(frozen=True)
class Command:
    """What every trial takes from the sweep's command."""

    words: tuple[str, ...]  # as written, for W&B
    launch: tuple[str, ...] = ()  # words before the program; () means this Python
    program: str | None = None  # a program named in the command (else the sweep's `program`)
    config: str | None = None  # its --config
    overrides: tuple[str, ...] = ()  # its fixed arguments as section.key=value


def _split_program(words: list[str], problems: list[str]) -> int | None:
    for i, word in enumerate(words):
        if word == "${program}" or word.endswith(".py"):
            return i
    problems.append("the command names no program: put ${program} (the sweep's `program`) or "
                    "toolkit/train.py in it, e.g. [${env}, ${interpreter}, ${program}, ${args}]")
    return None


def _launch(before: list[str]) -> tuple[str, ...]:
    words = [w for w in before if w != "${env}"]
    if len(words) == 1 and (words[0] == "${interpreter}" or INTERPRETER.fullmatch(
            Path(words[0]).name)):
        return ()
    return tuple(words)


def _arguments(after: list[str], problems: list[str]) -> tuple[str | None, list[str]]:
    """(the --config value, the fixed overrides) of the words after the program."""
    words: list[str] = []
    for word in after:
        if word == "${args_json_file}":
            if not (words and words[-1] == "--params-file"):
                problems.append("${args_json_file} must follow --params-file (toolkit/train.py "
                                "reads the parameters from that file)")
            else:
                words.pop()
        elif word not in ARGS_MACROS:
            words.append(word)
    try:
        words = normalize(words, OWN_OPTIONS)
    except ConfigError as error:
        problems.extend(f"command: {p}" for p in error.problems)
        return None, []
    config, overrides = None, []
    pairs = iter(words)
    for word in pairs:
        name, sep, value = word.partition("=")
        if name in OWN_OPTIONS:
            value = value if sep else next(pairs, "")
            if name == "--config":
                config = value
            else:
                problems.append(f"the command's `{name}` cannot be honoured: every trial starts "
                                f"fresh with its own parameters; remove it")
        else:
            overrides.append(word)
    return config, overrides


def parse_command(raw: Any, problems: list[str]) -> Command | None:
    """The command's parts, or None (without one, W&B's default command applies)."""
    if raw is None:
        return None
    if not (isinstance(raw, list) and raw and all(isinstance(w, (str, int, float))
                                                  for w in raw)):
        problems.append(f"`command` must be a list of words, e.g. [${{env}}, ${{interpreter}}, "
                        f"${{program}}, --config, config/base_config.yaml, ${{args}}]; got {raw!r}")
        return None
    words = [str(w) for w in raw]
    before = len(problems)
    for word in words:
        for macro in MACRO.findall(word):
            if macro in REFUSED:
                problems.append(f"the command's {macro} cannot be honoured: {REFUSED[macro]}")
            elif macro not in (*DEFAULT, *ARGS_MACROS) or macro != word:
                problems.append(f"the command's `{word}` is not a W&B macro a trial can take; "
                                f"use {', '.join(DEFAULT)} or another ${{args...}} form as a "
                                f"word of its own")
    if not any(w in ARGS_MACROS for w in words):
        problems.append("the command has no ${args}: the trials would not get the sweep's "
                        "parameters; add ${args} after the program")
    index = _split_program(words, problems)
    if index is None or len(problems) > before:
        return None
    config, overrides = _arguments(words[index + 1:], problems)
    if len(problems) > before:
        return None
    program = None if words[index] == "${program}" else words[index]
    return Command(words=tuple(words), launch=_launch(words[:index]), program=program,
                   config=config, overrides=tuple(overrides))


def find_file(path: str) -> Path:
    """`path` as given, else relative to the toolkit's repository (where W&B's agent usually
    runs); as given when neither exists, so the error names it."""
    for candidate in (Path(path), REPO / path):
        if candidate.is_file():
            return candidate.resolve()
    return Path(path)
