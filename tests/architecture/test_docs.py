"""What a newcomer reads first stays true: the README's commands and its settings table."""

from __future__ import annotations

from pathlib import Path

from stack.settings_doc import all_env_names, updated_readme

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_starts_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    first_block = text[text.index("```") : text.index("```", text.index("```") + 3)]
    assert "make up" in first_block
    assert "make test" in first_block


def test_the_settings_table_is_generated_from_the_code():
    text = (ROOT / "README.md").read_text()
    assert updated_readme(text) == text, "run `python -m stack.settings_doc` to refresh the README table"


def test_every_setting_appears_once_in_the_readme():
    text = (ROOT / "README.md").read_text()
    for process, names in all_env_names().items():
        for name in names:
            assert text.count(f"| `{name}` |") == 1, f"{process}: {name}"


def test_ci_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_every_setting_says_what_it_is_for():
    from stack.settings_doc import settings_classes

    for process, cls in settings_classes().items():
        for name, info in cls.model_fields.items():
            assert info.description, f"{process}.{name} has no description"
