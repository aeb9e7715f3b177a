"""The rooms' dependency direction (docs/architecture.md): generation and sandbox are leaves. Neither
imports builder's code, feedback's or training's, and they do not import each other (a foreign key
to another room's model, named as a string, is fine); feedback, which builder calls, does not call
builder back. No Django signal carries control flow."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LEAVES = {"generation": {"builder", "feedback", "training", "sandbox"},
          "sandbox": {"builder", "feedback", "training", "generation"},
          # builder records feedback (pairs, verdicts); feedback must not call back into builder.
          "feedback": {"builder", "training"}}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("room", sorted(LEAVES))
def test_a_leaf_room_imports_no_other_room(room):
    offences = []
    for path in sorted((ROOT / room).rglob("*.py")):
        for line, module in imported_modules(path):
            if module.split(".")[0] in LEAVES[room]:
                offences.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert offences == []


def test_no_django_signal_is_defined_or_connected_for_control_flow():
    offences = []
    for room in ("builder", "generation", "sandbox", "feedback", "training"):
        for path in sorted((ROOT / room).rglob("*.py")) if (ROOT / room).is_dir() else []:
            text = path.read_text()
            if any(mark in text for mark in ("django.dispatch", "django.db.models.signals", "@receiver")):
                offences.append(str(path.relative_to(ROOT)))
    assert offences == []


def test_the_checker_sees_an_import_it_must_refuse(tmp_path):
    bad = tmp_path / "runs.py"
    bad.write_text("from builder.versions import create_version\nimport sandbox.previews\n")
    assert [m for _, m in imported_modules(bad)] == ["builder.versions", "sandbox.previews"]
