"""The layering rules of the codebase, checked from the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot.bot import EXTENSIONS

ROOT = Path(__file__).resolve().parents[2]
BOT = ROOT / "bot"
COGS = ROOT / "cogs"
#: The only modules under bot/ that may speak Discord: the bot class, the composition root, and
#: the translator that hands Discord localized command names.
DISCORD_EDGE = {"bot/bot.py", "bot/__main__.py", "bot/i18n/translator.py"}
#: The features under bot/ and which others each may use. A feature's `model` (plain values)
#: may be used by any; everything else only along these arrows, so no two features lean on
#: each other. i18n is the machinery every feature's `messages` uses, and uses none of them.
FEATURE_DEPENDENCIES: dict[str, set[str]] = {
    "i18n": set(),
    "media": set(),
    "video": set(),
    "storage": {"i18n"},
    "guilds": {"i18n", "storage", "video"},
    "members": {"guilds", "i18n", "jobs", "storage"},
    "jobs": {"guilds", "i18n", "media", "storage", "video"},
    "remix": {"guilds", "i18n", "jobs", "media", "storage", "video"},
    "defaults": {"guilds", "i18n", "jobs", "storage", "video"},
    "ops": {"jobs", "storage", "video"},
}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _roots(path: Path) -> set[str]:
    return {name.split(".")[0] for name in _imports(path)}


CORE = sorted(
    str(p.relative_to(ROOT))
    for p in BOT.rglob("*.py")
    if str(p.relative_to(ROOT)) not in DISCORD_EDGE
)


@pytest.mark.parametrize("module", CORE)
def test_core_module_does_not_import_discord_or_cogs(module: str) -> None:
    roots = _roots(ROOT / module)
    assert "discord" not in roots
    assert "cogs" not in roots


def test_the_check_sees_imports() -> None:
    assert "discord" in _roots(BOT / "bot.py")
    assert "bot.jobs.model" in _imports(BOT / "jobs" / "service.py")


def test_every_top_level_cog_module_is_an_extension_and_every_extension_a_module() -> None:
    modules = {f"cogs.{p.stem}" for p in COGS.glob("*.py") if p.stem != "__init__"}
    assert modules == set(EXTENSIONS)


def test_no_module_imports_an_extension() -> None:
    # discord.py runs an extension as a fresh module when it loads it: a copy imported
    # elsewhere would be a second set of classes (say, buttons) beside the registered one.
    for path in [*BOT.rglob("*.py"), *COGS.rglob("*.py")]:
        imported = {name for name in _imports(path) if name in EXTENSIONS}
        assert imported == set(), path.relative_to(ROOT)


@pytest.mark.parametrize("feature", sorted(FEATURE_DEPENDENCIES))
def test_features_depend_only_on_what_they_are_allowed(feature: str) -> None:
    allowed = FEATURE_DEPENDENCIES[feature] | {feature}
    for path in (BOT / feature).rglob("*.py"):
        used = {
            parts[1]
            for parts in (name.split(".") for name in _imports(path))
            if parts[0] == "bot" and parts[1] in FEATURE_DEPENDENCIES and parts[-1] != "model"
        }
        assert used <= allowed, f"{path.relative_to(ROOT)} uses {sorted(used - allowed)}"


def test_no_two_features_depend_on_each_other_even_through_others() -> None:
    def reachable(feature: str) -> set[str]:
        seen: set[str] = set()
        todo = list(FEATURE_DEPENDENCIES[feature])
        while todo:
            other = todo.pop()
            if other not in seen:
                seen.add(other)
                todo.extend(FEATURE_DEPENDENCIES[other])
        return seen

    for feature in FEATURE_DEPENDENCIES:
        assert feature not in reachable(feature), feature
