"""The container recipe, checked without a Docker engine: its environment names are settings,
the compose file parses, and the Dockerfile installs the bot as the README says."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = {name.upper() for name in Settings.model_fields}
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", dockerfile)
    found = []
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def pip_install_targets(command: str) -> list[str]:
    """What a `pip install` command installs: its arguments that are not options."""
    words = shlex.split(command)
    after = words[words.index("install") + 1 :]
    return [word for word in after if not word.startswith("-")]


def test_the_compose_file_parses_into_a_bot_service_with_a_volume_and_the_env_file() -> None:
    bot = compose()["services"]["bot"]

    assert bot["build"] == "."
    assert bot["env_file"] == ".env"
    assert any(volume.endswith(":/data") for volume in bot["volumes"])
    assert set(compose()["volumes"]) == {"bot-data"}


def test_every_environment_name_in_compose_is_a_setting() -> None:
    names = set()
    for service in compose()["services"].values():
        environment = service.get("environment", {})
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment)
        names |= set(environment)
    text = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    names |= set(re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", text))

    assert names
    assert names <= SETTINGS, names - SETTINGS


def test_every_environment_name_in_the_dockerfile_is_a_setting() -> None:
    names = set()
    for keyword, rest in instructions(DOCKERFILE):
        if keyword == "ENV":
            names |= {pair.split("=", 1)[0] for pair in shlex.split(rest)}
        names |= set(re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", rest))
        names |= set(re.findall(r"os\.environ\[['\"]([A-Z_][A-Z0-9_]*)", rest))

    assert names == {"DATABASE_URL", "METRICS_PORT"}
    assert names <= SETTINGS


def test_the_dockerfile_s_build_steps_are_the_readme_s() -> None:
    steps = [rest for keyword, rest in instructions(DOCKERFILE) if keyword == "RUN"]

    assert steps
    for step in steps:
        assert f"RUN {step}\n" in README, step


def test_the_dockerfile_installs_what_the_quick_start_installs() -> None:
    quick_start = README.split("## Quick start")[1].split("\n## ")[0]
    readme_install = re.search(r"pip install ([^&\n]+)", quick_start)
    image_install = next(
        rest for keyword, rest in instructions(DOCKERFILE) if keyword == "RUN" and "pip" in rest
    )

    assert readme_install is not None
    assert pip_install_targets("pip install " + readme_install.group(1)) == ["."]
    assert pip_install_targets(image_install) == ["."]


def test_the_image_runs_the_bot_as_a_user_with_its_data_in_a_volume() -> None:
    found = dict(instructions(DOCKERFILE))

    assert found["FROM"].startswith("python:3.11")
    assert found["USER"] == "bot"
    assert found["VOLUME"] == "/data"
    assert found["CMD"] == '["python", "-m", "bot"]'
    assert "/healthz" in found["HEALTHCHECK"]
