"""Command-line words as config overrides, including the flag style of W&B's sweep agent.

``wandb agent`` runs the sweep's ``command:`` with ``${args}`` expanded to ``--name=value`` (or
``--name value`` for ``${args_no_equals}``, ``name=value`` for ``${args_no_hyphens}``), where
`name` is the parameter name as the sweep file writes it: a dotted key
(``--training.learning_rate=3e-05``), the seed's flat name (``--learning_rate=3e-05``), a common
alias (``--lr``, ``--batch_size``, ``--epochs``) or a whole section holding a mapping (W&B's
nested parameters: ``--training={'learning_rate': 3e-05}``). :func:`normalize` turns every such
word into the ``section.key=value`` override the loader reads; a bare ``--flag`` means true.
Names that are no config key are reported together, each with the closest key.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable

import yaml

from toolkit.config.loader import flat_key_index, parse_scalar
from toolkit.config.schema import LIST_KEYS, SECTIONS
from toolkit.errors import ConfigError

# Names users bring from other trainers and sweep examples (W&B's own use batch_size, epochs, lr).
ALIASES = {
    "lr": "training.learning_rate",
    "batch_size": "training.per_device_train_batch_size",
    "train_batch_size": "training.per_device_train_batch_size",
    "eval_batch_size": "training.per_device_eval_batch_size",
    "epochs": "training.num_train_epochs",
    "num_epochs": "training.num_train_epochs",
    "evaluation_strategy": "training.eval_strategy",
}


def _flat_names() -> list[str]:
    return [*flat_key_index(), *ALIASES]


def config_key(name: str) -> str:
    """The dotted config key of `name`: dotted as written, a flat key name, or an alias.
    A top-level key (a section, `callbacks`) comes back unchanged."""
    if "." in name or name in SECTIONS or name in LIST_KEYS:
        return name
    if name in ALIASES:
        return ALIASES[name]
    sections = flat_key_index().get(name, [])
    if len(sections) == 1:
        return f"{sections[0]}.{name}"
    if sections:
        options = ", ".join(f"{s}.{name}" for s in sections)
        raise ConfigError([f"`{name}` is ambiguous; name one of {options}"])
    close = difflib.get_close_matches(name, _flat_names(), n=1)
    hint = f" (did you mean `{close[0]}`, i.e. {config_key(close[0])}?)" if close else ""
    raise ConfigError([f"`{name}` is not a config key{hint}; use a dotted key "
                       f"(training.learning_rate) or a key's own name (learning_rate)"])


def _numbers(node: object) -> object:
    """YAML reads 3e-05 (no dot) as text; W&B writes floats that way."""
    if isinstance(node, dict):
        return {k: _numbers(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_numbers(v) for v in node]
    return parse_scalar(node) if isinstance(node, str) else node


def _section_items(section: str, text: str) -> list[str]:
    """`section={'key': value, ...}` (a nested sweep parameter) as one override per key."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        value = None
    if not isinstance(value, dict):
        raise ConfigError([f"`--{section}` takes a mapping of its keys, such as "
                           f"--{section}={{'key': value}}; got {text!r}"])
    return [f"{section}.{key}={json.dumps(_numbers(inner), ensure_ascii=False)}"
            for key, inner in value.items()]


def override_items(name: str, text: str) -> list[str]:
    """`name=text` as `section.key=text` overrides (raises ConfigError for unknown names)."""
    key = config_key(name.replace("-", "_") if "." not in name else name)
    if key in SECTIONS:
        return _section_items(key, text)
    return [f"{key}={text}"]


def normalize(words: Iterable[str], own_options: Iterable[str] = ()) -> list[str]:
    """`words` with each flag-style or flat-name override rewritten as `section.key=value`, in
    order; the program's `own_options` (each followed by its value) are kept as they are."""
    words, own = list(words), tuple(own_options)
    out: list[str] = []
    problems: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        name, sep, text = word.partition("=")
        if word in ("-h", "--help") or name in own:
            out.append(word)
            if not sep and name in own and i < len(words):
                out.append(words[i])
                i += 1
            continue
        if word.startswith("--") and len(word) > 2:
            name = name[2:]
            if not sep:  # `--name value` (${args_no_equals}) or a bare boolean `--name`
                follows = i < len(words) and not words[i].startswith("--") and "=" not in words[i]
                text = words[i] if follows else "true"
                i += follows
        elif word.startswith("-") or not sep:
            out.append(word)  # argparse and the loader say what is wrong with it
            continue
        try:
            out.extend(override_items(name, text))
        except ConfigError as error:
            problems.extend(f"argument `{word}`: {p}" for p in error.problems)
    if problems:
        raise ConfigError(problems)
    return out
