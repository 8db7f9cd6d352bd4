"""The layering rules of the codebase, checked from the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[1] / "bot"
DISCORD_EDGE = {"bot.py", "__main__.py", "translator.py"}


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize(
    "module", sorted(p.name for p in BOT.glob("*.py") if p.name not in DISCORD_EDGE)
)
def test_core_module_does_not_import_discord_or_cogs(module: str) -> None:
    roots = _imported_roots(BOT / module)
    assert "discord" not in roots
    assert "cogs" not in roots


def test_the_check_sees_imports() -> None:
    assert "discord" in _imported_roots(BOT / "bot.py")
