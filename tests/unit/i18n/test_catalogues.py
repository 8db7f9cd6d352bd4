"""The catalogues: complete in every language, consistent with the code, valid for Discord."""

from __future__ import annotations

import re
import string
from datetime import timedelta
from pathlib import Path

import pytest

from bot.guilds import messages as guild_messages
from bot.i18n.text import DEFAULT_LANGUAGE, LANGUAGES, Catalogue, Join, Text, catalogue, language
from bot.jobs import messages as job_messages
from bot.jobs import request_messages
from bot.members import messages as member_messages

ROOT = Path(__file__).resolve().parents[3]
SOURCES = sorted([*ROOT.glob("bot/**/*.py"), *ROOT.glob("cogs/**/*.py")])
#: A key written in the code: `Text("a.b")`, `Text(f"a.{x}")`, `command_text("a.b")`.
KEY_IN_CODE = re.compile(r'(?:Text|command_text)\(\s*(f?)"([a-z_][a-z0-9_.{}]*)"')
#: Discord's rule for command and option names (CHAT_INPUT), in Python's terms.
COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")
OTHERS = [lang for lang in LANGUAGES if lang != DEFAULT_LANGUAGE]


def placeholders(template: str | dict[str, str]) -> set[str]:
    forms = template.values() if isinstance(template, dict) else [template]
    return {name for form in forms for _, name, _, _ in string.Formatter().parse(form) if name}


def keys_in_code() -> list[tuple[str, str]]:
    """(pattern, file) for every key the code names; f-string parts become wildcards."""
    found = []
    for path in SOURCES:
        for is_f, key in KEY_IN_CODE.findall(path.read_text(encoding="utf-8")):
            pattern = re.sub(r"\\\{[^}]*\\\}", "[a-z0-9_]+", re.escape(key)) if is_f else None
            found.append((pattern or re.escape(key), path.name))
    return found


CAT = catalogue()
ENGLISH = CAT.templates[DEFAULT_LANGUAGE]


@pytest.mark.parametrize("lang", OTHERS)
def test_every_language_has_exactly_the_english_keys(lang: str) -> None:
    theirs = CAT.templates[lang]
    assert sorted(set(ENGLISH) - set(theirs)) == [], f"missing in {lang}.toml"
    assert sorted(set(theirs) - set(ENGLISH)) == [], f"unknown keys in {lang}.toml"


@pytest.mark.parametrize("lang", OTHERS)
def test_translations_keep_the_placeholders_and_plural_forms(lang: str) -> None:
    for key, english in ENGLISH.items():
        theirs = CAT.templates[lang][key]
        assert placeholders(theirs) == placeholders(english), key
        assert isinstance(theirs, dict) == isinstance(english, dict), key


def test_every_key_in_the_code_is_in_the_catalogue() -> None:
    missing = [
        (pattern, where)
        for pattern, where in keys_in_code()
        if not any(re.fullmatch(pattern, key) for key in ENGLISH)
    ]
    assert missing == []


def test_the_scan_reads_every_module_that_names_messages() -> None:
    modules = [*ROOT.glob("bot/**/*messages.py"), ROOT / "bot/i18n/common.py"]
    assert len(modules) >= 6  # jobs (two), guilds, members, remix, i18n's own
    for path in modules:
        assert path in SOURCES, path
        assert KEY_IN_CODE.findall(path.read_text(encoding="utf-8")), path


def test_every_catalogue_entry_is_used_by_the_code() -> None:
    patterns = [pattern for pattern, _ in keys_in_code()]
    unused = [key for key in ENGLISH if not any(re.fullmatch(p, key) for p in patterns)]
    assert unused == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_command_names_and_descriptions_are_valid_for_discord(lang: str) -> None:
    for key, template in CAT.templates[lang].items():
        if not key.startswith("command.") or not isinstance(template, str):
            continue
        if key.startswith("command.context."):  # a message command: any text, 1-32
            assert 1 <= len(template) <= 32, (key, template)
        elif key.endswith(".name") or ".option." in key or ".subcommand." in key:
            assert COMMAND_NAME.fullmatch(template), (key, template)
            assert template == template.lower(), (key, template)
        else:
            filled = CAT.fill(lang, template, {"low": 1000, "high": 1000})
            assert 1 <= len(filled) <= 100, (key, template)


def test_locales_map_to_languages_with_english_as_the_fallback() -> None:
    assert language("fr") == "fr"
    assert language("es-419") == language("es-ES") == "es"
    assert language("de") == "de"
    assert language("en-GB") == language("ja") == language(None) == "en"


def test_messages_render_in_the_readers_language() -> None:
    refusal = guild_messages.daily_limit(2, timedelta(hours=3))
    assert refusal.render("en-US").startswith("You've reached this server's daily limit of 2 clips")
    assert refusal.render("fr") != refusal.render("en-US")
    assert refusal.render("de") != refusal.render("en-US")
    assert refusal.render("es-ES") == refusal.render("es-419") != refusal.render("en-US")
    assert refusal.render("ja") == refusal.render("en-US")


def test_messages_name_commands_as_the_readers_client_lists_them() -> None:
    assert guild_messages.SWITCHED_OFF.render("en-US") == (
        "The admins of this server have switched `/animate` off for now."
    )
    assert "`/animer`" in guild_messages.SWITCHED_OFF.render("fr")
    assert "`/animieren`" in guild_messages.SWITCHED_OFF.render("de")
    assert "`/utilisation oublier`" in member_messages.CLIP_ERASED.render("fr")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_command_reference_is_a_command_or_option_name(lang: str) -> None:
    for key, template in CAT.templates[lang].items():
        for name in placeholders(template):
            if name.startswith("cmd["):
                named = CAT.fill(lang, "{" + name + "}", {})
                assert COMMAND_NAME.fullmatch(named), (key, name, named)
    with pytest.raises(KeyError):
        CAT.fill(lang, "{cmd[no-such-command]}", {})


def test_values_that_are_messages_render_in_the_same_language() -> None:
    text = request_messages.model_value("x", "duration", 3, request_messages.seconds_range(4, 12))
    for lang in LANGUAGES:
        assert request_messages.seconds_range(4, 12).render(lang) in text.render(lang)


def test_plural_forms_follow_each_languages_rules() -> None:
    cat = Catalogue({"en": {"n": {"one": "{count} clip", "other": "{count} clips"}}, "fr": {}})
    assert cat.render("en", Text("n", count=1)) == "1 clip"
    assert cat.render("en", Text("n", count=0)) == "0 clips"
    french = Catalogue({"en": {}, "fr": {"n": {"one": "{count} clip", "other": "{count} clips"}}})
    assert french.render("fr", Text("n", count=0)) == "0 clip"  # French counts 0 as one
    assert french.render("fr", Text("n", count=2)) == "2 clips"


def test_missing_translation_falls_back_to_english() -> None:
    cat = Catalogue({"en": {"k": "hello {name}"}, "fr": {}})
    assert cat.render("fr", Text("k", name="Ada")) == "hello Ada"
    assert cat.get("fr", "k") is None  # so Discord keeps the English command text


def test_joined_messages_render_part_by_part() -> None:
    joined = Join([job_messages.SUBMITTING, "plain"], " | ")
    assert joined.render("fr") == f"{job_messages.SUBMITTING.render('fr')} | plain"
