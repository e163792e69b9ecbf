"""The README's config reference, generated from the schema (one source for help text).

    python -m toolkit.config.reference   # prints the Markdown table
"""

from __future__ import annotations

import json
from dataclasses import MISSING, fields

from toolkit.config.schema import DEFAULT_CALLBACKS, SECTIONS


def _default(f) -> str:
    value = f.default_factory() if f.default is MISSING else f.default
    return json.dumps(value, ensure_ascii=False)


def reference_markdown() -> str:
    lines = ["| key | default | meaning |", "| --- | --- | --- |"]
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            meaning = f.metadata["help"]
            if "choices" in f.metadata:
                meaning += " One of: " + ", ".join(f"`{c}`" for c in f.metadata["choices"]) + "."
            lines.append(f"| `{section}.{f.name}` | `{_default(f)}` | {meaning} |")
    lines.append(f"| `callbacks` | `{json.dumps(DEFAULT_CALLBACKS)}` | Subscribers: built-in "
                 f"names, `{{name: ..., option: ...}}`, or `package.module:Class`. |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(reference_markdown())
