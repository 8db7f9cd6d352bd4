"""The documentation names every setting the bot reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.jobs.model import TRANSITIONS, JobState
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("document", [".env.example", "README.md"])
def test_every_setting_is_documented(document: str) -> None:
    text = (ROOT / document).read_text(encoding="utf-8")
    missing = [name.upper() for name in Settings.model_fields if name.upper() not in text]
    assert missing == []


def test_the_readmes_state_table_is_the_code_s() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("<!-- transitions -->")[1].split("<!-- /transitions -->")[0]
    documented = {}
    for row in table.strip().splitlines()[2:]:
        state, targets = (cell.strip() for cell in row.strip("|").split("|"))
        documented[JobState(state.strip("`"))] = frozenset(
            JobState(target.strip(" `")) for target in targets.split(",") if target.strip() != "—"
        )
    assert documented == dict(TRANSITIONS)
