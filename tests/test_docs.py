"""The README's config reference is generated from the schema and must not drift."""

from pathlib import Path

from toolkit.config.reference import reference_markdown

ROOT = Path(__file__).resolve().parent.parent


def test_readme_holds_the_current_config_reference():
    assert reference_markdown() in (ROOT / "README.md").read_text(encoding="utf-8"), (
        "regenerate the table: python -m toolkit.config.reference")


def test_readme_shows_the_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in text and "make test" in text
